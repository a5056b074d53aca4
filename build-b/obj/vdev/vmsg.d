build-b/obj/vdev/vmsg.o: vdev/vmsg.c vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
