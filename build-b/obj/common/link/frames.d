build-b/obj/common/link/frames.o: common/link/frames.c \
 common/link/frames.h common/link/session.h common/link/auth.h \
 common/link/wire.h common/include/argo/abi.h
common/link/frames.h:
common/link/session.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
