build-b/obj/common/libargo/ring.o: common/libargo/ring.c \
 common/include/argo/ring.h common/include/argo/abi.h
common/include/argo/ring.h:
common/include/argo/abi.h:
