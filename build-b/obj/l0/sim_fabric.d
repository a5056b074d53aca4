build-b/obj/l0/sim_fabric.o: l0/sim_fabric.c l0/sim_fabric.h \
 common/include/argo/abi.h l0/sim_policy.h common/include/argo/ring.h
l0/sim_fabric.h:
common/include/argo/abi.h:
l0/sim_policy.h:
common/include/argo/ring.h:
