build-b/obj/relay/relayctl.o: relay/relayctl.c
