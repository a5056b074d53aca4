build-b/obj/common/tools/argo-echo.o: common/tools/argo-echo.c \
 common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 common/tools/tool_util.h
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/tools/tool_util.h:
