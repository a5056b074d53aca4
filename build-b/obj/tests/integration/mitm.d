build-b/obj/tests/integration/mitm.o: tests/integration/mitm.c \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 common/link/wire.h
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/wire.h:
