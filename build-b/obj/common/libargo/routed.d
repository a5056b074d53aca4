build-b/obj/common/libargo/routed.o: common/libargo/routed.c \
 common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h common/util/bytes.h
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/util/bytes.h:
