#!/bin/bash
# What a leaf endpoint's round trip costs, in counts a loaded machine does
# not move (docs/benchmarks.md, "Leaf endpoints"): figures, not a test.
# For each build (BIN, and BIN2 if given) and each of the leaf's links
# (unix, a pty as a serial line): instructions (valgrind --tool=callgrind)
# of the leaf's process and of the relay, and system calls (strace -c) of
# both, per 64-byte argo-ping round trip to an echo in a sim domain. Two
# runs, of N and 3N round trips; the difference over the 2N extra ones, so
# that start-up and handshakes cancel out.
#
# Usage: [BIN=build/bin] [BIN2=other/bin] [N=200] harness/leaf-cost.sh
set -u
BIN=${BIN:-build/bin}
BIN2=${BIN2:-}
N=${N:-200}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/sim-chain.sh" # chain_key
RUN=$(mktemp -d /tmp/argo-leaf-cost.XXXXXX)
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

# One run: a fresh level of build $1 whose relay runs under $2 (callgrind
# or strace), COUNT round trips from the leaf over $3 (unix or serial).
# Writes "leaf_count relay_count" (instructions, or system calls) to
# $RUN/out; what it started is stopped before it returns.
run() {
	local bin=$1 tool=$2 transport=$3 count=$4 d uri addr leaf_out relay_out simd relay t
	local first=${#PIDS[@]}
	d=$(mktemp -d "$RUN/run.XXXXXX")
	simd=$(start_simd "$bin" "$d/sim.sock" "$d/simd.log" -m -D "1=$d/relay.sock" \
		-D "5=$d/dom5.sock" -D "7=$d/l-dom.sock") || return 1
	PIDS+=("$simd")
	chain_key "$d/l.key"
	if [ "$transport" = serial ]; then
		socat pty,raw,echo=0,link="$d/pty-a" pty,raw,echo=0,link="$d/pty-b" 2>/dev/null &
		PIDS+=($!)
		for t in $(seq 100); do [ -e "$d/pty-b" ] && break; sleep 0.05; done
		addr="connect = $d/pty-a"
		uri="link:serial:$d/pty-b?key=$d/l.key&hvid=l0&name=l&timeout=60000"
	else
		addr="listen = $d/l.sock"
		uri="link:unix:$d/l.sock?key=$d/l.key&hvid=l0&name=l&timeout=60000"
	fi
	printf '[relay]\nhvid = l0\nfabric = sim:%s/relay.sock\ncontrol = %s/l0.ctl\n' "$d" "$d" \
		>"$d/l0.conf"
	printf '[link l]\ntransport = %s\n%s\npeer = l\nkey = l.key\nleaf = sim:%s/l-dom.sock\n' \
		"$transport" "$addr" "$d" >>"$d/l0.conf"
	if [ "$tool" = callgrind ]; then
		valgrind --tool=callgrind --callgrind-out-file="$d/relay.cg" "$bin/argo-relayd" \
			"$d/l0.conf" 2>"$d/relay.log" &
	else
		strace -f -c -o "$d/relay.st" "$bin/argo-relayd" "$d/l0.conf" 2>"$d/relay.log" &
	fi
	relay=$!
	PIDS+=("$relay")
	for t in $(seq 400); do "$bin/argo-relayctl" -s "$d/l0.ctl" status >/dev/null 2>&1 && break; sleep 0.05; done
	"$bin/argo-echo" --fabric "sim:$d/dom5.sock" --port 7000 >"$d/echo.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$d/echo.log" "serving port 7000" 5 || return 1
	if [ "$tool" = callgrind ]; then
		valgrind --tool=callgrind --callgrind-out-file="$d/leaf.cg" "$bin/argo-ping" \
			--fabric "$uri" --to 5:7000 --count "$count" --size 64 --timeout 60000 \
			>"$d/ping.log" 2>&1
	else
		strace -f -c -o "$d/leaf.st" "$bin/argo-ping" --fabric "$uri" --to 5:7000 \
			--count "$count" --size 64 --timeout 60000 >"$d/ping.log" 2>&1
	fi
	# The relay itself (strace's child, or valgrind's own process) stops.
	if [ "$tool" = strace ]; then
		pkill -TERM -P "$relay"
	else
		kill -TERM "$relay"
	fi
	wait "$relay" 2>/dev/null
	for ((t = ${#PIDS[@]} - 1; t >= first; t--)); do
		kill -TERM "${PIDS[$t]}" 2>/dev/null
		wait "${PIDS[$t]}" 2>/dev/null
		unset "PIDS[$t]"
	done
	if [ "$tool" = callgrind ]; then
		leaf_out=$(cat "$d"/leaf.cg* | sed -n 's/^summary: \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
		relay_out=$(cat "$d"/relay.cg* | sed -n 's/^summary: \([0-9]*\).*/\1/p' | awk '{ s += $1 } END { print s }')
	else
		leaf_out=$(awk '$NF == "total" { print $4 }' "$d/leaf.st")
		relay_out=$(awk '$NF == "total" { print $4 }' "$d/relay.st")
	fi
	echo "$leaf_out $relay_out" >"$RUN/out"
}

measure() { # measure BIN TOOL TRANSPORT: per round trip, leaf and relay
	local a b
	run "$1" "$2" "$3" "$N" || return 1
	a=$(cat "$RUN/out")
	run "$1" "$2" "$3" $((3 * N)) || return 1
	b=$(cat "$RUN/out")
	echo "$a $b" | awk -v n=$((2 * N)) '{ printf "%.0f %.1f\n", ($3 - $1) / n, ($4 - $2) / n }' |
		awk -v t="$2" '{ if (t == "strace") printf "%.1f %.1f\n", $1, $2; else printf "%d %d\n", $1, $2 }'
}

echo "leaf endpoint cost per 64 B round trip to a sim domain ($N and $((3 * N)) round trips)"
for bin in "$BIN" ${BIN2:+"$BIN2"}; do
	for transport in unix serial; do
		ir=$(measure "$bin" callgrind "$transport")
		sc=$(measure "$bin" strace "$transport")
		echo "$bin $transport: instructions leaf ${ir% *}, relay ${ir#* }; system calls leaf ${sc% *}, relay ${sc#* }"
	done
done
