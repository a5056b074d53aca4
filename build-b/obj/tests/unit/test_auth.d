build-b/obj/tests/unit/test_auth.o: tests/unit/test_auth.c \
 common/link/auth.h common/link/wire.h common/include/argo/abi.h \
 tests/unit/../cunit_main.h
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
tests/unit/../cunit_main.h:
