build-b/obj/tests/unit/test_relay_config.o: \
 tests/unit/test_relay_config.c relay/config.h common/link/auth.h \
 common/link/wire.h common/include/argo/abi.h common/link/transport.h \
 common/link/wire.h tests/unit/../cunit_main.h
relay/config.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/transport.h:
common/link/wire.h:
tests/unit/../cunit_main.h:
