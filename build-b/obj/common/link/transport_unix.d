build-b/obj/common/link/transport_unix.o: common/link/transport_unix.c \
 common/link/transport.h
common/link/transport.h:
