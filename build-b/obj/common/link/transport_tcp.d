build-b/obj/common/link/transport_tcp.o: common/link/transport_tcp.c \
 common/link/transport.h
common/link/transport.h:
