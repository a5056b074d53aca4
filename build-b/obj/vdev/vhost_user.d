build-b/obj/vdev/vhost_user.o: vdev/vhost_user.c vdev/vdev.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h
vdev/vdev.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
