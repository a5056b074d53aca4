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
#
# BENCH_LEAF_BIN2=DIR: another build's bin folder (an older commit, say)
# gets a level of its own (its argo-simd, relay, echo and leaves, since two
# builds' links may not speak the same protocol), and its turns are
# interleaved with this build's: the ratios between the two builds are per
# turn, measured in the same run.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
BIN2=${BENCH_LEAF_BIN2:-}
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

# level TAG BIN: one level of its own in $RUN/TAG (argo-simd, the relay
# with the two leaves' domains, the echo). Sets SIM_<TAG>, DOM5_<TAG>,
# U_<TAG>, S_<TAG> (URIs) and ECHO_<TAG> (the echo's pid).
level() {
	local tag=$1 bin=$2 d="$RUN/$1" simd t
	mkdir -p "$d"
	simd=$(start_simd "$bin" "$d/sim.sock" "$d/simd.log" -m -D "1=$d/relay.sock" \
		-D "5=$d/dom5.sock" -D "7=$d/u-dom.sock" -D "8=$d/s-dom.sock") || return 1
	PIDS+=("$simd")
	socat pty,raw,echo=0,link="$d/pty-a" pty,raw,echo=0,link="$d/pty-b" 2>/dev/null &
	PIDS+=($!)
	chain_key "$d/u.key"
	chain_key "$d/s.key"
	for t in $(seq 100); do [ -e "$d/pty-b" ] && break; sleep 0.05; done
	cat >"$d/l0.conf" <<EOF
[relay]
hvid = l0
fabric = sim:$d/relay.sock
control = $d/l0.ctl
[link u]
transport = unix
listen = $d/u.sock
peer = u
key = u.key
leaf = sim:$d/u-dom.sock
[link s]
transport = serial
connect = $d/pty-a
peer = s
key = s.key
leaf = sim:$d/s-dom.sock
EOF
	"$bin/argo-relayd" "$d/l0.conf" 2>"$d/relay.log" &
	PIDS+=($!)
	for t in $(seq 100); do "$bin/argo-relayctl" -s "$d/l0.ctl" status >/dev/null 2>&1 && break; sleep 0.05; done
	"$bin/argo-echo" --fabric "sim:$d/dom5.sock" --port 7000 >"$d/echo.log" 2>&1 &
	PIDS+=($!)
	printf -v "ECHO_$tag" '%s' $!
	wait_for_line "$d/echo.log" "serving port 7000" 5 || return 1
	printf -v "SIM_$tag" '%s' "sim:$d/sim.sock"
	printf -v "DOM5_$tag" '%s' "sim:$d/dom5.sock"
	printf -v "U_$tag" '%s' "link:unix:$d/u.sock?key=$d/u.key&hvid=l0&name=u"
	printf -v "S_$tag" '%s' "link:serial:$d/pty-b?key=$d/s.key&hvid=l0&name=s"
}
TAGS=(a)
BINS=("$BIN")
level a "$BIN" || exit 1
if [ -n "$BIN2" ]; then
	TAGS+=(b)
	BINS+=("$BIN2")
	level b "$BIN2" || exit 1
fi

p50() { sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p'; }
rtt() { "$1/argo-ping" --fabric "$2" --to 5:7000 --count "$PER" --size "$SIZE" | p50; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# One turn: every path of every build once, the order rotating. A line of
# the turns file: sim unix serial for build a, then for build b.
NPATHS=$((3 * ${#TAGS[@]}))
: >"$RUN/turns"
for ((t = 0; t < ROUNDS; t++)); do
	declare -a v=()
	for ((k = 0; k < NPATHS; k++)); do
		p=$(((t + k) % NPATHS))
		i=$((p / 3))
		tag=${TAGS[$i]}
		case $((p % 3)) in
		0) uri_var="SIM_$tag" ;;
		1) uri_var="U_$tag" ;;
		2) uri_var="S_$tag" ;;
		esac
		v[$p]=$(rtt "${BINS[$i]}" "${!uri_var}")
	done
	echo "${v[*]}" >>"$RUN/turns"
done
col() { awk -v c="$1" '{ print $c }' "$RUN/turns" | median; }
ratio() { awk -v a="$1" -v b="$2" '{ printf "%.2f\n", $a / $b }' "$RUN/turns" | median; }

# 64 KiB streams: to the echo's domain (sim), to the unix leaf, from it.
stream() { # stream BIN RECV_URI PORT SEND_URI TO
	"$1/argo-stream" recv --fabric "$2" --port "$3" --count 5000 --min-size 65536 \
		--max-size 65536 --ring-len 1048576 >"$RUN/r.log" 2>&1 &
	local r=$!
	wait_for_line "$RUN/r.log" "receiving" 10 >/dev/null
	"$1/argo-stream" send --fabric "$4" --to "$5" --count 5000 --min-size 65536 \
		--max-size 65536 >/dev/null 2>&1
	wait "$r"
	sed -n 's/.* \([0-9.]*\) MB\/s/\1/p' "$RUN/r.log"
}

# The echoes go: their domains receive the streams. With two builds, the
# streams take turns too (STREAM_TURNS, 3 then).
for tag in "${TAGS[@]}"; do
	echo_var="ECHO_$tag"
	kill -TERM "${!echo_var}" && wait "${!echo_var}" 2>/dev/null
done
STREAM_TURNS=${BENCH_LEAF_STREAM_TURNS:-$((${#TAGS[@]} > 1 ? 3 : 1))}
: >"$RUN/streams"
for ((t = 0; t < STREAM_TURNS; t++)); do
	declare -a m=()
	for ((k = 0; k < ${#TAGS[@]}; k++)); do
		i=$(((t + k) % ${#TAGS[@]}))
		tag=${TAGS[$i]}
		b=${BINS[$i]}
		dom5_var="DOM5_$tag"
		sim_var="SIM_$tag"
		u_var="U_$tag"
		m[$((3 * i))]=$(stream "$b" "${!dom5_var}" 7001 "${!sim_var}" 5:7001)
		m[$((3 * i + 1))]=$(stream "$b" "${!u_var}" 7002 "${!sim_var}" 7:7002)
		m[$((3 * i + 2))]=$(stream "$b" "${!dom5_var}" 7003 "${!u_var}" 5:7003)
	done
	echo "${m[*]}" >>"$RUN/streams"
done
scol() { awk -v c="$1" '{ print $c }' "$RUN/streams" | median; }

say "leaf endpoints, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cpus: median over $ROUNDS interleaved turns of $PER round trips of $SIZE bytes (p50 of each turn)"
for ((i = 0; i < ${#TAGS[@]}; i++)); do
	c=$((3 * i))
	[ ${#TAGS[@]} -gt 1 ] && say "build ${BINS[$i]}:"
	say "rtt sim domain -> echo:              p50 $(col $((c + 1))) us"
	say "rtt leaf over unix -> echo:          p50 $(col $((c + 2))) us (x$(ratio $((c + 2)) $((c + 1))) of sim, median of per-turn ratios)"
	say "rtt leaf over a pty (serial) -> echo: p50 $(col $((c + 3))) us (x$(ratio $((c + 3)) $((c + 1))) of sim)"
	say "stream 64 KiB sim -> sim domain: $(scol $((c + 1))) MB/s; sim -> leaf: $(scol $((c + 2))) MB/s; leaf -> sim: $(scol $((c + 3))) MB/s (median of $STREAM_TURNS)"
done
if [ ${#TAGS[@]} -gt 1 ]; then
	say "$BIN / $BIN2, rtt per turn (median): sim $(ratio 1 4), leaf over unix $(ratio 2 5), leaf over a pty $(ratio 3 6)"
	say "  each build's leaf rtt relative to its own sim first: unix $(awk '{ printf "%.2f\n", ($2 / $1) / ($5 / $4) }' "$RUN/turns" | median), pty $(awk '{ printf "%.2f\n", ($3 / $1) / ($6 / $4) }' "$RUN/turns" | median)"
	say "  streams per turn (median): sim $(awk '{ printf "%.2f\n", $1 / $4 }' "$RUN/streams" | median), sim -> leaf $(awk '{ printf "%.2f\n", $2 / $5 }' "$RUN/streams" | median), leaf -> sim $(awk '{ printf "%.2f\n", $3 / $6 }' "$RUN/streams" | median)"
fi
