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
# Variables: BUILD (output folder), SAN=1 (build with sanitizers).

BUILD ?= build
SAN ?= 0
FUZZ_SECONDS ?= 60

CC ?= cc
CFLAGS ?= -O2 -g
CFLAGS += -std=c11 -Wall -Wextra -Werror -D_FORTIFY_SOURCE=2 -fno-strict-aliasing \
	  -Icommon/include -Icommon -Il0 -Il1/include/uapi
LDLIBS += -lpthread
ifeq ($(SAN),1)
CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=address,undefined
CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(CFLAGS))
endif

BIN := $(BUILD)/bin
OBJ := $(BUILD)/obj

LIBARGO_SRC := common/ring.c common/libargo.c common/backend_sim.c common/backend_xen.c \
	common/routed.c
SIMFABRIC_SRC := l0/sim_fabric.c l0/sim_policy.c
LIBRELAY_SRC := common/wire.c common/auth.c

LIBARGO := $(BUILD)/lib/libargo.a
LIBSIMFABRIC := $(BUILD)/lib/libsimfabric.a
LIBRELAY := $(BUILD)/lib/librelay.a

# argo-relayd's configuration reader and link transports (needs $(LIBRELAY)).
RELAY_CORE_SRC := relay/config.c relay/transport.c $(wildcard relay/transport_*.c)
LIBRELAYCORE := $(BUILD)/lib/librelaycore.a
CFLAGS += -Irelay

PROGRAMS := $(BIN)/argo-simd $(BIN)/argo-conformance $(BIN)/argo-ping $(BIN)/argo-echo
PROGRAMS += $(BIN)/argo-relayd $(BIN)/argo-relayctl $(BIN)/argo-stream
PROGRAMS += $(BIN)/argo-conformance-peer
TESTS := $(BIN)/test-ring $(BIN)/test-routed $(BIN)/test-sim-fabric $(BIN)/test-simd-hostile
TESTS += $(BIN)/test-wire $(BIN)/test-auth
TESTS += $(BIN)/test-relay-config $(BIN)/test-transport $(BIN)/test-dedup
# A man in the middle of relay links, for tests/integration/test-relay.sh.
TESTS += $(BIN)/test-mitm

obj = $(patsubst %.c,$(OBJ)/%.o,$(1))

.PHONY: all deps demo check test test-san cppcheck clean format fuzz
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

$(LIBRELAY): $(call obj,$(LIBRELAY_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(BIN)/argo-simd: $(call obj,l0/simd.c l0/simd_config.c) $(LIBSIMFABRIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih $(LDLIBS) -o $@

# The suite and its remote peer (the other domain of cross-domain cases on
# Xen; docs/xen-fabric.md).
CONFORMANCE_SRC := tests/conformance/argo-conformance.c tests/conformance/remote_peer.c \
	tests/conformance/peer_wire.c
$(BIN)/argo-conformance: $(call obj,$(CONFORMANCE_SRC)) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-conformance-peer: $(call obj,tests/conformance/argo-conformance-peer.c \
		tests/conformance/peer_wire.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-ping: $(call obj,common/tools/argo-ping.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-echo: $(call obj,common/tools/argo-echo.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/argo-stream: $(call obj,common/tools/argo-stream.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/test-ring: $(call obj,tests/unit/test_ring.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

# relay/dedup.c alone, with the fabric and the relay's log stubbed.
$(BIN)/test-dedup: $(call obj,tests/unit/test_dedup.c relay/dedup.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-routed: $(call obj,tests/unit/test_routed.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-sim-fabric: $(call obj,tests/unit/test_sim_fabric.c) $(LIBSIMFABRIC)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-simd-hostile: $(call obj,tests/integration/test_simd_hostile.c) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit $(LDLIBS) -o $@

$(BIN)/test-wire: $(call obj,tests/unit/test_wire.c) $(LIBRELAY)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit -lcrypto $(LDLIBS) -o $@

$(BIN)/test-auth: $(call obj,tests/unit/test_auth.c) $(LIBRELAY)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcunit -lcrypto $(LDLIBS) -o $@

$(BIN)/test-mitm: $(call obj,tests/integration/mitm.c) $(LIBRELAY)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -lcrypto $(LDLIBS) -o $@

$(LIBRELAYCORE): $(call obj,$(RELAY_CORE_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

RELAYD_SRC := relay/relayd.c relay/link.c relay/routes.c relay/local.c relay/dedup.c relay/control.c

$(BIN)/argo-relayd: $(call obj,$(RELAYD_SRC)) $(LIBRELAYCORE) $(LIBRELAY) $(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih -lcrypto $(LDLIBS) -o $@

$(BIN)/argo-relayctl: $(call obj,relay/relayctl.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BIN)/test-relay-config: $(call obj,tests/unit/test_relay_config.c) $(LIBRELAYCORE) $(LIBRELAY) \
		$(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih -lcrypto -lcunit $(LDLIBS) -o $@

$(BIN)/test-transport: $(call obj,tests/unit/test_transport.c) $(LIBRELAYCORE) $(LIBRELAY) \
		$(LIBARGO)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ -linih -lcrypto -lcunit $(LDLIBS) -o $@

# libFuzzer targets: clang with ASan/UBSan (any UB aborts), built from the
# sources directly (not from $(OBJ)). `make fuzz` runs each on a scratch copy
# of its seed corpus so that the committed corpus stays small; crash inputs
# land in $(BUILD)/fuzz/artifacts/. Not part of `make check`.
FUZZ_CFLAGS := -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	       -Wall -Wextra -Werror -Icommon/include -Icommon

$(BUILD)/fuzz/fuzz-wire: tests/fuzz/fuzz_wire.c common/wire.c common/wire.h common/include/argo/abi.h
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) tests/fuzz/fuzz_wire.c common/wire.c -o $@

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
		-Icommon/include -Icommon -Il0 -Irelay common l0 relay tests

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
.PHONY: kmod kmod-clean e2e
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

$(BIN)/argo-dev-test: $(call obj,l1/test/argo-dev-test.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

# virtio-argo in the images: the device side (argo-vdevd and the vhost-user
# back ends it drives, from Debian's qemu-system-common), e2fsprogs for the
# guest's file system checks, a block benchmark.
IMAGE_BINS := $(PROGRAMS) $(BIN)/argo-dev-test $(BIN)/argo-vdevd $(BIN)/argo-vdevctl \
	$(BIN)/argo-blkbench
IMAGE_HOST_BINS := /usr/bin/qemu-storage-daemon /usr/lib/qemu/virtiofsd /usr/sbin/mke2fs \
	/usr/sbin/e2fsck
IMAGES_EXTRA_KO := $(VIRTIO_ARGO_KO)

$(BIN)/argo-blkbench: $(call obj,l1/test/argo-blkbench.c)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

include images/images.mk

e2e: images
	@BUILD=$(BUILD) E2E='$(E2E)' harness/e2e.sh

# Benchmarks (not tests): results in $(BUILD)/bench/results.txt, discussed
# in docs/benchmarks.md.
.PHONY: bench
bench: deps
	@$(MAKE) --no-print-directory all
	@BUILD=$(BUILD) harness/bench.sh

# ---- virtio-argo (docs/virtio-argo.md): the message decoder, the device
# side argo-vdevd (vdev/), its tests and fuzzer. Self-contained block. ----
CFLAGS += -Ivdev
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
		-Icommon/include -Icommon -Il1/include/uapi -Ivdev vdev tests/vdev

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
