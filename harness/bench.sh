#!/bin/bash
# `make bench`: latency and throughput of the sim fabric and of relay hops,
# every figure measured in the same run as its baseline (these machines are
# shared and noisy: compare ratios, not absolute numbers across runs).
# Writes build/bench/results.txt and prints it.
#
#   rtt direct      argo-ping -> argo-echo on one sim fabric (no relay)
#   rtt 2 levels    guest at l1 -> relay l1 -> link -> relay l0 -> echo at l0
#   rtt 3 levels    the same with a middle relay (one more relay hop)
#   rtt 2 + socat   2 levels with a socat forwarder spliced into the link
#                   (a plain byte-relay hop, the yardstick for a relay hop)
#   stream          64 KiB messages one way: direct, and through 2 levels
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
OUT="$BUILD/bench"
mkdir -p "$OUT"
RUN=$(mktemp -d /tmp/argo-bench.XXXXXX)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim-chain.sh"
COUNT=${BENCH_COUNT:-5000}
SIZE=${BENCH_SIZE:-64}

cleanup() {
	[ -n "${echo_pid:-}" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	pkill -KILL -f "UNIX-LISTEN:$RUN/" 2>/dev/null
	chain_down >/dev/null 2>&1
	rm -rf "$RUN"
}
trap cleanup EXIT

results="$OUT/results.txt"
: >"$results"
say() { echo "$*" | tee -a "$results"; }

# p50 and p99 (us) from argo-ping's summary line.
ping_stats() {
	sed -n 's/.*p50 \([0-9.]*\) us, p99 \([0-9.]*\) us.*/\1 \2/p'
}

start_echo() {
	"$BIN/argo-echo" --fabric "sim:$1" --port 7000 >"$RUN/echo.log" 2>&1 &
	echo_pid=$!
	wait_for_line "$RUN/echo.log" "serving port 7000" 5
}

stop_echo() {
	kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	echo_pid=""
}

say "argo-relay benchmarks, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus, $COUNT round trips of $SIZE bytes"

# --- Direct: one sim fabric.
pid=$(start_simd "$BIN" "$RUN/d.sock" "$RUN/d.log" -m -D "5=$RUN/d5.sock") || exit 1
start_echo "$RUN/d5.sock" || exit 1
read -r d50 d99 < <("$BIN/argo-ping" --fabric "sim:$RUN/d.sock" --to 5:7000 --count "$COUNT" --size "$SIZE" | ping_stats)
stop_echo
"$BIN/argo-stream" recv --fabric "sim:$RUN/d5.sock" --port 7001 --count 20000 --min-size 65536 --max-size 65536 >"$RUN/r.log" 2>&1 &
rpid=$!
wait_for_line "$RUN/r.log" "receiving" 5
"$BIN/argo-stream" send --fabric "sim:$RUN/d.sock" --to 5:7001 --count 20000 --min-size 65536 --max-size 65536 >/dev/null
wait "$rpid"
direct_mbs=$(sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r.log")
stop_simd "$pid" "$RUN/d.log"
say "rtt direct (one fabric):        p50 ${d50} us  p99 ${d99} us"

# Brings up a chain of LEVELS in $RUN/cLEVELS with the echo at L0 and
# measures the round trip from the innermost level into C50/C99.
chain_rtt() {
	local dir="$RUN/c$1" inner=$(( $1 - 1 ))
	mkdir -p "$dir"
	chain_up "$dir" "$BIN" "$1" unix || exit 1
	start_echo "$dir/l0-dom5.sock" || exit 1
	read -r C50 C99 < <("$BIN/argo-ping" --fabric "sim:$dir/l$inner.sock" --to 0:7000 \
		--count "$COUNT" --size "$SIZE" | ping_stats)
	stop_echo
}

chain_rtt 2
c2_50=$C50 c2_99=$C99
# Throughput through 2 levels while the chain is up.
"$BIN/argo-stream" recv --fabric "sim:$RUN/c2/l0-dom5.sock" --port 7000 --count 20000 --min-size 65536 --max-size 65536 --ring-len 1048576 >"$RUN/r2.log" 2>&1 &
rpid=$!
wait_for_line "$RUN/r2.log" "receiving" 5
"$BIN/argo-stream" send --fabric "sim:$RUN/c2/l1.sock" --to 0:7000 --count 20000 --min-size 65536 --max-size 65536 >/dev/null
wait "$rpid"
chain_mbs=$(sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r2.log")
bytes_l1=$("$BIN/argo-relayctl" -s "$RUN/c2/l1.ctl" links | sed -n 's/.*bytes \([0-9]*\)\/.*/\1/p' | head -n 1)

# --- 2 levels with a socat byte-forwarder spliced into the link.
kill -TERM "${CHAIN_RELAY_PIDS[1]}" && wait "${CHAIN_RELAY_PIDS[1]}"
sed -i "s|^connect = $RUN/c2/l0-down.sock|connect = $RUN/c2/socat.sock|" "$RUN/c2/l1.conf"
socat UNIX-LISTEN:"$RUN/c2/socat.sock",fork,unlink-early UNIX-CONNECT:"$RUN/c2/l0-down.sock" 2>/dev/null &
chain_start_relay "$RUN/c2" "$BIN" 1 && chain_wait_link "$RUN/c2" "$BIN" 1 up 10 || exit 1
start_echo "$RUN/c2/l0-dom5.sock" || exit 1
read -r s50 s99 < <("$BIN/argo-ping" --fabric "sim:$RUN/c2/l1.sock" --to 0:7000 --count "$COUNT" --size "$SIZE" | ping_stats)
stop_echo
chain_down >/dev/null 2>&1
pkill -KILL -f "UNIX-LISTEN:$RUN/" 2>/dev/null

chain_rtt 3
c3_50=$C50 c3_99=$C99
chain_down >/dev/null 2>&1

say "rtt 2 levels (2 relays, 1 link): p50 ${c2_50} us  p99 ${c2_99} us"
say "rtt 3 levels (3 relays, 2 links): p50 ${c3_50} us  p99 ${c3_99} us"
say "rtt 2 levels + socat in the link: p50 ${s50} us  p99 ${s99} us"
relay_hop=$(awk -v a="$c3_50" -v b="$c2_50" 'BEGIN { printf "%.1f", a - b }')
socat_hop=$(awk -v a="$s50" -v b="$c2_50" 'BEGIN { printf "%.1f", a - b }')
ratio=$(awk -v r="$relay_hop" -v s="$socat_hop" 'BEGIN { if (s > 0) printf "%.2f", r / s; else print "n/a" }')
say "added by one more relay hop (p50): ${relay_hop} us; by a socat hop (p50): ${socat_hop} us; ratio relay/socat ${ratio}"
say "stream 64 KiB direct (one fabric): ${direct_mbs} MB/s"
say "stream 64 KiB through 2 levels:    ${chain_mbs} MB/s (link l1->l0 carried ${bytes_l1} bytes, HMAC-SHA256 on every frame)"
if [ -x "$BIN/bench-auth" ]; then
	say "$("$BIN/bench-auth")"
fi
echo "results in $results"
