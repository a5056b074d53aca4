build-b/obj/l0/simd_epoll.o: l0/simd_epoll.c l0/simd.h l0/sim_fabric.h \
 common/include/argo/abi.h l0/sim_policy.h common/libargo/sim_proto.h \
 l0/simd_config.h
l0/simd.h:
l0/sim_fabric.h:
common/include/argo/abi.h:
l0/sim_policy.h:
common/libargo/sim_proto.h:
l0/simd_config.h:
