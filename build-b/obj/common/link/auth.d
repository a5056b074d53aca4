build-b/obj/common/link/auth.o: common/link/auth.c common/link/auth.h \
 common/link/wire.h common/include/argo/abi.h
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
