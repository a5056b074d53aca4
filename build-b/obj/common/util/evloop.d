build-b/obj/common/util/evloop.o: common/util/evloop.c \
 common/util/evloop.h common/util/clock.h
common/util/evloop.h:
common/util/clock.h:
