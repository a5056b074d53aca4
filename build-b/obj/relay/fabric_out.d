build-b/obj/relay/fabric_out.o: relay/fabric_out.c relay/fabric_out.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h relay/config.h common/link/auth.h \
 common/link/wire.h common/link/transport.h common/link/wire.h \
 relay/dedup.h common/link/msg.h common/util/strbuf.h relay/ports.h \
 relay/router.h relay/routes.h common/include/argo/routed.h
relay/fabric_out.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/link/transport.h:
common/link/wire.h:
relay/dedup.h:
common/link/msg.h:
common/util/strbuf.h:
relay/ports.h:
relay/router.h:
relay/routes.h:
common/include/argo/routed.h:
