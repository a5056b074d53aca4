build-b/obj/tests/conformance/peer_wire.o: tests/conformance/peer_wire.c \
 tests/conformance/peer_proto.h common/include/argo/abi.h
tests/conformance/peer_proto.h:
common/include/argo/abi.h:
