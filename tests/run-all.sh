#!/bin/bash
# Runs every test suite of `make check`, for the plain build and the
# ASan/UBSan build, then the include graph and cppcheck, then the scenarios
# of group `check`: xen-conformance, relay-vsock and xen-l1-driver-at-l0
# (real Xen in QEMU, libvirt; ARGO_CHECK_XEN=0 leaves them out). Each suite prints its own
# "N passed, N failed" line; this script adds them up and ends with one such
# line for everything. Logs: $BUILD/test-logs/.
#
# Usage: tests/run-all.sh BUILD_DIR
set -u

BUILD=${1:-build}
LOGS="$BUILD/test-logs"
rm -rf "$LOGS"
mkdir -p "$LOGS"
TMP=$(mktemp -d /tmp/argo-check.XXXXXX)
# shellcheck source=harness/lib.sh
. "$(dirname "$0")/../harness/lib.sh"
trap 'rm -rf "$TMP"' EXIT


# Adds a suite's counts from its log (its last "N passed, N failed" line).
# A suite that exits non-zero without counting a failure, or prints no
# summary, counts one failure: a crash must never look like a pass.
account() {
	local name=$1 rc=$2 log=$3 secs=${4:-0} line p=0 f=0 s=0
	line=$(grep -E '^([A-Za-z0-9-]+: )?[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?$' "$log" | tail -n 1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/^([A-Za-z0-9-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$line")
		if grep -q skipped <<<"$line"; then
			s=$(sed -E 's/.* ([0-9]+) skipped$/\1/' <<<"$line")
		fi
	fi
	if [ -z "$line" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
		f=$((f + 1))
		echo "suite $name: exit status $rc (see $log)"
	fi
	if [ "$f" -gt 0 ]; then
		grep -E '^(FAIL|  *[0-9]+\. )|Test: .*FAILED|ERROR: |runtime error' "$log" | head -n 20 | sed 's/^/    /'
	fi
	echo "$p $f $s" >>"$TMP/counts"
	printf 'suite %-32s %4d ok %4d failed %4d skipped %5d s\n' "$name" "$p" "$f" "$s" "$secs"
}

run_suite() {
	local name=$1
	shift
	local log="$LOGS/$name.log" t0=$SECONDS rc
	"$@" >"$log" 2>&1
	rc=$?
	account "$name" $rc "$log" $((SECONDS - t0))
}

# The conformance suite against a fresh daemon.
conformance() {
	local bin=$1 mac=$2 sock="$TMP/conf-$2-$RANDOM.sock" log=$3 pid rc
	local flags=()
	[ "$mac" = yes ] && flags=(-m)
	pid=$(start_simd "$bin" "$sock" "$log.simd" "${flags[@]}") || return 1
	"$bin/argo-conformance" --fabric "sim:$sock" --mac-permissive "$mac"
	rc=$?
	stop_simd "$pid" "$log.simd" || rc=1
	return $rc
}

# The conformance suite with its other domains remote (--peer remote:DIR):
# four argo-conformance-peer, each a domain of the same fresh daemon, as the
# xen-conformance scenario drives PV domUs on Xen. The teardown cases end
# three of them (DIE).
conformance_remote() {
	local bin=$1 log=$2 dir="$TMP/peers-$RANDOM" sock pid rc=0 i
	sock=$dir/sim.sock
	mkdir -p "$dir/pool"
	pid=$(start_simd "$bin" "$sock" "$log.simd" -m) || return 1
	for i in 1 2 3 4; do
		"$bin/argo-conformance-peer" --fabric "sim:$sock" --listen "$dir/pool/$i.sock" -d \
			--pidfile "$dir/peer$i.pid" 2>>"$log.peers" || rc=1
	done
	[ $rc -ne 0 ] || "$bin/argo-conformance" --fabric "sim:$sock" --peer "remote:$dir/pool" \
		--peer-wait 5 --mac-permissive yes
	rc=$((rc | $?))
	for i in 1 2 3 4; do
		if [ -f "$dir/peer$i.pid" ] && kill -0 "$(cat "$dir/peer$i.pid")" 2>/dev/null; then
			kill -TERM "$(cat "$dir/peer$i.pid")" 2>/dev/null
		fi
	done
	stop_simd "$pid" "$log.simd" || rc=1
	if grep -qE 'Sanitizer|runtime error' "$log.peers" 2>/dev/null; then
		echo "argo-conformance-peer: sanitizer report in $log.peers"
		rc=1
	fi
	return $rc
}

# The demo's exchange on a fresh daemon: two programs, many messages. The
# echo service connects on a static socket, so its domid is known (5).
ping_echo() {
	local bin=$1 sock="$TMP/pe-$RANDOM.sock" log=$2 pid epid rc
	pid=$(start_simd "$bin" "$sock" "$log.simd" -m -D "5=$sock.echo") || return 1
	"$bin/argo-echo" --fabric "sim:$sock.echo" --port 7000 >"$log.echo" 2>&1 &
	epid=$!
	wait_for_line "$log.echo" "serving port 7000" 5 &&
		"$bin/argo-ping" --fabric "sim:$sock" --to 5:7000 --count 2000 --size 200 --timeout 5000
	rc=$?
	kill -TERM "$epid" 2>/dev/null
	wait "$epid" || rc=1
	stop_simd "$pid" "$log.simd" || rc=1
	if [ $rc -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
	return $rc
}

# The three-level relay demo (make demo) as a test: its exit status says
# whether every reply came back intact, in order and once.
relay_demo() {
	local bin=$1
	if BUILD="${bin%/bin}" "$(dirname "$0")/../harness/demo.sh"; then
		echo "1 passed, 0 failed"
	else
		echo "0 passed, 1 failed"
		return 1
	fi
}

# Runs a command with argo-simd on its epoll engine (io_uring is the
# default where the kernel has it; docs/sim-fabric.md, "Design").
epoll_engine() {
	(
		export ARGO_SIMD_ENGINE=epoll
		"$@"
	)
}

# The suites on sim, for one build: VARIANT is plain or san.
sim_suites() {
	local variant=$1 bin count asan
	if [ $variant = plain ]; then bin="$BUILD/bin"; else bin="$BUILD/san/bin"; fi
	export ARGO_SIMD="$bin/argo-simd"
	run_suite "$variant:unit-ring" "$bin/test-ring"
	run_suite "$variant:unit-bench-hist" "$bin/test-bench-hist"
	run_suite "$variant:unit-routed" "$bin/test-routed"
	run_suite "$variant:unit-dedup" "$bin/test-dedup"
	run_suite "$variant:unit-routes" "$bin/test-routes"
	run_suite "$variant:unit-router" "$bin/test-router"
	run_suite "$variant:unit-stream" "$bin/test-stream"
	run_suite "$variant:unit-util" "$bin/test-util"
	run_suite "$variant:unit-sim-fabric" "$bin/test-sim-fabric"
	run_suite "$variant:unit-wire" "$bin/test-wire"
	run_suite "$variant:unit-auth" "$bin/test-auth"
	run_suite "$variant:unit-session" "$bin/test-session"
	run_suite "$variant:unit-relay-config" "$bin/test-relay-config"
	run_suite "$variant:unit-transport" "$bin/test-transport"
	run_suite "$variant:simd-hostile" "$bin/test-simd-hostile"
	run_suite "$variant:conformance-mac" conformance "$bin" yes "$LOGS/$variant-conformance-mac"
	run_suite "$variant:simd-hostile-epoll" epoll_engine "$bin/test-simd-hostile"
	run_suite "$variant:conformance-mac-epoll" epoll_engine conformance "$bin" yes \
		"$LOGS/$variant-conformance-mac-epoll"
	run_suite "$variant:conformance-nomac" conformance "$bin" no "$LOGS/$variant-conformance-nomac"
	run_suite "$variant:conformance-remote" conformance_remote "$bin" "$LOGS/$variant-conformance-remote"
	run_suite "$variant:ping-echo" ping_echo "$bin" "$LOGS/$variant-ping-echo"
	run_suite "$variant:relay-chain-demo" relay_demo "$bin"
	if [ $variant = plain ]; then count=100000 asan=""; else count=20000 asan=1; fi
	run_suite "$variant:relay-integration" env RELAY_TEST_COUNT=$count ASAN_BUILD=$asan \
		"$(dirname "$0")/integration/test-relay.sh" "$bin"
	run_suite "$variant:relay-argo-link" env RELAY_TEST_COUNT=20000 \
		"$(dirname "$0")/integration/test-relay-argo.sh" "$bin"
	# Leaf endpoints: libargo's link: backend, served by argo-relayd.
	run_suite "$variant:unit-leaf" "$bin/test-leaf"
	if [ $variant = plain ]; then count=20000; else count=5000; fi
	run_suite "$variant:leaf-endpoint" env LEAF_TEST_COUNT=$count \
		"$(dirname "$0")/integration/test-leaf.sh" "$bin"
	run_suite "$variant:relay-serial-link" env RELAY_TEST_COUNT=10000 \
		"$(dirname "$0")/integration/test-relay-serial.sh" "$bin"
	# The relay as an operator meets it (issue 13): quiet idle links,
	# ping_ms, the control socket, signals and reload, argo-relayctl.
	run_suite "$variant:relay-ops" "$(dirname "$0")/integration/test-relay-ops.sh" "$bin"
	# Attacks on links (issue 14): strangers and rogue neighbours.
	run_suite "$variant:link-attacks" env ASAN_BUILD=$asan \
		"$(dirname "$0")/integration/test-link-attacks.sh" "$bin"
	# virtio-argo: the decoder, then argo-vdevd against a user-space
	# driver, qemu-storage-daemon and virtiofsd (docs/virtio-argo.md).
	run_suite "$variant:unit-vmsg" "$bin/test-vmsg"
	run_suite "$variant:unit-vdev-config" "$bin/test-vdev-config"
	run_suite "$variant:vdev-conformance" "$bin/vdev-conformance" --bin "$bin"
	# The same, argo-vdevd a leaf endpoint (link:) whose domain a relay holds.
	run_suite "$variant:vdev-conformance-leaf" "$bin/vdev-conformance" --bin "$bin" --leaf
	run_suite "$variant:ops-cli" "$(dirname "$0")/ops/cli.sh" "$bin"
	# The same device through two relays (virtio-argo-l1-to-l0 on sim).
	run_suite "$variant:vdev-relay" "$(dirname "$0")/integration/test-vdev-relay.sh" "$bin"
}

# The plain and the sanitizer builds' suites side by side (ARGO_CHECK_JOBS=1:
# one after the other): most of their time is spent waiting on round trips,
# time-outs and restarts, not computing, and every suite makes its own
# temporary folders, sockets and ports. Each variant's lines are printed
# whole when it ends.
#
# Three jobs that need no VM go to whichever stream is done first (each
# takes the next unclaimed one, a mkdir being the claim), so that neither
# core idles at the end of the parallel part: the scenarios' images
# (`make images kmod`: Xen built from source on a fresh machine, about 4
# minutes; 2 s when cached; a failure is only logged, `make e2e` tries
# again and says why), the Debian packages (mostly downloads) and the
# fuzzers.
prebuild_images() {
	local t0=$SECONDS
	[ "${ARGO_CHECK_XEN:-1}" != 0 ] || return 0
	if make --no-print-directory BUILD="$BUILD" images kmod >"$LOGS/images.log" 2>&1; then
		echo "images: ready in $((SECONDS - t0)) s (log: $LOGS/images.log)"
	else
		echo "images: failed after $((SECONDS - t0)) s, make e2e will try again: $(tail -n 1 "$LOGS/images.log")"
	fi
}
# The Debian packages (issue 13, docs/install.md): dpkg-buildpackage,
# lintian, DKMS, a debootstrap chroot booted with systemd.
# ARGO_CHECK_PACKAGES=0 leaves them out.
ops_packages() {
	[ "${ARGO_CHECK_PACKAGES:-1}" != 0 ] || return 0
	"$(dirname "$0")/../harness/install-deps.sh" packaging
	run_suite ops-packages "$(dirname "$0")/ops/packages.sh" "$BUILD"
}
# Under libFuzzer (clang; ASan/UBSan built in), shorter than `make fuzz`'s
# defaults (make check's budget): the link decoder for 20 s, the handshake,
# the virtio-argo decoder, argo-simd's client protocol, the relay's
# configuration reader and routed mode's forms for 10 s each.
fuzz_suite() {
	if make --no-print-directory BUILD="$BUILD" fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-20}" \
		FUZZ_HANDSHAKE_SECONDS="${FUZZ_HANDSHAKE_SECONDS:-10}" \
		FUZZ_VMSG_SECONDS="${FUZZ_VMSG_SECONDS:-10}" FUZZ_MORE_SECONDS="${FUZZ_MORE_SECONDS:-10}"; then
		echo "1 passed, 0 failed"
	else
		echo "0 passed, 1 failed"
		return 1
	fi
}
shared_jobs() {
	local job
	for job in prebuild_images ops_packages fuzz; do
		mkdir "$TMP/claim-$job" 2>/dev/null || continue
		case $job in
		fuzz) run_suite fuzz-wire fuzz_suite ;;
		*) $job ;;
		esac
	done
}
if [ "${ARGO_CHECK_JOBS:-2}" -gt 1 ]; then
	{
		sim_suites plain
		shared_jobs
	} >"$TMP/plain.out" 2>&1 &
	plain_pid=$!
	{
		sim_suites san
		shared_jobs
	} >"$TMP/san.out" 2>&1
	wait "$plain_pid"
	cat "$TMP/plain.out" "$TMP/san.out"
else
	sim_suites plain
	sim_suites san
fi

# The harness's own parts that need no VM: the scenario table, the list,
# l0/argo-deploy's refusals, dry run and deployment on sockets.
run_suite harness "$(dirname "$0")/integration/test-harness.sh" "$BUILD/bin"

# `make bench BENCH=quick` (the sim paths, under a minute), then the check of
# its report's structure and sanity (never its speed: docs/benchmarks.md).
bench_quick() {
	if ! BUILD="$BUILD" BENCH=quick "$(dirname "$0")/../harness/bench.sh" >"$LOGS/bench.out" 2>&1; then
		tail -n 20 "$LOGS/bench.out"
		echo "0 passed, 1 failed"
		return 1
	fi
	python3 "$(dirname "$0")/../harness/bench-report.py" --check "$BUILD/bench"
}
run_suite bench-quick bench_quick

# Operability (issue 13, docs/install.md): man pages, the tree's licences
# and version, make install, the quick start run as written, and the Debian
# packages (built, lintian, DKMS, installed into a debootstrap chroot that
# is booted with systemd). ARGO_CHECK_PACKAGES=0 leaves the packages out.
"$(dirname "$0")/../harness/install-deps.sh" packaging
run_suite ops-man "$(dirname "$0")/ops/man.sh" "$BUILD"
run_suite ops-tree "$(dirname "$0")/ops/tree.sh"
run_suite ops-install "$(dirname "$0")/ops/install.sh" "$BUILD"
run_suite ops-quickstart "$(dirname "$0")/ops/quickstart.sh" "$BUILD/bin"
[ "${ARGO_CHECK_JOBS:-2}" -gt 1 ] || ops_packages

[ "${ARGO_CHECK_JOBS:-2}" -gt 1 ] || run_suite fuzz-wire fuzz_suite

# The include graph: no wrong-way include, no cycle in relay/ or common/.
run_suite include-graph "$(dirname "$0")/include-graph.sh"

cppcheck_suite() {
	if make --no-print-directory cppcheck; then
		echo "1 passed, 0 failed"
	else
		echo "0 passed, 1 failed"
		return 1
	fi
}
run_suite cppcheck cppcheck_suite

# The conformance suite on real Xen (Xen with Argo, dom0 and PV domUs in
# QEMU), compared case by case with sim: `make e2e E2E=xen-conformance`,
# which builds Xen, the kernel module and the images first when needed
# (docs/xen-fabric.md). Its cases count here, from the scenario's summary
# line; details in $BUILD/harness/xen-conformance/.
# One end-to-end scenario, NAME, through `make e2e`; its cases count here,
# from its summary line.
e2e_scenario() {
	local name=$1 summary="$BUILD/harness/$1/summary.txt" rc line
	rm -f "$summary"
	make --no-print-directory BUILD="$BUILD" e2e E2E="$name"
	rc=$?
	line=$(cat "$summary" 2>/dev/null)
	echo "$line"
	if [[ "$line" =~ \(([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped\) ]]; then
		echo "$name: ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped"
	fi
	return $rc
}
xen_conformance() { e2e_scenario xen-conformance; }
# The relay on real Xen (argo.ko in dom0) linked over AF_VSOCK (the
# guest's vsock_loopback) to a relay on sim: harness/scenarios/relay-vsock.sh.
relay_vsock() { e2e_scenario relay-vsock; }
# The headline: a driver domain at L0 (a libvirt VM) serving a domU of
# an L1 Xen (another libvirt VM) through three relays, with faults
# (docs/harness.md).
headline() { e2e_scenario xen-l1-driver-at-l0; }
# virtio-argo on Xen: a guest's /dev/vda and virtiofs mount from a driver
# domain (l1/test/scenarios/virtio-argo-xen.sh), then the same device for
# an L1 domU served from an L0 VM through the relays
# (virtio-argo-l1-to-l0), each with its direct vhost-user-blk baseline.
# About 2 and 3 minutes under TCG on the 2-core machine
# (docs/virtio-argo.md, "Measured"). ARGO_CHECK_VIRTIO=0 leaves them out.
virtio_argo_xen() { e2e_scenario virtio-argo-xen; }
virtio_argo_l1_to_l0() { e2e_scenario virtio-argo-l1-to-l0; }
if [ "${ARGO_CHECK_XEN:-1}" != 0 ]; then
	run_suite xen-conformance xen_conformance
	run_suite relay-vsock relay_vsock
	run_suite xen-l1-driver-at-l0 headline
	if [ "${ARGO_CHECK_VIRTIO:-1}" != 0 ]; then
		run_suite virtio-argo-xen virtio_argo_xen
		run_suite virtio-argo-l1-to-l0 virtio_argo_l1_to_l0
	fi
fi

read -r total_pass total_fail total_skip < <(awk '{ p += $1; f += $2; s += $3 } END { print p + 0, f + 0, s + 0 }' "$TMP/counts" 2>/dev/null)
echo
echo "all suites in $SECONDS s (the time of each is the last column above)"
if [ "$total_skip" -gt 0 ]; then
	echo "$total_pass passed, $total_fail failed, $total_skip skipped"
else
	echo "$total_pass passed, $total_fail failed"
fi
[ "$total_fail" -eq 0 ]
