build-b/obj/l0/sim_policy.o: l0/sim_policy.c l0/sim_policy.h \
 common/include/argo/abi.h
l0/sim_policy.h:
common/include/argo/abi.h:
