build-b/obj/tests/unit/test_bench_hist.o: tests/unit/test_bench_hist.c \
 common/tools/bench_hist.h tests/unit/../cunit_main.h
common/tools/bench_hist.h:
tests/unit/../cunit_main.h:
