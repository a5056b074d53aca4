build-b/obj/common/link/msg.o: common/link/msg.c common/link/msg.h \
 common/link/wire.h common/include/argo/abi.h common/util/debug.h
common/link/msg.h:
common/link/wire.h:
common/include/argo/abi.h:
common/util/debug.h:
