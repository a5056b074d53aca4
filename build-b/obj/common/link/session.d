build-b/obj/common/link/session.o: common/link/session.c \
 common/link/session.h common/link/auth.h common/link/wire.h \
 common/include/argo/abi.h
common/link/session.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
