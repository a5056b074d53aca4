build-b/obj/vdev/vdevd.o: vdev/vdevd.c vdev/vdev.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h
vdev/vdev.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
