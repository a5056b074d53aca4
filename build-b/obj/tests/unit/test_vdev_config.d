build-b/obj/tests/unit/test_vdev_config.o: tests/unit/test_vdev_config.c \
 vdev/vdev.h common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h tests/unit/../cunit_main.h
vdev/vdev.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
tests/unit/../cunit_main.h:
