build-b/obj/common/libargo/libargo.o: common/libargo/libargo.c \
 common/libargo/fabric.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h
common/libargo/fabric.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
