build-b/obj/relay/link.o: relay/link.c relay/link.h relay/config.h \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 common/link/transport.h common/link/wire.h common/util/evloop.h \
 common/link/frames.h common/link/session.h common/link/auth.h \
 common/link/msg.h relay/router.h relay/routes.h common/link/session.h \
 common/link/stream.h common/link/msg.h common/util/clock.h relay/log.h
relay/link.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
common/util/evloop.h:
common/link/frames.h:
common/link/session.h:
common/link/auth.h:
common/link/msg.h:
relay/router.h:
relay/routes.h:
common/link/session.h:
common/link/stream.h:
common/link/msg.h:
common/util/clock.h:
relay/log.h:
