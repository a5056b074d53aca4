#!/bin/bash
# Leaf endpoints against a domain of the fabric itself, in one run (part of
# `make bench`; alone: BUILD=build harness/bench-leaf.sh). One argo-simd,
# an argo-echo as its domain 5, a relay holding two leaves' domains: one
# over a unix socket, one over a pty pair as a serial line (what a
# virtio-serial port is to a guest). Interleaved turns of argo-ping:
#
#   sim    a sim domain (the dynamic socket) -> echo
#   unix   the leaf over unix               -> echo
#   serial the leaf over the pty             -> echo
#
# then 64 KiB streams sim -> echo's domain, sim -> leaf and leaf -> sim.
# Prints medians of the turns' p50 and the ratios to sim; writes them to
# $BUILD/bench/leaf.txt too.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
OUT="$BUILD/bench"
mkdir -p "$OUT"
RUN=$(mktemp -d /tmp/argo-bench-leaf.XXXXXX)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim-chain.sh" # chain_key
ROUNDS=${BENCH_ROUNDS:-15}
PER=${BENCH_LEAF_PER:-500}
SIZE=${BENCH_SIZE:-64}

PIDS=()
cleanup() {
	local i
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		kill -TERM "${PIDS[$i]}" 2>/dev/null
		wait "${PIDS[$i]}" 2>/dev/null
	done
	rm -rf "$RUN"
}
trap cleanup EXIT
: >"$OUT/leaf.txt"
say() { echo "$*" | tee -a "$OUT/leaf.txt"; }

simd=$(start_simd "$BIN" "$RUN/sim.sock" "$RUN/simd.log" -m -D "1=$RUN/relay.sock" \
	-D "5=$RUN/dom5.sock" -D "7=$RUN/u-dom.sock" -D "8=$RUN/s-dom.sock") || exit 1
PIDS+=("$simd")
socat pty,raw,echo=0,link="$RUN/pty-a" pty,raw,echo=0,link="$RUN/pty-b" 2>/dev/null &
PIDS+=($!)
chain_key "$RUN/u.key"
chain_key "$RUN/s.key"
for t in $(seq 100); do [ -e "$RUN/pty-b" ] && break; sleep 0.05; done
cat >"$RUN/l0.conf" <<EOF
[relay]
hvid = l0
fabric = sim:$RUN/relay.sock
control = $RUN/l0.ctl
[link u]
transport = unix
listen = $RUN/u.sock
peer = u
key = u.key
leaf = sim:$RUN/u-dom.sock
[link s]
transport = serial
connect = $RUN/pty-a
peer = s
key = s.key
leaf = sim:$RUN/s-dom.sock
EOF
"$BIN/argo-relayd" "$RUN/l0.conf" 2>"$RUN/relay.log" &
PIDS+=($!)
for t in $(seq 100); do "$BIN/argo-relayctl" -s "$RUN/l0.ctl" status >/dev/null 2>&1 && break; sleep 0.05; done
"$BIN/argo-echo" --fabric "sim:$RUN/dom5.sock" --port 7000 >"$RUN/echo.log" 2>&1 &
PIDS+=($!)
wait_for_line "$RUN/echo.log" "serving port 7000" 5 || exit 1
U="link:unix:$RUN/u.sock?key=$RUN/u.key&hvid=l0&name=u"
S="link:serial:$RUN/pty-b?key=$RUN/s.key&hvid=l0&name=s"

p50() { sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p'; }
rtt() { "$BIN/argo-ping" --fabric "$1" --to 5:7000 --count "$PER" --size "$SIZE" | p50; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
: >"$RUN/turns"
for ((t = 0; t < ROUNDS; t++)); do
	for ((k = 0; k < 3; k++)); do
		case $(((t + k) % 3)) in
		0) a=$(rtt "sim:$RUN/sim.sock") ;;
		1) b=$(rtt "$U") ;;
		2) c=$(rtt "$S") ;;
		esac
	done
	echo "$a $b $c" >>"$RUN/turns"
done
sim50=$(awk '{ print $1 }' "$RUN/turns" | median)
u50=$(awk '{ print $2 }' "$RUN/turns" | median)
s50=$(awk '{ print $3 }' "$RUN/turns" | median)
ru=$(awk '{ printf "%.2f\n", $2 / $1 }' "$RUN/turns" | median)
rs=$(awk '{ printf "%.2f\n", $3 / $1 }' "$RUN/turns" | median)

# 64 KiB streams: to the echo's domain (sim), to the unix leaf, from it.
stream() { # stream RECV_URI PORT SEND_URI TO
	"$BIN/argo-stream" recv --fabric "$1" --port "$2" --count 5000 --min-size 65536 \
		--max-size 65536 --ring-len 1048576 >"$RUN/r.log" 2>&1 &
	local r=$!
	wait_for_line "$RUN/r.log" "receiving" 10 >/dev/null
	"$BIN/argo-stream" send --fabric "$3" --to "$4" --count 5000 --min-size 65536 \
		--max-size 65536 >/dev/null 2>&1
	wait "$r"
	sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r.log"
}
kill -TERM "${PIDS[-1]}" && wait "${PIDS[-1]}" 2>/dev/null
unset 'PIDS[-1]'
m_sim=$(stream "sim:$RUN/dom5.sock" 7001 "sim:$RUN/sim.sock" 5:7001)
m_to=$(stream "$U" 7002 "sim:$RUN/sim.sock" 7:7002)
m_from=$(stream "sim:$RUN/dom5.sock" 7003 "$U" 5:7003)

say "leaf endpoints, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus: median over $ROUNDS interleaved turns of $PER round trips of $SIZE bytes (p50 of each turn)"
say "rtt sim domain -> echo:              p50 ${sim50} us"
say "rtt leaf over unix -> echo:          p50 ${u50} us (x${ru} of sim, median of per-turn ratios)"
say "rtt leaf over a pty (serial) -> echo: p50 ${s50} us (x${rs} of sim)"
say "stream 64 KiB sim -> sim domain: ${m_sim} MB/s; sim -> leaf: ${m_to} MB/s; leaf -> sim: ${m_from} MB/s"
