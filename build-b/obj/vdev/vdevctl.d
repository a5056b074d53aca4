build-b/obj/vdev/vdevctl.o: vdev/vdevctl.c
