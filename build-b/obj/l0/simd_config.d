build-b/obj/l0/simd_config.o: l0/simd_config.c l0/simd_config.h \
 common/include/argo/abi.h l0/sim_policy.h
l0/simd_config.h:
common/include/argo/abi.h:
l0/sim_policy.h:
