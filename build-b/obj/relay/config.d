build-b/obj/relay/config.o: relay/config.c common/include/argo/ring.h \
 common/include/argo/abi.h relay/config.h common/link/auth.h \
 common/link/wire.h common/link/transport.h common/link/wire.h \
 common/util/parse.h
common/include/argo/ring.h:
common/include/argo/abi.h:
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/link/transport.h:
common/link/wire.h:
common/util/parse.h:
