build-b/obj/common/tools/argo-bench.o: common/tools/argo-bench.c \
 common/include/argo/routed.h common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 common/tools/bench_hist.h common/tools/tool_util.h
common/include/argo/routed.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
common/tools/bench_hist.h:
common/tools/tool_util.h:
