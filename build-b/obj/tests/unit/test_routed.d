build-b/obj/tests/unit/test_routed.o: tests/unit/test_routed.c \
 common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 tests/unit/../cunit_main.h
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
tests/unit/../cunit_main.h:
