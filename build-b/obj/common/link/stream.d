build-b/obj/common/link/stream.o: common/link/stream.c \
 common/link/stream.h common/link/msg.h common/link/wire.h \
 common/include/argo/abi.h common/util/debug.h
common/link/stream.h:
common/link/msg.h:
common/link/wire.h:
common/include/argo/abi.h:
common/util/debug.h:
