#!/bin/bash
# What a relay link costs (docs/benchmarks.md, "Link security"): figures,
# not a test. Run it on two builds to compare them (BIN=other/bin).
#
#   stream   64 KiB messages one way, on one sim fabric ("direct") and
#            through one relay hop (2 levels: relay l1, a unix link, relay
#            l0), in TURNS interleaved turns of COUNT messages; prints each
#            turn's MB/s and the median ratio hop/direct.
#            With BIN2 (another build's bin folder), a second chain of that
#            build is measured in the same turns (the order rotates), and
#            the ratio of the two hops is printed too: the way to compare
#            two builds on a machine whose speed changes by 2x.
#   callgrind  instructions per 64 B message of the middle relay of a
#            3-level chain (valgrind --tool=callgrind): two runs of N and 2N
#            ping round trips, each through the middle relay twice; the
#            difference divided by the 2N extra messages, so that start-up
#            and the handshake cancel out.
#   callgrind64  instructions per 64 KiB message of the sending relay (l1)
#            and the receiving relay (l0) of one hop, the same way (CG64_N
#            and 2 CG64_N messages one way).
#
# Usage: harness/link-cost.sh [stream] [callgrind] [callgrind64]
#        (default: stream and callgrind)
# Environment: BIN (default build/bin), BIN2, TURNS (5), COUNT (5000),
# CG_N (2000), CG64_N (300).
set -u
BIN=${BIN:-build/bin}
TURNS=${TURNS:-5}
COUNT=${COUNT:-5000}
CG_N=${CG_N:-2000}
CG64_N=${CG64_N:-300}
BIN2=${BIN2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/sim-chain.sh"
RUN=$(mktemp -d /tmp/argo-link-cost.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	chain_down >/dev/null 2>&1
	rm -rf "$RUN"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# stream_mbs BIN RECV_FABRIC SEND_FABRIC DST: MB/s of COUNT 64 KiB messages.
stream_mbs() {
	"$1/argo-stream" recv --fabric "sim:$2" --port 7000 --count "$COUNT" --min-size 65536 \
		--max-size 65536 --ring-len 1048576 --timeout 20000 >"$RUN/r.log" 2>&1 &
	local rpid=$!
	wait_for_line "$RUN/r.log" "receiving" 5 || return 1
	"$1/argo-stream" send --fabric "sim:$3" --to "$4" --count "$COUNT" --min-size 65536 \
		--max-size 65536 --timeout 20000 >"$RUN/s.log" 2>&1
	if ! wait "$rpid"; then
		cat "$RUN/r.log" "$RUN/s.log" >&2
		return 1
	fi
	sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r.log"
}

do_stream() {
	local pid t k d h h2 saved=() order
	pid=$(start_simd "$BIN" "$RUN/d.sock" "$RUN/d.log" -m -D "5=$RUN/d5.sock") || exit 1
	PIDS+=("$pid")
	mkdir -p "$RUN/c2" "$RUN/c2b"
	CHAIN_QUEUE_BYTES=8M chain_up "$RUN/c2" "$BIN" 2 unix || exit 1
	if [ -n "$BIN2" ]; then
		saved=("${CHAIN_RELAY_PIDS[@]}")
		CHAIN_RELAY_PIDS=()
		CHAIN_QUEUE_BYTES=8M chain_up "$RUN/c2b" "$BIN2" 2 unix || exit 1
		CHAIN_RELAY_PIDS+=("${saved[@]}")
	fi
	: >"$RUN/turns"
	for ((t = 0; t < TURNS; t++)); do
		h2=0
		for ((k = 0; k < 3; k++)); do
			case $(((t + k) % 3)) in
			0) d=$(stream_mbs "$BIN" "$RUN/d5.sock" "$RUN/d.sock" 5:7000) ;;
			1) h=$(stream_mbs "$BIN" "$RUN/c2/l0-dom5.sock" "$RUN/c2/l1.sock" 0:7000) ;;
			2) [ -n "$BIN2" ] && h2=$(stream_mbs "$BIN2" "$RUN/c2b/l0-dom5.sock" "$RUN/c2b/l1.sock" 0:7000) ;;
			esac
		done
		if [ -n "$BIN2" ]; then
			echo "turn $t: direct $d MB/s, one hop $h MB/s ($BIN), one hop $h2 MB/s ($BIN2)"
		else
			echo "turn $t: direct $d MB/s, one hop $h MB/s"
		fi
		echo "$d $h $h2" >>"$RUN/turns"
	done
	echo "stream 64 KiB, $COUNT messages per turn, $TURNS turns: direct median $(awk '{print $1}' "$RUN/turns" | median) MB/s, one hop median $(awk '{print $2}' "$RUN/turns" | median) MB/s, ratio hop/direct (median of turns) $(awk '{ printf "%.3f\n", $2 / $1 }' "$RUN/turns" | median)"
	if [ -n "$BIN2" ]; then
		echo "  $BIN2: one hop median $(awk '{print $3}' "$RUN/turns" | median) MB/s, ratio hop/direct $(awk '{ printf "%.3f\n", $3 / $1 }' "$RUN/turns" | median); ratio $BIN hop / $BIN2 hop (median of turns) $(awk '{ printf "%.3f\n", $2 / $3 }' "$RUN/turns" | median)"
	fi
	chain_down >/dev/null 2>&1
}

# cg64_run N: instructions of relays l1 and l0 for N one-way 64 KiB messages.
cg64_run() {
	local n=$1 dir="$RUN/cg64-$1" a b
	mkdir -p "$dir"
	CHAIN_RELAY_WRAP_1="valgrind --tool=callgrind --callgrind-out-file=$dir/l1.out" \
		CHAIN_RELAY_WRAP_0="valgrind --tool=callgrind --callgrind-out-file=$dir/l0.out" \
		chain_up "$dir" "$BIN" 2 unix || return 1
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$n" \
		--min-size 65536 --max-size 65536 --ring-len 1048576 --timeout 60000 >"$dir/r.log" 2>&1 &
	local rpid=$!
	wait_for_line "$dir/r.log" "receiving" 5 || return 1
	"$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7000 --count "$n" \
		--min-size 65536 --max-size 65536 --timeout 60000 >"$dir/s.log" 2>&1
	wait "$rpid" || { cat "$dir/r.log" >&2; return 1; }
	chain_down >/dev/null 2>&1
	a=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/l1.out")
	b=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/l0.out")
	echo "$a $b"
}

do_callgrind64() {
	local a1 b1 a2 b2
	command -v valgrind >/dev/null || { echo "callgrind64: valgrind is not installed"; return; }
	read -r a1 b1 < <(cg64_run "$CG64_N") || exit 1
	read -r a2 b2 < <(cg64_run $((2 * CG64_N))) || exit 1
	echo "callgrind, one hop, 64 KiB messages: sending relay $(awk -v a="$a1" -v b="$a2" -v n="$CG64_N" 'BEGIN { printf "%.0f", (b - a) / n }') instructions per message, receiving relay $(awk -v a="$b1" -v b="$b2" -v n="$CG64_N" 'BEGIN { printf "%.0f", (b - a) / n }') ($CG64_N and $((2 * CG64_N)) messages)"
}

# cg_run N: total instructions of the middle relay for N round trips.
cg_run() {
	local n=$1 dir="$RUN/cg$1" epid total
	mkdir -p "$dir"
	CHAIN_RELAY_WRAP_1="valgrind --tool=callgrind --callgrind-out-file=$dir/cg.out" \
		chain_up "$dir" "$BIN" 3 unix || return 1
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || return 1
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --count "$n" --size 64 \
		--timeout 20000 >"$dir/ping.log" 2>&1 || { cat "$dir/ping.log" >&2; return 1; }
	kill -TERM "$epid"
	wait "$epid" 2>/dev/null
	chain_down >/dev/null 2>&1
	total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$dir/cg.out")
	[ -n "$total" ] || total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$dir/cg.out")
	echo "$total"
}

do_callgrind() {
	local a b
	command -v valgrind >/dev/null || { echo "callgrind: valgrind is not installed"; return; }
	a=$(cg_run "$CG_N") || exit 1
	b=$(cg_run $((2 * CG_N))) || exit 1
	echo "callgrind, middle relay of 3 levels, 64 B ping: $a instructions for $CG_N round trips, $b for $((2 * CG_N)); $(awk -v a="$a" -v b="$b" -v n="$CG_N" 'BEGIN { printf "%.0f", (b - a) / (2 * n) }') instructions per message"
}

what=("$@")
[ ${#what[@]} -eq 0 ] && what=(stream callgrind)
for w in "${what[@]}"; do "do_$w"; done
