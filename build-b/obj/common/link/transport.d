build-b/obj/common/link/transport.o: common/link/transport.c \
 common/link/transport.h
common/link/transport.h:
