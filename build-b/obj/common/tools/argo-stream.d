build-b/obj/common/tools/argo-stream.o: common/tools/argo-stream.c \
 common/tools/tool_util.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h
common/tools/tool_util.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
