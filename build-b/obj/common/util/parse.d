build-b/obj/common/util/parse.o: common/util/parse.c common/util/parse.h
common/util/parse.h:
