build-b/obj/tests/conformance/argo-conformance-peer.o: \
 tests/conformance/argo-conformance-peer.c common/include/argo/argo.h \
 common/include/argo/abi.h common/include/argo/ring.h \
 tests/conformance/peer_proto.h
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
tests/conformance/peer_proto.h:
