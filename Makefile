# argo-relay: top-level build. Everything is built under $(BUILD).
#
#   make            build the libraries and programs
#   make demo       install what is missing, build, run the sim demo
#   make check      install what is missing, build, run every test
#                   (also under ASan/UBSan) and cppcheck
#   make clean
#
# Variables: BUILD (output folder), SAN=1 (build with sanitizers).

BUILD ?= build
SAN ?= 0

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fno-strict-aliasing \
	  -Icommon/include -Icommon -Il0
LDLIBS += -lpthread
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
endif

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

LIBARGO_SRC := common/ring.c common/libargo.c common/backend_sim.c
SIMFABRIC_SRC := l0/sim_fabric.c l0/sim_policy.c

LIBARGO := $(BUILD)/lib/libargo.a
LIBSIMFABRIC := $(BUILD)/lib/libsimfabric.a

PROGRAMS := $(BIN)/argo-simd $(BIN)/argo-conformance $(BIN)/argo-ping $(BIN)/argo-echo
TESTS := $(BIN)/test-ring $(BIN)/test-sim-fabric $(BIN)/test-simd-hostile

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

.PHONY: all deps demo check test test-san cppcheck clean format
all: $(PROGRAMS) $(TESTS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIBARGO): $(call obj,$(LIBARGO_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(LIBSIMFABRIC): $(call obj,$(SIMFABRIC_SRC) common/ring.c)
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/argo-simd: $(call obj,l0/simd.c l0/simd_config.c) $(LIBSIMFABRIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih $(LDLIBS) -o $@

$(BIN)/argo-conformance: $(call obj,tests/conformance/argo-conformance.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-ping: $(call obj,common/tools/argo-ping.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-echo: $(call obj,common/tools/argo-echo.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/test-ring: $(call obj,tests/unit/test_ring.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-sim-fabric: $(call obj,tests/unit/test_sim_fabric.c) $(LIBSIMFABRIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-simd-hostile: $(call obj,tests/integration/test_simd_hostile.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

deps:
	@harness/install-deps.sh base

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) harness/demo.sh

# The whole suite: a plain build, then the same tests under ASan/UBSan,
# then cppcheck. tests/run-all.sh prints the one summary line at the end.
check: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/san SAN=1 all
	@tests/run-all.sh $(BUILD)

cppcheck:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr --suppress=missingIncludeSystem \
		-Icommon/include -Icommon -Il0 common l0 relay tests

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' | grep -v '^l1/kmod/')

clean:
	rm -rf $(BUILD)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)
