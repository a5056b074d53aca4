build-b/obj/relay/fabric_in.o: relay/fabric_in.c relay/fabric_in.h \
 relay/config.h common/link/auth.h common/link/wire.h \
 common/include/argo/abi.h common/link/transport.h common/link/wire.h \
 common/link/msg.h relay/ports.h common/include/argo/argo.h \
 common/include/argo/ring.h common/util/strbuf.h relay/router.h \
 relay/routes.h common/include/argo/routed.h relay/log.h
relay/fabric_in.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
common/link/msg.h:
relay/ports.h:
common/include/argo/argo.h:
common/include/argo/ring.h:
common/util/strbuf.h:
relay/router.h:
relay/routes.h:
common/include/argo/routed.h:
relay/log.h:
