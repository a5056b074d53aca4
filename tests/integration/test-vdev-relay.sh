#!/bin/bash
# virtio-argo through relays, on sim (what virtio-argo-l1-to-l0 does on
# nested Xen, at host speed): a two-level chain (harness/sim-chain.sh); at
# l0, argo-vdevd (domain 5) serves a qemu-storage-daemon export to domain
# 0, the relay, which stands for every remote frontend; relay l1 imports
# the bus port and device 0's port at the same ports of its domain; a
# user-space driver at l1 (vdrv-blk, domain 5 of l1) talks to (0, bus
# port) as virtio_argo.ko would: HELLO, ATTACH, 1 MiB writes and reads,
# random 4 KiB reads, every byte compared. Messages fit the relays' 256 KiB
# rings: device rings of 256 KiB (at most 128 KiB a message), max_rx 128 KiB.
#
# Usage: tests/integration/test-vdev-relay.sh BIN_DIR
set -u
BIN=${1:-build/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
. "$HERE/results.sh"

DIR=$(mktemp -d /tmp/argo-vdev-relay.XXXXXX)
EXTRA_PIDS=()
cleanup() {
	local pid
	for pid in "${EXTRA_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	chain_down >/dev/null 2>&1
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ! command -v qemu-storage-daemon >/dev/null; then
	skipped vdev-relay "no qemu-storage-daemon (harness/install-deps.sh virtio)"
	results_summary
	exit $?
fi

BUS=$((0x56410000))
rules="rule = allow src l1 dst l0:5:$BUS
rule = allow src l1 dst l0:5:$((BUS + 1))
rule = allow src l0:5:$BUS dst l1
rule = allow src l0:5:$((BUS + 1)) dst l1"
CHAIN_POLICY_0=$rules
CHAIN_POLICY_1=$rules
CHAIN_EXTRA_CONF_1="[imports]
$BUS = l0:5:$BUS
$((BUS + 1)) = l0:5:$((BUS + 1))"
if ! chain_up "$DIR" "$BIN" 2 >"$DIR/chain.log" 2>&1; then
	result vdev-relay-chain 1 "$(tail -n 1 "$DIR/chain.log")"
	results_summary
	exit 1
fi

truncate -s 64M "$DIR/disk.raw"
qemu-storage-daemon --blockdev "driver=file,node-name=f0,filename=$DIR/disk.raw" \
	--export "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=$DIR/blk0.sock,writable=on" \
	>"$DIR/qsd.log" 2>&1 &
EXTRA_PIDS+=($!)
cat >"$DIR/vdevd.conf" <<CONF
[vdevd]
fabric = sim:$DIR/l0-dom5.sock
control = $DIR/vdevd.ctl
[device blk0]
type = blk
number = 0
socket = $DIR/blk0.sock
frontend = 0
ring_len = 256K
CONF
wait_for_file() { local n=$(($2 * 20)); while [ $n -gt 0 ]; do [ -e "$1" ] && return 0; sleep 0.05; n=$((n - 1)); done; return 1; }
wait_for_file "$DIR/blk0.sock" 10
"$BIN/argo-vdevd" -v "$DIR/vdevd.conf" >"$DIR/vdevd.log" 2>&1 &
EXTRA_PIDS+=($!)
wait_for_file "$DIR/vdevd.ctl" 10

"$BIN/vdrv-blk" "sim:$DIR/l1-dom5.sock" 0 --mib 16 --reads 200 --max-rx 131072 >"$DIR/drv.log" 2>&1
rc=$?
sed 's/^/    /' "$DIR/drv.log"
result vdev-relay-blk $rc "$(tail -n 1 "$DIR/drv.log"); argo-vdevd: $(tail -n 1 "$DIR/vdevd.log")"
# Through both relays nothing was undeliverable (a message too large for a
# relay's ring would be), and each delivered what the other read.
for l in 0 1; do
	"$BIN/argo-relayctl" -s "$DIR/l$l.ctl" counters --json >"$DIR/counters-l$l.json" 2>&1
done
why=$(python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
c = [json.load(open(f"{d}/counters-l{l}.json"))["counters"] for l in (0, 1)]
bad = [f"l{l} undeliverable {k} {v}" for l in (0, 1) for k, v in c[l]["undeliverable"].items() if v]
if c[1]["local_rx"] != c[0]["local_delivered"] or c[0]["local_rx"] != c[1]["local_delivered"]:
    bad.append(f"l1 read {c[1]['local_rx']}, l0 delivered {c[0]['local_delivered']}; "
               f"l0 read {c[0]['local_rx']}, l1 delivered {c[1]['local_delivered']}")
print("; ".join(bad) or f"l1 -> l0 {c[1]['local_rx']} messages, l0 -> l1 {c[0]['local_rx']}")
sys.exit(1 if bad else 0)
PY
)
result vdev-relay-counters $? "$why"
echo "    relays: $why"
results_summary
