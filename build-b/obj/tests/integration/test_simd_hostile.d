build-b/obj/tests/integration/test_simd_hostile.o: \
 tests/integration/test_simd_hostile.c common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 common/libargo/sim_proto.h tests/integration/../cunit_main.h
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/libargo/sim_proto.h:
tests/integration/../cunit_main.h:
