build-b/obj/tests/vdev/vdev-bench.o: tests/vdev/vdev-bench.c vdev/vdev.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h tests/vdev/vdrv.h vdev/vmsg.h
vdev/vdev.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
tests/vdev/vdrv.h:
vdev/vmsg.h:
