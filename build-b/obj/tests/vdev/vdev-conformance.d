build-b/obj/tests/vdev/vdev-conformance.o: tests/vdev/vdev-conformance.c \
 tests/vdev/vdrv.h common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h tests/vdev/../cunit_main.h
tests/vdev/vdrv.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
tests/vdev/../cunit_main.h:
