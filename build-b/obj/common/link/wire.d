build-b/obj/common/link/wire.o: common/link/wire.c common/link/wire.h \
 common/include/argo/abi.h common/util/bytes.h
common/link/wire.h:
common/include/argo/abi.h:
common/util/bytes.h:
