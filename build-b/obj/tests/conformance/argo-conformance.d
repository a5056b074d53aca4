build-b/obj/tests/conformance/argo-conformance.o: \
 tests/conformance/argo-conformance.c common/tools/tool_util.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h tests/conformance/remote_peer.h
common/tools/tool_util.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
tests/conformance/remote_peer.h:
