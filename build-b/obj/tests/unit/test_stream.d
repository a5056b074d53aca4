build-b/obj/tests/unit/test_stream.o: tests/unit/test_stream.c \
 common/link/stream.h common/link/msg.h common/link/wire.h \
 common/include/argo/abi.h tests/unit/../cunit_main.h
common/link/stream.h:
common/link/msg.h:
common/link/wire.h:
common/include/argo/abi.h:
tests/unit/../cunit_main.h:
