build-b/obj/common/link/transport_serial.o: \
 common/link/transport_serial.c common/link/transport.h
common/link/transport.h:
