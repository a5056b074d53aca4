build-b/obj/tests/unit/test_session.o: tests/unit/test_session.c \
 common/link/frames.h common/link/session.h common/link/auth.h \
 common/link/wire.h common/include/argo/abi.h common/link/session.h \
 tests/unit/../cunit_main.h
common/link/frames.h:
common/link/session.h:
common/link/auth.h:
common/link/wire.h:
common/include/argo/abi.h:
common/link/session.h:
tests/unit/../cunit_main.h:
