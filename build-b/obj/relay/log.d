build-b/obj/relay/log.o: relay/log.c relay/log.h
relay/log.h:
