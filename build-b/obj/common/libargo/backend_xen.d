build-b/obj/common/libargo/backend_xen.o: common/libargo/backend_xen.c \
 l1/include/uapi/linux/argo_dev.h common/libargo/fabric.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h
l1/include/uapi/linux/argo_dev.h:
common/libargo/fabric.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
