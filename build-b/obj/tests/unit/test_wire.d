build-b/obj/tests/unit/test_wire.o: tests/unit/test_wire.c \
 common/link/wire.h common/include/argo/abi.h tests/unit/../cunit_main.h
common/link/wire.h:
common/include/argo/abi.h:
tests/unit/../cunit_main.h:
