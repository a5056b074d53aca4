build-b/obj/relay/ports.o: relay/ports.c relay/ports.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h relay/config.h common/link/auth.h \
 common/link/wire.h common/link/transport.h common/link/wire.h \
 common/util/strbuf.h common/include/argo/routed.h common/util/clock.h \
 relay/log.h
relay/ports.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/link/transport.h:
common/link/wire.h:
common/util/strbuf.h:
common/include/argo/routed.h:
common/util/clock.h:
relay/log.h:
