# argo-relay: top-level build. Everything is built under $(BUILD).
#
#   make            build the libraries and programs
#   make demo       install what is missing, build, run the sim demo
#   make check      install what is missing, build, run every test
#                   (also under ASan/UBSan), cppcheck, and `make bench`
#                   BENCH=quick with a check of its report (never speed)
#   make clean
#
#   make bench      benchmarks: build/bench/report.json and plots
#                   (BENCH=quick or full; docs/benchmarks.md)
#   make fuzz       build the libFuzzer targets with clang and run them (the
#                   link decoder FUZZ_SECONDS, default 60; the handshake
#                   FUZZ_HANDSHAKE_SECONDS, 30; virtio-argo's
#                   FUZZ_VMSG_SECONDS, 30; argo-simd's protocol, the relay
#                   configuration, routed mode FUZZ_MORE_SECONDS, 20 each);
#                   fails on any crash
#
# Variables: BUILD (output folder), SAN=1 (build with sanitizers), DEBUG=1
# (no optimisation). Both compile in the run-time invariant checks
# (ARGO_DEBUG, common/util/debug.h); the plain build, which `make bench`
# measures, has none.

# `make` alone builds everything (`all`), whatever rule comes first below.
.DEFAULT_GOAL := all

BUILD ?= build
comma := ,
SAN ?= 0
DEBUG ?= 0
FUZZ_SECONDS ?= 60

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fno-strict-aliasing
LDLIBS += -lpthread
ifeq ($(DEBUG),1)
CFLAGS += -O0 -DARGO_DEBUG
endif
ifeq ($(SAN),1)
CFLAGS += -DARGO_DEBUG
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
endif

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj
LIB := $(BUILD)/lib

# ---- What each folder may include (docs/README.md, "Source layout") ----
# A file is compiled with its own folder's include paths only, so the build
# itself refuses a wrong-way #include (common/ never sees relay/ or l0/;
# libargo sees the link protocol for its leaf backend only). tests/include-graph.sh checks the
# same rules and that relay/ has no cycle. A folder not listed here sees the
# public headers only.
INC_common/util := -Icommon/util
INC_common/libargo := -Icommon/include -Icommon/util -Icommon/link -Il1/include/uapi
INC_common/link := -Icommon/include -Icommon/util
INC_common/tools := -Icommon/include
INC_l0 := -Icommon/include -Icommon/libargo
INC_relay := -Icommon/include -Icommon/util -Icommon/link
INC_l1/test := -Il1/include/uapi
INC_tests/unit := -Icommon/include -Icommon/util -Icommon/libargo -Icommon/link -Icommon/tools \
	-Il0 -Irelay
INC_tests/integration := -Icommon/include -Icommon/util -Icommon/libargo -Icommon/link
INC_tests/conformance := -Icommon/include -Icommon/libargo -Icommon/tools
INC_tests/fuzz := -Icommon/include -Icommon/util -Icommon/libargo -Icommon/link -Il0 -Irelay
INC_DEFAULT := -Icommon/include
inc_of = $(or $(INC_$(patsubst %/,%,$(dir $(1)))),$(INC_DEFAULT))
INC_FOLDERS := common/util common/libargo common/link common/tools l0 relay l1/test tests/unit \
	tests/integration tests/conformance tests/fuzz
# Any rule compiling $< gets its folder's paths through CPPFLAGS, then the
# CPPFLAGS a user or distribution gave (Debian's -Wdate-time, say), which
# would otherwise replace them.
USER_CPPFLAGS := $(CPPFLAGS)
override CPPFLAGS = $(call inc_of,$<) $(USER_CPPFLAGS)

$(OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -MMD -MP -c $< -o $@

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

# ---- Libraries ----
# Small helpers every part may use: byte order, parsing, clock, strbuf, the
# event loop object.
LIBUTIL := $(LIB)/libargo-util.a
LIBUTIL_SRC := $(wildcard common/util/*.c)
# libargo: the client API over every fabric, and the ring engine (argo-simd
# takes the ring engine from here too).
LIBARGO := $(LIB)/libargo.a
LIBARGO_SRC := $(wildcard common/libargo/*.c)
# The link protocol: frames, keys, sessions, the reliable stream, transports.
LIBLINK := $(LIB)/libargo-link.a
LIBLINK_SRC := $(wildcard common/link/*.c)
# The sim fabric's model of Xen's Argo (argo-simd and its unit test).
LIBSIMFABRIC := $(LIB)/libsimfabric.a
LIBSIMFABRIC_SRC := l0/sim_fabric.c l0/sim_policy.c

$(LIBUTIL): $(call obj,$(LIBUTIL_SRC))
$(LIBARGO): $(call obj,$(LIBARGO_SRC))
$(LIBLINK): $(call obj,$(LIBLINK_SRC))
$(LIBSIMFABRIC): $(call obj,$(LIBSIMFABRIC_SRC))
# The libargo.a that is installed: the client library with the link backend's
# protocol and helpers in one archive, as libargo.so holds them.
LIBARGO_DIST := $(LIB)/dist/libargo.a
$(LIBARGO_DIST): $(call obj,$(LIBARGO_SRC) $(LIBLINK_SRC) $(LIBUTIL_SRC))
$(LIB)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# What a program using libargo links: its link backend (a leaf endpoint)
# rests on the link protocol and OpenSSL (libssl: its links are TLS) (and the link protocol's argo
# transport on libargo: the rule below links libraries as one group).
CLIENT_LIBS := $(LIBARGO) $(LIBLINK) $(LIBUTIL)
CLIENT_LDLIBS := -lssl -lcrypto

# ---- Programs ----
# Each program NAME names its sources (NAME_SRC), the libraries it links
# (NAME_LIBS, in link order) and the system libraries (NAME_LDLIBS); one
# pattern rule links them all.
PROGRAMS := $(addprefix $(BIN)/,argo-simd argo-conformance argo-conformance-peer argo-ping \
	argo-echo argo-stream argo-relayd argo-relayctl argo-bench)
TESTS := $(addprefix $(BIN)/,test-ring test-routed test-sim-fabric test-simd-hostile test-wire \
	test-auth test-session test-stream test-util test-relay-config test-transport test-dedup \
	test-mitm test-rogue test-bench-hist test-leaf test-routes test-router)

# argo-simd: the daemon, its configuration, its side of the protocol
# (simd_proto.c, which the fuzzer drives too) and its two engines (io_uring,
# epoll where io_uring is missing; docs/sim-fabric.md).
argo-simd_SRC := l0/simd.c l0/simd_config.c l0/simd_proto.c l0/simd_epoll.c l0/simd_uring.c
argo-simd_LIBS := $(LIBSIMFABRIC) $(CLIENT_LIBS)
argo-simd_LDLIBS := -linih -luring $(CLIENT_LDLIBS)
# The suite and its remote peer (the other domain of cross-domain cases on
# Xen; docs/xen-fabric.md).
argo-conformance_SRC := tests/conformance/argo-conformance.c tests/conformance/remote_peer.c \
	tests/conformance/peer_wire.c
argo-conformance_LIBS := $(CLIENT_LIBS)
argo-conformance_LDLIBS := $(CLIENT_LDLIBS)
argo-conformance-peer_SRC := tests/conformance/argo-conformance-peer.c \
	tests/conformance/peer_wire.c
argo-conformance-peer_LIBS := $(CLIENT_LIBS)
argo-conformance-peer_LDLIBS := $(CLIENT_LDLIBS)
argo-ping_SRC := common/tools/argo-ping.c
argo-ping_LIBS := $(CLIENT_LIBS)
argo-ping_LDLIBS := $(CLIENT_LDLIBS)
argo-echo_SRC := common/tools/argo-echo.c
argo-echo_LIBS := $(CLIENT_LIBS)
argo-echo_LDLIBS := $(CLIENT_LDLIBS)
argo-stream_SRC := common/tools/argo-stream.c
argo-stream_LIBS := $(CLIENT_LIBS)
argo-stream_LDLIBS := $(CLIENT_LDLIBS)
# argo-bench says which source it was built from (--version, its JSON).
argo-bench_SRC := common/tools/argo-bench.c
argo-bench_LIBS := $(CLIENT_LIBS)
argo-bench_LDLIBS := $(CLIENT_LDLIBS)
BENCH_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(OBJ)/common/tools/argo-bench.o: CFLAGS += -DARGO_BENCH_VERSION='"$(BENCH_VERSION)"'
# argo-relayd: its files in the order a message meets them (relay.h).
argo-relayd_SRC := relay/relayd.c relay/config.c relay/log.c relay/fabric_in.c relay/ports.c \
	relay/router.c relay/routes.c relay/link.c relay/leaf.c relay/fabric_out.c relay/dedup.c \
	relay/control.c relay/daemon.c relay/reload.c
argo-relayd_LIBS := $(CLIENT_LIBS)
argo-relayd_LDLIBS := -linih -lssl -lcrypto
argo-relayctl_SRC := relay/relayctl.c
# The kernel module's test program (in the images, not in `all`).
argo-dev-test_SRC := l1/test/argo-dev-test.c
# A block benchmark for the guests of the virtio-argo scenarios (images only).
argo-blkbench_SRC := l1/test/argo-blkbench.c

test-ring_SRC := tests/unit/test_ring.c
test-ring_LIBS := $(CLIENT_LIBS)
test-ring_LDLIBS := $(CLIENT_LDLIBS)
test-routed_SRC := tests/unit/test_routed.c
test-routed_LIBS := $(CLIENT_LIBS)
test-routed_LDLIBS := $(CLIENT_LDLIBS)
test-sim-fabric_SRC := tests/unit/test_sim_fabric.c
test-sim-fabric_LIBS := $(LIBSIMFABRIC) $(LIBARGO)
test-simd-hostile_SRC := tests/integration/test_simd_hostile.c
test-simd-hostile_LIBS := $(CLIENT_LIBS)
test-simd-hostile_LDLIBS := $(CLIENT_LDLIBS)
test-wire_SRC := tests/unit/test_wire.c
test-wire_LIBS := $(LIBLINK) $(LIBUTIL)
test-wire_LDLIBS := -lssl -lcrypto
test-auth_SRC := tests/unit/test_auth.c
test-auth_LIBS := $(LIBLINK) $(LIBUTIL)
test-auth_LDLIBS := -lssl -lcrypto
# A link's TLS sessions and frames over socketpairs.
test-session_SRC := tests/unit/test_session.c
test-session_LIBS := $(LIBLINK) $(LIBUTIL)
test-session_LDLIBS := -lssl -lcrypto
# A leaf endpoint's frame payloads and its link: URI.
test-leaf_SRC := tests/unit/test_leaf.c common/libargo/link_uri.c
test-leaf_LIBS := $(CLIENT_LIBS)
test-leaf_LDLIBS := $(CLIENT_LDLIBS)
# The reliable stream alone (and the messages it carries).
test-stream_SRC := tests/unit/test_stream.c common/link/stream.c common/link/msg.c
test-util_SRC := tests/unit/test_util.c
test-util_LIBS := $(LIBUTIL)
test-relay-config_SRC := tests/unit/test_relay_config.c relay/config.c
test-relay-config_LIBS := $(CLIENT_LIBS)
test-relay-config_LDLIBS := -linih $(CLIENT_LDLIBS)
test-transport_SRC := tests/unit/test_transport.c relay/config.c
test-transport_LIBS := $(CLIENT_LIBS)
test-transport_LDLIBS := -linih $(CLIENT_LDLIBS)
# relay/dedup.c alone, with the fabric and the relay's log stubbed.
test-dedup_SRC := tests/unit/test_dedup.c relay/dedup.c
# The relay's route table alone.
test-routes_SRC := tests/unit/test_routes.c relay/routes.c
# The relay's router (undeliverable reports), with its log and policy stubbed.
test-router_SRC := tests/unit/test_router.c relay/router.c relay/routes.c common/link/msg.c
# argo-bench's latency histogram (a header only).
test-bench-hist_SRC := tests/unit/test_bench_hist.c
# A man in the middle of relay links, for tests/integration/test-relay.sh.
test-mitm_SRC := tests/integration/mitm.c
test-mitm_LIBS := $(LIBLINK) $(LIBUTIL)
test-mitm_LDLIBS := -lssl -lcrypto
# An attacker of relay links (a stranger, or a neighbour holding its key),
# for tests/integration/test-link-attacks.sh.
test-rogue_SRC := tests/integration/rogue.c
test-rogue_LIBS := $(LIBLINK) $(LIBUTIL)
test-rogue_LDLIBS := -lssl -lcrypto

# CUnit programs.
$(foreach t,$(filter-out test-mitm test-rogue,$(notdir $(TESTS))),$(eval $(t)_LDLIBS += -lcunit))

.PHONY: all deps deps-bench demo check test test-san cppcheck clean format fuzz include-graph
all: $(PROGRAMS) $(TESTS)

# Every program that names its sources this way (NAME_SRC) is linked here.
LINKED := $(foreach p,$(PROGRAMS) $(TESTS) $(BIN)/argo-dev-test $(BIN)/argo-blkbench,$(if $($(notdir $(p))_SRC),$(p)))
.SECONDEXPANSION:
$(LINKED): $(BIN)/%: $$(call obj,$$($$*_SRC)) $$($$*_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -Wl,--start-group $($*_LIBS) -Wl,--end-group \
		$($*_LDLIBS) $(LDLIBS) -o $@

# libFuzzer targets: clang with ASan/UBSan (any UB aborts), built from the
# sources directly (not from $(OBJ)). `make fuzz` runs each on a scratch copy
# of its seed corpus so that the committed corpus stays small; crash inputs
# land in $(BUILD)/fuzz/artifacts/. Not part of `make check`.
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -Wall -Wextra -Werror $(INC_tests/fuzz)

$(BUILD)/fuzz/fuzz-wire: tests/fuzz/fuzz_wire.c common/link/wire.c common/link/wire.h \
		common/link/leaf_wire.c common/link/leaf_wire.h common/include/argo/abi.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_wire.c common/link/wire.c common/link/leaf_wire.c -o $@

# The handshake (tests/fuzz/fuzz_handshake.c): TLS on OpenSSL and the HELLO.
FUZZ_HANDSHAKE_SECONDS ?= 30
$(BUILD)/fuzz/fuzz-handshake: tests/fuzz/fuzz_handshake.c common/link/session.c common/link/frames.c \
		common/link/auth.c common/link/wire.c common/link/session.h common/link/frames.h \
		common/link/auth.h common/link/wire.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_handshake.c common/link/session.c \
		common/link/frames.c common/link/auth.c common/link/wire.c -lssl -lcrypto -o $@

.PHONY: fuzz-handshake
fuzz: fuzz-handshake
fuzz-handshake: $(BUILD)/fuzz/fuzz-handshake
	@rm -rf $(BUILD)/fuzz/corpus-handshake $(BUILD)/fuzz/artifacts-handshake
	@mkdir -p $(BUILD)/fuzz/corpus-handshake $(BUILD)/fuzz/artifacts-handshake
	@cp tests/fuzz/corpus/handshake/* $(BUILD)/fuzz/corpus-handshake/
	$(BUILD)/fuzz/fuzz-handshake -max_total_time=$(FUZZ_HANDSHAKE_SECONDS) -print_final_stats=1 \
		-max_len=61440 -artifact_prefix=$(BUILD)/fuzz/artifacts-handshake/ \
		$(BUILD)/fuzz/corpus-handshake

fuzz: $(BUILD)/fuzz/fuzz-wire
	@rm -rf $(BUILD)/fuzz/corpus-wire $(BUILD)/fuzz/artifacts
	@mkdir -p $(BUILD)/fuzz/corpus-wire $(BUILD)/fuzz/artifacts
	@cp tests/fuzz/corpus/wire/* $(BUILD)/fuzz/corpus-wire/
	$(BUILD)/fuzz/fuzz-wire -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/ $(BUILD)/fuzz/corpus-wire

# argo-simd's client protocol (its dispatch over the fabric model), the
# relay's configuration reader, routed mode's header, report and text:
# FUZZ_MORE_SECONDS (default 20) each, before the link decoder, each on a
# scratch copy of tests/fuzz/corpus/NAME/ (issue 11).
FUZZ_MORE_SECONDS ?= 20
FUZZ_MORE := simd relay-config routed
# libargo as gcc builds it (a notify message with the ring_data's entries
# after it is a GNU extension clang warns about). The targets' own include
# paths are INC_tests/fuzz's (in FUZZ_CFLAGS; tests/include-graph.sh checks
# them); these are what the sources they compile in need besides.
FUZZ_LIBARGO_FLAGS := -Il1/include/uapi -Wno-gnu-variable-sized-type-not-at-end
FUZZ_SIMD_SRC := tests/fuzz/fuzz_simd.c l0/simd_proto.c l0/sim_fabric.c l0/sim_policy.c \
	common/libargo/ring.c
$(BUILD)/fuzz/fuzz-simd: $(FUZZ_SIMD_SRC) $(wildcard l0/*.h) common/libargo/sim_proto.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_SIMD_SRC) -o $@
FUZZ_CONFIG_SRC := tests/fuzz/fuzz_relay_config.c relay/config.c $(LIBLINK_SRC) $(LIBUTIL_SRC) \
	$(LIBARGO_SRC)
$(BUILD)/fuzz/fuzz-relay-config: $(FUZZ_CONFIG_SRC) $(wildcard relay/*.h common/link/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_LIBARGO_FLAGS) $(FUZZ_CONFIG_SRC) -linih -lssl -lcrypto \
		-lpthread -o $@
FUZZ_ROUTED_SRC := tests/fuzz/fuzz_routed.c $(LIBARGO_SRC) $(LIBLINK_SRC) $(LIBUTIL_SRC)
$(BUILD)/fuzz/fuzz-routed: $(FUZZ_ROUTED_SRC) $(wildcard common/include/argo/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_LIBARGO_FLAGS) $(FUZZ_ROUTED_SRC) -lssl -lcrypto -lpthread -o $@
.PHONY: fuzz-more
fuzz: fuzz-more
fuzz-more: $(addprefix $(BUILD)/fuzz/fuzz-,$(FUZZ_MORE))
	@set -e; for t in $(FUZZ_MORE); do \
		rm -rf $(BUILD)/fuzz/corpus-$$t $(BUILD)/fuzz/artifacts-$$t; \
		mkdir -p $(BUILD)/fuzz/corpus-$$t $(BUILD)/fuzz/artifacts-$$t; \
		cp tests/fuzz/corpus/$$t/* $(BUILD)/fuzz/corpus-$$t/; \
		echo "fuzz-$$t: $(FUZZ_MORE_SECONDS) s"; \
		$(BUILD)/fuzz/fuzz-$$t -max_total_time=$(FUZZ_MORE_SECONDS) -print_final_stats=1 \
			-artifact_prefix=$(BUILD)/fuzz/artifacts-$$t/ $(BUILD)/fuzz/corpus-$$t; \
	done

deps:
	@harness/install-deps.sh base virtio

deps-bench:
	@harness/install-deps.sh base virtio bench

demo: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) harness/demo.sh

# The whole suite: a plain build, then the same tests under ASan/UBSan,
# then cppcheck. tests/run-all.sh prints the one summary line at the end.
CHECK_JOBS ?= $(shell nproc)
check: deps deps-bench
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) all
	@$(MAKE) --no-print-directory -j$(CHECK_JOBS) BUILD=$(BUILD)/san SAN=1 all
	@tests/run-all.sh $(BUILD)

cppcheck:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr --suppress=missingIncludeSystem \
		$(sort $(foreach f,$(INC_FOLDERS),$(INC_$(f)))) common l0 relay tests

# The include graph (tests/include-graph.sh): wrong-way includes and cycles.
include-graph:
	@tests/include-graph.sh .

# For tests/include-graph.sh: each folder and the include paths it builds with.
print-include-paths:
	@$(foreach f,$(INC_FOLDERS),echo '$(f): $(INC_$(f))';)
	@echo 'DEFAULT: $(INC_DEFAULT)'

format:
	@clang-format -i $$(git ls-files '*.c' '*.h' | grep -Ev '^l1/(kmod|virtio-argo)/|^l1/include/linux/')

clean:
	rm -rf $(BUILD)

-include $(shell find $(OBJ) -name '*.d' 2>/dev/null)

# ---- Real Xen: the kernel module, the images, the end-to-end scenarios ----
# (docs: images/README.md, l1/README.md; `make e2e E2E=NAME` runs one.)
KMOD_MAKE = env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u CFLAGS -u LDFLAGS -u CC -u BUILD -u SAN $(MAKE)
ARGO_KO := $(BUILD)/images/argo.ko
VIRTIO_ARGO_KO := $(BUILD)/images/virtio_argo.ko
.PHONY: kmod kmod-clean e2e e2e-list
kmod: $(ARGO_KO) $(VIRTIO_ARGO_KO)
$(ARGO_KO): l1/kmod/argo.c l1/kmod/Kbuild l1/kmod/Makefile l1/include/uapi/linux/argo_dev.h \
		l1/include/linux/argo_kernel.h
	@harness/install-deps.sh images
	$(KMOD_MAKE) -C l1/kmod KVER=$(KVER) OUT=$(abspath $(dir $@))
# The virtio-argo transport (l1/virtio-argo/), linked against argo.ko's API.
$(VIRTIO_ARGO_KO): $(wildcard l1/virtio-argo/*.c l1/virtio-argo/*.h) l1/virtio-argo/Kbuild \
		l1/virtio-argo/Makefile l1/include/uapi/linux/virtio_argo.h $(ARGO_KO)
	$(KMOD_MAKE) -C l1/virtio-argo KVER=$(KVER) OUT=$(abspath $(dir $@))
kmod-clean:
	$(KMOD_MAKE) -C l1/kmod clean
	$(KMOD_MAKE) -C l1/virtio-argo clean


# virtio-argo in the images: the device side (argo-vdevd and the vhost-user
# back ends it drives, from Debian's qemu-system-common), e2fsprogs for the
# guest's file system checks, a block benchmark.
IMAGE_BINS := $(PROGRAMS) $(BIN)/argo-dev-test $(BIN)/argo-vdevd $(BIN)/argo-vdevctl \
	$(BIN)/argo-blkbench
IMAGE_HOST_BINS := /usr/bin/qemu-storage-daemon /usr/lib/qemu/virtiofsd /usr/sbin/mke2fs \
	/usr/sbin/e2fsck
IMAGES_EXTRA_KO := $(VIRTIO_ARGO_KO)

include images/images.mk

# make e2e [E2E=NAME|GROUP[,...]] [E2E_OPTS=--no-libvirt]; the scenarios are
# harness/scenarios.cfg (docs/harness.md).
e2e: images
	@harness/install-deps.sh libvirt
	@BUILD=$(BUILD) harness/e2e.sh run $(E2E_OPTS) $(subst $(comma), ,$(E2E))
e2e-list:
	@harness/e2e.sh list

# Benchmarks (not tests): $(BUILD)/bench/report.json, results.txt and plots,
# discussed in docs/benchmarks.md. BENCH=quick (sim paths, under a minute)
# or BENCH=full (more turns and sizes, and the VM paths: the images, and
# one boot of the headline's VMs; run it under the machine's lock).
BENCH ?= quick
.PHONY: bench soak
bench: deps-bench
	@$(MAKE) --no-print-directory all
	@if [ "$(BENCH)" = full ]; then $(MAKE) --no-print-directory images && \
		harness/install-deps.sh libvirt; fi
	@BUILD=$(BUILD) BENCH=$(BENCH) harness/bench.sh

# A long run under random faults with every message counted (not in make
# check; docs/testing.md, "The soak"): SOAK_MINUTES (3 by default), hours
# if asked. Low priority: it shares the machine.
SOAK_MINUTES ?= 3
soak: deps-bench
	@$(MAKE) --no-print-directory all
	@SOAK_MINUTES=$(SOAK_MINUTES) nice -n 19 harness/soak.sh $(BIN)

# ---- virtio-argo (docs/virtio-argo.md): the message decoder, the device
# side argo-vdevd (vdev/), its tests and fuzzer. Self-contained block. ----
INC_vdev := -Icommon/include -Il1/include/uapi
INC_tests/vdev := -Icommon/include -Il1/include/uapi -Ivdev
INC_tests/unit += -Ivdev -Il1/include/uapi
INC_tests/fuzz += -Ivdev -Il1/include/uapi
INC_FOLDERS += vdev tests/vdev
VMSG_SRC := vdev/vmsg.c
FUZZ_VMSG_SECONDS ?= 30

all: $(BIN)/test-vmsg $(BIN)/test-vdev-config

$(BIN)/test-vmsg: $(call obj,tests/unit/test_vmsg.c $(VMSG_SRC))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-vdev-config: $(call obj,tests/unit/test_vdev_config.c vdev/config.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih -lcunit $(LDLIBS) -o $@

$(BUILD)/fuzz/fuzz-vmsg: tests/fuzz/fuzz_vmsg.c $(VMSG_SRC) vdev/vmsg.h \
		l1/include/uapi/linux/virtio_argo.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -Ivdev -Il1/include/uapi tests/fuzz/fuzz_vmsg.c $(VMSG_SRC) -o $@

# Runs before `make fuzz`'s own recipe (the link decoder), FUZZ_VMSG_SECONDS.
.PHONY: fuzz-vmsg cppcheck-vdev
fuzz: fuzz-vmsg
fuzz-vmsg: $(BUILD)/fuzz/fuzz-vmsg
	@rm -rf $(BUILD)/fuzz/corpus-vmsg $(BUILD)/fuzz/artifacts-vmsg
	@mkdir -p $(BUILD)/fuzz/corpus-vmsg $(BUILD)/fuzz/artifacts-vmsg
	@cp tests/fuzz/corpus/vmsg/* $(BUILD)/fuzz/corpus-vmsg/
	$(BUILD)/fuzz/fuzz-vmsg -max_total_time=$(FUZZ_VMSG_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts-vmsg/ $(BUILD)/fuzz/corpus-vmsg

cppcheck: cppcheck-vdev
cppcheck-vdev:
	@cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
		--std=c11 --inline-suppr --suppress=missingIncludeSystem \
		$(INC_tests/vdev) vdev tests/vdev

VDEVD_SRC := vdev/vdevd.c vdev/bus.c vdev/device.c vdev/vring.c vdev/vhost_user.c \
	vdev/config.c vdev/control.c $(VMSG_SRC)
all: $(BIN)/argo-vdevd $(BIN)/argo-vdevctl

$(BIN)/argo-vdevd: $(call obj,$(VDEVD_SRC)) $(CLIENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -Wl,--start-group $(CLIENT_LIBS) -Wl,--end-group -linih $(CLIENT_LDLIBS) $(LDLIBS) -o $@

$(BIN)/argo-vdevctl: $(call obj,vdev/vdevctl.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The device-side conformance suite (tests/vdev/): a user-space driver
# against argo-vdevd, qemu-storage-daemon and virtiofsd on sim.
VDRV_SRC := tests/vdev/vdrv.c $(VMSG_SRC)
all: $(BIN)/vdev-conformance
$(BIN)/vdev-conformance: $(call obj,tests/vdev/vdev-conformance.c $(VDRV_SRC)) $(CLIENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -Wl,--start-group $(CLIENT_LIBS) -Wl,--end-group -lcunit $(CLIENT_LDLIBS) $(LDLIBS) -o $@

# A virtio-blk cycle through any path to a driver domain (relays:
# tests/integration/test-vdev-relay.sh).
all: $(BIN)/vdrv-blk
$(BIN)/vdrv-blk: $(call obj,tests/vdev/vdrv-blk.c $(VDRV_SRC)) $(CLIENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -Wl,--start-group $(CLIENT_LIBS) -Wl,--end-group $(CLIENT_LDLIBS) $(LDLIBS) -o $@

# virtio-argo against the same qemu-storage-daemon driven directly: figures,
# not a test (docs/benchmarks.md, "virtio-argo").
.PHONY: bench-vdev
all: $(BIN)/vdev-bench
$(BIN)/vdev-bench: $(call obj,tests/vdev/vdev-bench.c vdev/vhost_user.c vdev/vring.c \
		$(VDRV_SRC)) $(CLIENT_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) -Wl,--start-group $(CLIENT_LIBS) -Wl,--end-group $(CLIENT_LDLIBS) $(LDLIBS) -o $@
bench-vdev: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/bench
	$(BIN)/vdev-bench --bin $(BIN) --turns $${VDEV_BENCH_TURNS:-11} | tee $(BUILD)/bench/vdev.txt

# ---- Installation: make install [PREFIX=/usr/local] [DESTDIR=] ----------
# (docs/install.md.) Programs, libargo (static, and shared with a SONAME)
# and its headers, libargo.pc, man pages, the example configurations,
# systemd units, tmpfiles.d and sysusers.d entries, the udev rule for
# /dev/argo. `make install-dkms` puts argo.ko's source and dkms.conf in
# $(PREFIX)/src/argo-VERSION for DKMS. Every directory is a variable, so that
# a distribution can place each (debian/rules does). Nothing here builds
# more than `make all` does, except the shared library's PIC objects.
ARGO_VERSION := $(shell sed -n 's/^\#define ARGO_VERSION *"\(.*\)"$$/\1/p' common/include/argo/version.h)
# The shared library's ABI: a new SONAME only when an exported function is
# removed or changes (common/libargo.map lists them).
LIBARGO_SOVERSION := 0
LIBARGO_SONAME := libargo.so.$(LIBARGO_SOVERSION)
LIBARGO_SO := $(BUILD)/lib/libargo.so.$(ARGO_VERSION)
LIBARGO_MAP := common/libargo.map
LIBARGO_HEADERS := $(wildcard common/include/argo/*.h)
LIBARGO_PC := $(BUILD)/lib/pkgconfig/libargo.pc
PIC_OBJ := $(OBJ)/pic

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
SBINDIR ?= $(PREFIX)/sbin
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
DOCDIR ?= $(DATADIR)/doc/argo-relay
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
UDEVRULESDIR ?= $(PREFIX)/lib/udev/rules.d
DKMSDIR ?= $(PREFIX)/src/argo-$(ARGO_VERSION)
INSTALL ?= install

INSTALL_SBIN := $(BIN)/argo-simd $(BIN)/argo-relayd $(BIN)/argo-vdevd
INSTALL_BIN := $(BIN)/argo-relayctl $(BIN)/argo-echo $(BIN)/argo-ping $(BIN)/argo-stream \
	$(BIN)/argo-bench $(BIN)/argo-conformance $(BIN)/argo-conformance-peer $(BIN)/argo-vdevctl
# Man pages: docs/man/, with the version and the paths filled in.
MAN_SRC := $(wildcard docs/man/*.[1-8])
MAN_PAGES := $(patsubst docs/man/%,$(BUILD)/man/%,$(MAN_SRC))
EXAMPLE_CONFIGS := $(wildcard dist/examples/*.conf)
# Files whose paths depend on the directories above: made from dist/*.in.
DIST_GENERATED := $(BUILD)/dist/argo-simd.service $(BUILD)/dist/argo-relayd@.service
KMOD_SRC := l1/kmod/argo.c l1/kmod/Kbuild l1/kmod/Makefile
KMOD_UAPI := l1/include/uapi/linux/argo_dev.h
# The in-kernel API (argo.ko exports it; virtio_argo.ko uses it).
KMOD_KAPI := l1/include/linux/argo_kernel.h

SUBST_PATHS = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@BINDIR@|$(BINDIR)|g' \
	-e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@LIBDIR@|$(LIBDIR)|g' \
	-e 's|@INCLUDEDIR@|$(INCLUDEDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	-e 's|@VERSION@|$(ARGO_VERSION)|g'

.PHONY: install install-dkms uninstall dist-files FORCE-PATHS
# Everything install needs and nothing more (no tests: debian/rules builds this).
dist-files: $(INSTALL_SBIN) $(INSTALL_BIN) $(LIBARGO_DIST) $(LIBARGO_SO) $(LIBARGO_PC) \
	$(DIST_GENERATED) $(MAN_PAGES)
ifneq ($(SAN),1)
all: $(LIBARGO_SO) $(LIBARGO_DIST) $(LIBARGO_PC) $(DIST_GENERATED) $(MAN_PAGES)
endif

$(PIC_OBJ)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(CPPFLAGS) -fPIC -MMD -MP -c $< -o $@

# The shared library holds the link backend too (a leaf endpoint): the link
# protocol and the helpers under it, on OpenSSL.
$(LIBARGO_SO): $(patsubst %.c,$(PIC_OBJ)/%.o,$(LIBARGO_SRC) $(LIBLINK_SRC) $(LIBUTIL_SRC)) \
	$(LIBARGO_MAP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -Wl,-soname,$(LIBARGO_SONAME) -Wl,-z,defs \
		-Wl,--version-script=$(LIBARGO_MAP) $(filter %.o,$^) -lssl -lcrypto -lpthread -o $@

# The paths are baked into these files: remade whenever a path variable
# changes (the stamp holds the last values).
$(BUILD)/dist/paths: FORCE-PATHS
	@mkdir -p $(dir $@)
	@v='$(PREFIX) $(BINDIR) $(SBINDIR) $(LIBDIR) $(INCLUDEDIR) $(SYSCONFDIR) $(ARGO_VERSION)'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$v" ] || echo "$$v" >$@
$(LIBARGO_PC): dist/libargo.pc.in $(BUILD)/dist/paths
	@mkdir -p $(dir $@)
	$(SUBST_PATHS) $< >$@
$(BUILD)/dist/%.service: dist/systemd/%.service.in $(BUILD)/dist/paths
	$(SUBST_PATHS) $< >$@
$(BUILD)/man/%: docs/man/% $(BUILD)/dist/paths
	@mkdir -p $(dir $@)
	$(SUBST_PATHS) $< >$@

install: dist-files
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(INCLUDEDIR)/argo $(DESTDIR)$(SYSCONFDIR)/argo \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(UDEVRULESDIR)
	$(INSTALL) -m 755 $(INSTALL_SBIN) $(DESTDIR)$(SBINDIR)
	$(INSTALL) -m 755 $(INSTALL_BIN) $(DESTDIR)$(BINDIR)
	$(INSTALL) -m 644 $(LIBARGO_DIST) $(DESTDIR)$(LIBDIR)
	$(INSTALL) -m 644 $(LIBARGO_SO) $(DESTDIR)$(LIBDIR)
	ln -sf $(notdir $(LIBARGO_SO)) $(DESTDIR)$(LIBDIR)/$(LIBARGO_SONAME)
	ln -sf $(LIBARGO_SONAME) $(DESTDIR)$(LIBDIR)/libargo.so
	$(INSTALL) -m 644 $(LIBARGO_PC) $(DESTDIR)$(LIBDIR)/pkgconfig
	$(INSTALL) -m 644 $(LIBARGO_HEADERS) $(DESTDIR)$(INCLUDEDIR)/argo
	for page in $(MAN_PAGES); do \
		s=$${page##*.}; $(INSTALL) -d $(DESTDIR)$(MANDIR)/man$$s && \
		$(INSTALL) -m 644 $$page $(DESTDIR)$(MANDIR)/man$$s || exit 1; \
	done
	$(INSTALL) -m 644 $(EXAMPLE_CONFIGS) $(DESTDIR)$(DOCDIR)/examples
	@# The fabric's configuration: never overwrites one an administrator has.
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/argo/argo-simd.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/argo/argo-simd.conf"; \
	else \
		echo "$(INSTALL) -m 644 dist/examples/argo-simd.conf $(DESTDIR)$(SYSCONFDIR)/argo"; \
		$(INSTALL) -m 644 dist/examples/argo-simd.conf $(DESTDIR)$(SYSCONFDIR)/argo; \
	fi
	$(INSTALL) -m 644 $(BUILD)/dist/argo-simd.service $(BUILD)/dist/argo-relayd@.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 644 dist/tmpfiles-argo.conf $(DESTDIR)$(TMPFILESDIR)/argo.conf
	$(INSTALL) -m 644 dist/sysusers-argo.conf $(DESTDIR)$(SYSUSERSDIR)/argo.conf
	$(INSTALL) -m 644 dist/udev-argo.rules $(DESTDIR)$(UDEVRULESDIR)/60-argo.rules

# argo.ko's source as DKMS wants it: dkms.conf at the top, the module's
# folder and the UAPI header it includes in the layout of l1/.
install-dkms: dist/dkms.conf.in $(KMOD_SRC) $(KMOD_UAPI) $(KMOD_KAPI)
	$(INSTALL) -d $(DESTDIR)$(DKMSDIR)/kmod $(DESTDIR)$(DKMSDIR)/include/uapi/linux \
		$(DESTDIR)$(DKMSDIR)/include/linux
	$(SUBST_PATHS) dist/dkms.conf.in >$(DESTDIR)$(DKMSDIR)/dkms.conf
	$(INSTALL) -m 644 $(KMOD_SRC) $(DESTDIR)$(DKMSDIR)/kmod
	$(INSTALL) -m 644 $(KMOD_UAPI) $(DESTDIR)$(DKMSDIR)/include/uapi/linux
	$(INSTALL) -m 644 $(KMOD_KAPI) $(DESTDIR)$(DKMSDIR)/include/linux

# Removes what install and install-dkms put in place (configuration in
# $(SYSCONFDIR)/argo is left, as a package manager leaves conffiles).
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,$(notdir $(INSTALL_SBIN))) \
		$(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(INSTALL_BIN))) \
		$(DESTDIR)$(LIBDIR)/libargo.a $(DESTDIR)$(LIBDIR)/libargo.so \
		$(DESTDIR)$(LIBDIR)/$(LIBARGO_SONAME) $(DESTDIR)$(LIBDIR)/$(notdir $(LIBARGO_SO)) \
		$(DESTDIR)$(LIBDIR)/pkgconfig/libargo.pc \
		$(addprefix $(DESTDIR)$(INCLUDEDIR)/argo/,$(notdir $(LIBARGO_HEADERS))) \
		$(foreach p,$(MAN_SRC),$(DESTDIR)$(MANDIR)/man$(subst .,,$(suffix $(p)))/$(notdir $(p))) \
		$(DESTDIR)$(SYSTEMDUNITDIR)/argo-simd.service \
		$(DESTDIR)$(SYSTEMDUNITDIR)/argo-relayd@.service \
		$(DESTDIR)$(TMPFILESDIR)/argo.conf $(DESTDIR)$(SYSUSERSDIR)/argo.conf \
		$(DESTDIR)$(UDEVRULESDIR)/60-argo.rules
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(DKMSDIR)
	-rmdir $(DESTDIR)$(INCLUDEDIR)/argo 2>/dev/null
