# argo-relay: top-level build. Everything is built under $(BUILD).
#
#   make            build the libraries and programs
#   make demo       install what is missing, build, run the sim demo
#   make check      install what is missing, build, run every test
#                   (also under ASan/UBSan) and cppcheck
#   make clean
#
#   make fuzz       build the libFuzzer targets with clang and run them for
#                   FUZZ_SECONDS (default 60) each; fails on any crash
#
# Variables: BUILD (output folder), SAN=1 (build with sanitizers), DEBUG=1
# (no optimisation). Both compile in the run-time invariant checks
# (ARGO_DEBUG, common/util/debug.h); the plain build, which `make bench`
# measures, has none.

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
# libargo never sees the link protocol). tests/include-graph.sh checks the
# same rules and that relay/ has no cycle. A folder not listed here sees the
# public headers only.
INC_common/util := -Icommon/util
INC_common/libargo := -Icommon/include -Icommon/util -Il1/include/uapi
INC_common/link := -Icommon/include -Icommon/util
INC_common/tools := -Icommon/include
INC_l0 := -Icommon/include -Icommon/libargo
INC_relay := -Icommon/include -Icommon/util -Icommon/link
INC_l1/test := -Il1/include/uapi
INC_tests/unit := -Icommon/include -Icommon/util -Icommon/libargo -Icommon/link -Il0 -Irelay
INC_tests/integration := -Icommon/include -Icommon/util -Icommon/libargo -Icommon/link
INC_tests/conformance := -Icommon/include -Icommon/libargo -Icommon/tools
INC_tests/fuzz := -Icommon/include -Icommon/util -Icommon/link
INC_DEFAULT := -Icommon/include
inc_of = $(or $(INC_$(patsubst %/,%,$(dir $(1)))),$(INC_DEFAULT))
INC_FOLDERS := common/util common/libargo common/link common/tools l0 relay l1/test tests/unit \
	tests/integration tests/conformance tests/fuzz
# Any rule compiling $< gets its folder's paths through CPPFLAGS.
CPPFLAGS = $(call inc_of,$<)

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
$(LIB)/%.a:
	@mkdir -p $(dir $@)
	rm -f $@
	$(AR) rcs $@ $^

# ---- Programs ----
# Each program NAME names its sources (NAME_SRC), the libraries it links
# (NAME_LIBS, in link order) and the system libraries (NAME_LDLIBS); one
# pattern rule links them all.
PROGRAMS := $(addprefix $(BIN)/,argo-simd argo-conformance argo-conformance-peer argo-ping \
	argo-echo argo-stream argo-relayd argo-relayctl)
TESTS := $(addprefix $(BIN)/,test-ring test-routed test-sim-fabric test-simd-hostile test-wire \
	test-auth test-stream test-session test-util test-relay-config test-transport test-dedup \
	test-mitm)

argo-simd_SRC := l0/simd.c l0/simd_config.c
argo-simd_LIBS := $(LIBSIMFABRIC) $(LIBARGO)
argo-simd_LDLIBS := -linih
# The suite and its remote peer (the other domain of cross-domain cases on
# Xen; docs/xen-fabric.md).
argo-conformance_SRC := tests/conformance/argo-conformance.c tests/conformance/remote_peer.c \
	tests/conformance/peer_wire.c
argo-conformance_LIBS := $(LIBARGO)
argo-conformance-peer_SRC := tests/conformance/argo-conformance-peer.c \
	tests/conformance/peer_wire.c
argo-conformance-peer_LIBS := $(LIBARGO)
argo-ping_SRC := common/tools/argo-ping.c
argo-ping_LIBS := $(LIBARGO)
argo-echo_SRC := common/tools/argo-echo.c
argo-echo_LIBS := $(LIBARGO)
argo-stream_SRC := common/tools/argo-stream.c
argo-stream_LIBS := $(LIBARGO)
# argo-relayd: its files in the order a message meets them (relay.h).
argo-relayd_SRC := relay/relayd.c relay/config.c relay/log.c relay/fabric_in.c relay/ports.c \
	relay/router.c relay/routes.c relay/link.c relay/fabric_out.c relay/dedup.c \
	relay/control.c
argo-relayd_LIBS := $(LIBLINK) $(LIBARGO) $(LIBUTIL)
argo-relayd_LDLIBS := -linih -lcrypto
argo-relayctl_SRC := relay/relayctl.c
# The kernel module's test program (in the images, not in `all`).
argo-dev-test_SRC := l1/test/argo-dev-test.c
# A block benchmark for the guests of the virtio-argo scenarios (images only).
argo-blkbench_SRC := l1/test/argo-blkbench.c

test-ring_SRC := tests/unit/test_ring.c
test-ring_LIBS := $(LIBARGO)
test-routed_SRC := tests/unit/test_routed.c
test-routed_LIBS := $(LIBARGO)
test-sim-fabric_SRC := tests/unit/test_sim_fabric.c
test-sim-fabric_LIBS := $(LIBSIMFABRIC) $(LIBARGO)
test-simd-hostile_SRC := tests/integration/test_simd_hostile.c
test-simd-hostile_LIBS := $(LIBARGO)
test-wire_SRC := tests/unit/test_wire.c
test-wire_LIBS := $(LIBLINK) $(LIBUTIL)
test-wire_LDLIBS := -lcrypto
test-auth_SRC := tests/unit/test_auth.c
test-auth_LIBS := $(LIBLINK) $(LIBUTIL)
test-auth_LDLIBS := -lcrypto
# The reliable stream alone (and the messages it carries).
test-stream_SRC := tests/unit/test_stream.c common/link/stream.c common/link/msg.c
# The session's handshake and the frames' resync on a serial link.
test-session_SRC := tests/unit/test_session.c
test-session_LIBS := $(LIBLINK) $(LIBUTIL)
test-session_LDLIBS := -lcrypto
test-util_SRC := tests/unit/test_util.c
test-util_LIBS := $(LIBUTIL)
test-relay-config_SRC := tests/unit/test_relay_config.c relay/config.c
test-relay-config_LIBS := $(LIBLINK) $(LIBARGO) $(LIBUTIL)
test-relay-config_LDLIBS := -linih -lcrypto
test-transport_SRC := tests/unit/test_transport.c relay/config.c
test-transport_LIBS := $(LIBLINK) $(LIBARGO) $(LIBUTIL)
test-transport_LDLIBS := -linih -lcrypto
# relay/dedup.c alone, with the fabric and the relay's log stubbed.
test-dedup_SRC := tests/unit/test_dedup.c relay/dedup.c
# A man in the middle of relay links, for tests/integration/test-relay.sh.
test-mitm_SRC := tests/integration/mitm.c
test-mitm_LIBS := $(LIBLINK) $(LIBUTIL)
test-mitm_LDLIBS := -lcrypto

# CUnit programs.
$(foreach t,$(filter-out test-mitm,$(notdir $(TESTS))),$(eval $(t)_LDLIBS += -lcunit))

.PHONY: all deps demo check test test-san cppcheck clean format fuzz include-graph
all: $(PROGRAMS) $(TESTS)

# Every program that names its sources this way (NAME_SRC) is linked here.
LINKED := $(foreach p,$(PROGRAMS) $(TESTS) $(BIN)/argo-dev-test $(BIN)/argo-blkbench,$(if $($(notdir $(p))_SRC),$(p)))
.SECONDEXPANSION:
$(LINKED): $(BIN)/%: $$(call obj,$$($$*_SRC)) $$($$*_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $(filter %.o,$^) $($*_LIBS) $($*_LDLIBS) $(LDLIBS) -o $@

# libFuzzer targets: clang with ASan/UBSan (any UB aborts), built from the
# sources directly (not from $(OBJ)). `make fuzz` runs each on a scratch copy
# of its seed corpus so that the committed corpus stays small; crash inputs
# land in $(BUILD)/fuzz/artifacts/. Not part of `make check`.
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -Wall -Wextra -Werror $(INC_tests/fuzz)

$(BUILD)/fuzz/fuzz-wire: tests/fuzz/fuzz_wire.c common/link/wire.c common/link/wire.h common/include/argo/abi.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_wire.c common/link/wire.c -o $@

fuzz: $(BUILD)/fuzz/fuzz-wire
	@rm -rf $(BUILD)/fuzz/corpus-wire $(BUILD)/fuzz/artifacts
	@mkdir -p $(BUILD)/fuzz/corpus-wire $(BUILD)/fuzz/artifacts
	@cp tests/fuzz/corpus/wire/* $(BUILD)/fuzz/corpus-wire/
	$(BUILD)/fuzz/fuzz-wire -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
		-artifact_prefix=$(BUILD)/fuzz/artifacts/ $(BUILD)/fuzz/corpus-wire

deps:
	@harness/install-deps.sh base virtio

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

# Benchmarks (not tests): results in $(BUILD)/bench/results.txt, discussed
# in docs/benchmarks.md.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) harness/bench.sh

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

$(BIN)/argo-vdevd: $(call obj,$(VDEVD_SRC)) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih $(LDLIBS) -o $@

$(BIN)/argo-vdevctl: $(call obj,vdev/vdevctl.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# The device-side conformance suite (tests/vdev/): a user-space driver
# against argo-vdevd, qemu-storage-daemon and virtiofsd on sim.
VDRV_SRC := tests/vdev/vdrv.c $(VMSG_SRC)
all: $(BIN)/vdev-conformance
$(BIN)/vdev-conformance: $(call obj,tests/vdev/vdev-conformance.c $(VDRV_SRC)) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

# A virtio-blk cycle through any path to a driver domain (relays:
# tests/integration/test-vdev-relay.sh).
all: $(BIN)/vdrv-blk
$(BIN)/vdrv-blk: $(call obj,tests/vdev/vdrv-blk.c $(VDRV_SRC)) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# virtio-argo against the same qemu-storage-daemon driven directly: figures,
# not a test (docs/benchmarks.md, "virtio-argo").
.PHONY: bench-vdev
all: $(BIN)/vdev-bench
$(BIN)/vdev-bench: $(call obj,tests/vdev/vdev-bench.c vdev/vhost_user.c vdev/vring.c \
		$(VDRV_SRC)) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@
bench-vdev: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p $(BUILD)/bench
	$(BIN)/vdev-bench --bin $(BIN) --turns $${VDEV_BENCH_TURNS:-11} | tee $(BUILD)/bench/vdev.txt
