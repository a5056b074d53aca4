build-b/obj/vdev/config.o: vdev/config.c common/include/argo/ring.h \
 common/include/argo/abi.h vdev/vdev.h common/include/argo/argo.h \
 vdev/vmsg.h l1/include/uapi/linux/virtio_argo.h
common/include/argo/ring.h:
common/include/argo/abi.h:
vdev/vdev.h:
common/include/argo/argo.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
