build-b/obj/common/util/strbuf.o: common/util/strbuf.c \
 common/util/strbuf.h
common/util/strbuf.h:
