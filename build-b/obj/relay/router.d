build-b/obj/relay/router.o: relay/router.c relay/router.h relay/config.h \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 common/link/transport.h common/link/wire.h common/link/msg.h \
 relay/routes.h common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/ring.h common/util/clock.h relay/log.h
relay/router.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
common/link/msg.h:
relay/routes.h:
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/ring.h:
common/util/clock.h:
relay/log.h:
