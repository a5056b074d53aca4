build-b/obj/common/tools/argo-ping.o: common/tools/argo-ping.c \
 common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 common/tools/tool_util.h
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/tools/tool_util.h:
