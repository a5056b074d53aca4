build-b/obj/relay/relayd.o: relay/relayd.c common/link/auth.h \
 common/link/wire.h common/include/argo/abi.h common/util/clock.h \
 common/util/debug.h relay/log.h relay/relay.h common/include/argo/argo.h \
 common/include/argo/ring.h relay/config.h common/link/transport.h \
 common/link/wire.h relay/control.h relay/dedup.h common/link/msg.h \
 common/util/strbuf.h common/util/evloop.h relay/fabric_in.h \
 relay/ports.h relay/router.h relay/routes.h relay/fabric_out.h \
 relay/link.h common/link/frames.h common/link/session.h \
 common/link/auth.h common/link/session.h common/link/stream.h \
 common/link/msg.h
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/util/clock.h:
common/util/debug.h:
relay/log.h:
relay/relay.h:
common/include/argo/argo.h:
common/include/argo/ring.h:
relay/config.h:
common/link/transport.h:
common/link/wire.h:
relay/control.h:
relay/dedup.h:
common/link/msg.h:
common/util/strbuf.h:
common/util/evloop.h:
relay/fabric_in.h:
relay/ports.h:
relay/router.h:
relay/routes.h:
relay/fabric_out.h:
relay/link.h:
common/link/frames.h:
common/link/session.h:
common/link/auth.h:
common/link/session.h:
common/link/stream.h:
common/link/msg.h:
