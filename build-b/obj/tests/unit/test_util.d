build-b/obj/tests/unit/test_util.o: tests/unit/test_util.c \
 common/util/bytes.h common/util/clock.h common/util/evloop.h \
 common/util/parse.h common/util/strbuf.h tests/unit/../cunit_main.h
common/util/bytes.h:
common/util/clock.h:
common/util/evloop.h:
common/util/parse.h:
common/util/strbuf.h:
tests/unit/../cunit_main.h:
