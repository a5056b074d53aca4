build-b/obj/tests/unit/test_vmsg.o: tests/unit/test_vmsg.c vdev/vmsg.h \
 l1/include/uapi/linux/virtio_argo.h tests/unit/../cunit_main.h
vdev/vmsg.h:
l1/include/uapi/linux/virtio_argo.h:
tests/unit/../cunit_main.h:
