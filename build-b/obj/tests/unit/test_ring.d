build-b/obj/tests/unit/test_ring.o: tests/unit/test_ring.c \
 common/include/argo/ring.h common/include/argo/abi.h \
 tests/unit/../cunit_main.h
common/include/argo/ring.h:
common/include/argo/abi.h:
tests/unit/../cunit_main.h:
