build-b/obj/relay/dedup.o: relay/dedup.c relay/config.h \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 common/link/transport.h common/link/wire.h relay/dedup.h \
 common/include/argo/argo.h common/include/argo/ring.h common/link/msg.h \
 common/util/strbuf.h relay/log.h
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
relay/dedup.h:
common/include/argo/argo.h:
common/include/argo/ring.h:
common/link/msg.h:
common/util/strbuf.h:
relay/log.h:
