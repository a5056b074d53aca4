build-b/obj/tests/unit/test_sim_fabric.o: tests/unit/test_sim_fabric.c \
 common/include/argo/ring.h common/include/argo/abi.h l0/sim_fabric.h \
 l0/sim_policy.h tests/unit/../cunit_main.h l0/sim_policy.h
common/include/argo/ring.h:
common/include/argo/abi.h:
l0/sim_fabric.h:
l0/sim_policy.h:
tests/unit/../cunit_main.h:
l0/sim_policy.h:
