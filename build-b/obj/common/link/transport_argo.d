build-b/obj/common/link/transport_argo.o: common/link/transport_argo.c \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h common/util/clock.h common/util/parse.h \
 common/link/transport.h
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/util/clock.h:
common/util/parse.h:
common/link/transport.h:
