build-b/obj/relay/routes.o: relay/routes.c relay/routes.h relay/config.h \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 common/link/transport.h common/link/wire.h
relay/routes.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
