build-b/obj/common/libargo/backend_sim.o: common/libargo/backend_sim.c \
 common/libargo/fabric.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 common/libargo/sim_proto.h
common/libargo/fabric.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/libargo/sim_proto.h:
