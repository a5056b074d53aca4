build-b/obj/tests/conformance/remote_peer.o: \
 tests/conformance/remote_peer.c common/libargo/fabric.h \
 common/include/argo/argo.h common/include/argo/abi.h \
 common/include/argo/ring.h tests/conformance/peer_proto.h \
 tests/conformance/remote_peer.h
common/libargo/fabric.h:
common/include/argo/argo.h:
common/include/argo/abi.h:
common/include/argo/ring.h:
tests/conformance/peer_proto.h:
tests/conformance/remote_peer.h:
