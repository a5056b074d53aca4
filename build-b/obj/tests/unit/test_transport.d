build-b/obj/tests/unit/test_transport.o: tests/unit/test_transport.c \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h common/link/transport.h \
 tests/unit/../cunit_main.h
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/link/transport.h:
tests/unit/../cunit_main.h:
