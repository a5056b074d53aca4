build-b/obj/l0/simd_proto.o: l0/simd_proto.c l0/simd_proto.h \
 common/include/argo/abi.h l0/sim_fabric.h l0/sim_policy.h \
 common/libargo/sim_proto.h
l0/simd_proto.h:
common/include/argo/abi.h:
l0/sim_fabric.h:
l0/sim_policy.h:
common/libargo/sim_proto.h:
