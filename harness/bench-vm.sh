#!/bin/bash
# The VM paths of `make bench BENCH=full` (harness/bench.sh calls this):
# one boot of the headline's VMs and deployment, the scenario
# bench-headline of harness/scenarios.cfg (group bench, not in make check),
# whose host hook harness/bench-vm.py measures intra-Xen Argo, a raw
# virtio-serial round trip and the headline path, each with argo-bench, in
# rotating turns; then its results go into RAW in bench.sh's formats
# (paths.tsv, lat/ID/turn-N.json, meta lines vm_*, vm/) for
# bench-report.py. docs/benchmarks.md explains the figures.
#
#   BUILD=build RAW=build/bench/raw harness/bench-vm.sh
#
# It boots QEMU and takes no lock itself: run it as make bench BENCH=full
# is run, under the machine's lock (flock -o /work/.heavy.lock ...).
# Knobs: BENCH_VM_TURNS, BENCH_VM_PER, BENCH_VM_SIZES, BENCH_VM_PATHS
# (harness/bench-vm.py), E2E_OPTS (--no-libvirt, --accel kvm|tcg).
set -u
BUILD=${BUILD:-build}
: "${RAW:?RAW is the folder harness/bench.sh measures into}"
HERE=$(cd "$(dirname "$0")" && pwd)
RAW=$(realpath -m "$RAW")
BUILD=$(realpath -m "$BUILD")
out=$BUILD/harness/bench-headline

echo "bench-vm: the scenario bench-headline (its progress, then the VM paths' figures)"
# shellcheck disable=SC2086 # options are words
BUILD=$BUILD "$HERE/run-scenario.sh" ${E2E_OPTS:-} bench-headline 2>&1 | sed 's/^/  /'
rc=${PIPESTATUS[0]}
grep '^bench-vm: ' "$out/host.log" 2>/dev/null | sed 's/^/  /'
src=$out/bench-raw
if [ "$rc" != 0 ]; then
	echo "bench-vm: bench-headline did not pass (exit $rc): $(cat "$out/summary.txt" 2>/dev/null)" >&2
	grep 'ARGO-E2E: CASE .* FAIL' "$out/console.txt" "$out"/*.log 2>/dev/null | head -n 10 >&2
	echo "bench-vm: what it measured is in $src; nothing goes into the report" >&2
	exit 1
fi
for id in vm-xen vm-serial-l1 vm-headline; do
	grep -q "^$id	" "$src/paths.tsv" 2>/dev/null || {
		echo "bench-vm: $id was not measured ($src/paths.tsv)" >&2
		exit 1
	}
done
mkdir -p "$RAW/lat" "$RAW/vm"
cp -r "$src/lat/." "$RAW/lat/"
cp "$src/vm/"* "$RAW/vm/"
cat "$src/paths.tsv" >>"$RAW/paths.tsv"
cat "$src/meta" >>"$RAW/meta"
echo "vm_scenario=$(cat "$out/summary.txt")" >>"$RAW/meta"
