build-b/obj/common/link/transport_vsock.o: common/link/transport_vsock.c \
 common/util/parse.h common/link/transport.h
common/util/parse.h:
common/link/transport.h:
