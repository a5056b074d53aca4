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
COUNT=${BENCH_COUNT:-15000}
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

# Three topologies up at once, measured in turns (2 levels, 3 levels,
# 2 levels with socat in the link, again and again), so that the machine's
# drift lands on all three alike; the hop costs are medians of the per-turn
# differences.
ALL_RELAYS=()
ECHOS=()
bring_up() { # bring_up DIR LEVELS
	mkdir -p "$1"
	chain_up "$1" "$BIN" "$2" unix || exit 1
	ALL_RELAYS+=("${CHAIN_RELAY_PIDS[@]}")
}
echo_at() { # echo_at SOCKET
	"$BIN/argo-echo" --fabric "sim:$1" --port 7000 >"$1.echo.log" 2>&1 &
	ECHOS+=($!)
	wait_for_line "$1.echo.log" "serving port 7000" 5 || exit 1
}
stop_all() {
	local p
	for p in "${ECHOS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	for p in "${ALL_RELAYS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	ECHOS=() ALL_RELAYS=() CHAIN_RELAY_PIDS=()
	chain_down >/dev/null 2>&1
	pkill -KILL -f "UNIX-LISTEN:$RUN/" 2>/dev/null
}

bring_up "$RUN/c2" 2
echo_at "$RUN/c2/l0-dom5.sock"
bring_up "$RUN/c3" 3
echo_at "$RUN/c3/l0-dom5.sock"
bring_up "$RUN/cs" 2
kill -TERM "${CHAIN_RELAY_PIDS[1]}" && wait "${CHAIN_RELAY_PIDS[1]}"
sed -i "s|^connect = $RUN/cs/l0-down.sock|connect = $RUN/cs/socat.sock|" "$RUN/cs/l1.conf"
socat UNIX-LISTEN:"$RUN/cs/socat.sock",fork,unlink-early UNIX-CONNECT:"$RUN/cs/l0-down.sock" 2>/dev/null &
chain_start_relay "$RUN/cs" "$BIN" 1 && chain_wait_link "$RUN/cs" "$BIN" 1 up 10 || exit 1
ALL_RELAYS+=("${CHAIN_RELAY_PIDS[1]}")
echo_at "$RUN/cs/l0-dom5.sock"

ROUNDS=${BENCH_ROUNDS:-27}
per=$(( COUNT / ROUNDS > 200 ? COUNT / ROUNDS : 200 ))
rtt_of() { "$BIN/argo-ping" --fabric "sim:$1" --to 0:7000 --count "$per" --size "$SIZE" | ping_stats; }
# CPU time (user + system, clock ticks) of a process: the middle relay of
# the 3 levels and the socat child that carries the link, over all turns.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
middle=${ALL_RELAYS[3]} # c2's two relays, then c3's l0, l1, l2
socat_child=$(pgrep -f "UNIX-LISTEN:$RUN/cs/socat.sock" | sort -n | tail -n 1)
middle_t0=$(cpu_ticks "$middle")
: >"$RUN/turns"
# The order rotates from turn to turn, so that no topology always runs
# first (or always right after another one).
for ((t = 0; t < ROUNDS; t++)); do
	for ((k = 0; k < 3; k++)); do
		case $(((t + k) % 3)) in
		0) read -r a _ < <(rtt_of "$RUN/c2/l1.sock") ;;
		1) read -r b _ < <(rtt_of "$RUN/c3/l2.sock") ;;
		2) read -r c _ < <(rtt_of "$RUN/cs/l1.sock") ;;
		esac
	done
	echo "$a $b $c" >>"$RUN/turns"
done
middle_ticks=$(( $(cpu_ticks "$middle") - middle_t0 ))
socat_ticks=$(cpu_ticks "$socat_child")
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
c2_50=$(awk '{ print $1 }' "$RUN/turns" | median)
c3_50=$(awk '{ print $2 }' "$RUN/turns" | median)
s50=$(awk '{ print $3 }' "$RUN/turns" | median)
relay_hop=$(awk '{ printf "%.1f\n", $2 - $1 }' "$RUN/turns" | median)
socat_hop=$(awk '{ printf "%.1f\n", $3 - $1 }' "$RUN/turns" | median)

# Throughput through 2 levels: the stream receiver takes the echo's place.
kill -TERM "${ECHOS[0]}" && wait "${ECHOS[0]}"
"$BIN/argo-stream" recv --fabric "sim:$RUN/c2/l0-dom5.sock" --port 7000 --count 20000 --min-size 65536 --max-size 65536 --ring-len 1048576 >"$RUN/r2.log" 2>&1 &
rpid=$!
wait_for_line "$RUN/r2.log" "receiving" 5
"$BIN/argo-stream" send --fabric "sim:$RUN/c2/l1.sock" --to 0:7000 --count 20000 --min-size 65536 --max-size 65536 >"$RUN/s2.log" 2>&1
wait "$rpid"
chain_mbs=$(sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r2.log")
bytes_l1=$("$BIN/argo-relayctl" -s "$RUN/c2/l1.ctl" links | sed -n 's/.*bytes \([0-9]*\)\/.*/\1/p' | head -n 1)
stop_all

say "median over $ROUNDS interleaved turns of $per round trips each (p50 of each turn):"
say "rtt 2 levels (2 relays, 1 link):  p50 ${c2_50} us"
say "rtt 3 levels (3 relays, 2 links): p50 ${c3_50} us"
say "rtt 2 levels + socat in the link: p50 ${s50} us"
ratio=$(awk -v r="$relay_hop" -v s="$socat_hop" 'BEGIN { if (s > 0) printf "%.2f", r / s; else print "n/a (socat hop <= 0)" }')
say "added by one more relay hop: ${relay_hop} us; by a socat hop: ${socat_hop} us (medians of per-turn differences); ratio relay/socat ${ratio}"
hz=$(getconf CLK_TCK)
msgs=$(( ROUNDS * per * 2 ))
say "cpu per message (user + system): middle relay $(awk -v t="$middle_ticks" -v hz="$hz" -v m="$msgs" 'BEGIN { printf "%.1f", t / hz / m * 1e6 }') us, socat $(awk -v t="$socat_ticks" -v hz="$hz" -v m="$msgs" 'BEGIN { printf "%.1f", t / hz / m * 1e6 }') us ($msgs messages through each)"
say "stream 64 KiB direct (one fabric): ${direct_mbs} MB/s"
say "stream 64 KiB through 2 levels:    ${chain_mbs} MB/s (link l1->l0 carried ${bytes_l1} bytes, TLS 1.3)"
if [ -x "$BIN/bench-auth" ]; then
	say "$("$BIN/bench-auth")"
fi
# Leaf endpoints against a sim domain, in the same run (harness/bench-leaf.sh).
BUILD="$BUILD" "$(dirname "$0")/bench-leaf.sh" >>"$results" 2>&1 || say "bench-leaf failed"
tail -n 5 "$results"
echo "results in $results"
