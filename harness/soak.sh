#!/bin/bash
# make soak: a long run of a 3-level sim chain under random faults, with
# every message counted (issue 11; docs/testing.md, "The soak").
#
#   SOAK_MINUTES=30 harness/soak.sh [BIN_DIR]      (make soak SOAK_MINUTES=30)
#
# The chain of `make demo` (harness/sim-chain.sh, 3 levels over unix
# sockets, each link through a proxy that can be cut), each relay with a
# state_dir (l0 with state_sync = yes, the batch); argo-echo at L0;
# SOAK_SENDERS argo-pings at L2 (windows and sizes of their own), each in a
# static domain of its own (6, 7, ...: a sender killed comes back as the
# same domain, as a restarted service would, so that l0 keeps one proxy
# port per sender instead of one per process). In rounds of SOAK_ROUND_S
# seconds:
#   - faults at random moments (0.2 to SOAK_FAULT_MAX_MS apart), each one
#     of: a relay SIGKILLed and started again, a link cut (its proxy and
#     connections killed), the echo SIGKILLed and started again with a ring
#     of another size (4 KiB to 1 MiB: the larger requests are then too
#     large for it), a sender SIGKILLed (a new one takes its place);
#     after each, every relay's own sum must hold (taken = passed on +
#     held: harness/accounting.py relay);
#   - then the senders stop, and once the system is at rest (nothing held,
#     every ring read) the sums end to end, across every restart
#     (accounting.py system: sent = delivered + undeliverable, per level
#     what the fabric saw delivered = what the relay counted), and each
#     long-lived process's memory and fds are taken.
# Flat: after its first rest (warm-up), a process's RSS never exceeds that
# first figure by more than SOAK_RSS_SLACK_KIB (4096) plus 10 %, and its fd
# count never by more than SOAK_FD_SLACK (4); checked for every argo-simd
# (never restarted) and every relay run seen at 3 rests or more.
#
# Ends with one line, "soak: PASS ..." or "soak: FAIL ...", and exit 0 or
# 1; the folder (SOAK_DIR, a fresh one under /tmp by default) is removed
# on a pass (unless SOAK_KEEP=1) and kept on a failure. SOAK_SEED makes the
# faults repeatable (as far as timing allows).
set -u
BIN=${1:-${BIN:-build/bin}}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/sim-chain.sh"
. "$HERE/../tests/integration/relay-lib.sh"

MINUTES=${SOAK_MINUTES:-3}
ROUND_S=${SOAK_ROUND_S:-60}
SENDERS=${SOAK_SENDERS:-3}
FAULT_MAX_MS=${SOAK_FAULT_MAX_MS:-3000}
RSS_SLACK=${SOAK_RSS_SLACK_KIB:-4096}
FD_SLACK=${SOAK_FD_SLACK:-4}
RANDOM=${SOAK_SEED:-$$}
DIR=${SOAK_DIR:-$(mktemp -d /tmp/argo-soak.XXXXXX)}
mkdir -p "$DIR/bin"
LOG=$DIR/soak.log
# The programs copied: a rebuild during a long soak must not change the
# relay that the next SIGKILL restarts.
for p in argo-simd argo-relayd argo-relayctl argo-echo argo-ping; do
	cp "$BIN/$p" "$DIR/bin/" || { echo "soak: FAIL: no $BIN/$p"; exit 1; }
done
BIN=$DIR/bin
[ $((MINUTES * 60)) -lt $((ROUND_S * 3)) ] && ROUND_S=$((MINUTES * 20 > 10 ? MINUTES * 20 : 10))

declare -a SENDER_PIDS=() PROXY_PIDS=()
ECHO_PID=""
FAILED=""
# Counts for the summary.
declare -A N=([relay_kills]=0 [link_cuts]=0 [echo_kills]=0 [sender_kills]=0 [checks]=0 [rests]=0)
# Memory and fds per process: first figures and worst growth.
declare -A RSS0=() FD0=() SEEN=() RSS_MAX=() FD_MAX=() WHAT=()

say() { echo "[$(date +%T)] $*" >>"$LOG"; }
fail() {
	[ -z "$FAILED" ] && FAILED="$*"
	say "FAIL: $*"
}

cleanup() {
	local pid
	for pid in "${SENDER_PIDS[@]}" $ECHO_PID; do
		kill -KILL "$pid" 2>/dev/null
	done
	for pid in "${PROXY_PIDS[@]}"; do
		proxy_cut "$pid"
	done
	chain_down >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The link of relay i (1, 2) to level i-1 runs through DIR/proxy-i.sock, in
# a process group of its own, so that a cut takes its connections too.
start_proxy() {
	proxy_start "$DIR/proxy-$1.sock" "$DIR/l$(($1 - 1))-down.sock"
	PROXY_PIDS[$1]=$PROXY_PID
}

cut_link() {
	local i=$1
	proxy_cut "${PROXY_PIDS[$i]}"
	start_proxy "$i"
	N[link_cuts]=$((N[link_cuts] + 1))
	say "link l$i-l$((i - 1)) cut"
}

RING_LENS=(4096 16384 65536 262144 1048576)
start_echo() {
	local len=${RING_LENS[$((RANDOM % ${#RING_LENS[@]}))]}
	"$BIN/argo-echo" --fabric "sim:$DIR/l0-dom5.sock" --port 7000 --ring-len "$len" \
		>>"$DIR/echo.log" 2>&1 &
	ECHO_PID=$!
	say "echo started with a ring of $len bytes"
}

kill_echo() {
	kill -KILL "$ECHO_PID" 2>/dev/null
	wait "$ECHO_PID" 2>/dev/null
	N[echo_kills]=$((N[echo_kills] + 1))
	start_echo
}

# Sender k: argo-ping at L2 in domain 6+k, from port 40000+k, a window and
# sizes of its own.
MAX_SIZES=(64 1024 8192 65536)
start_sender() {
	local k=$1 max=${MAX_SIZES[$((RANDOM % ${#MAX_SIZES[@]}))]} window=$((RANDOM % 32 + 1))
	"$BIN/argo-ping" --fabric "sim:$DIR/l2-dom$((6 + k)).sock" --to 0:7000 --port $((40000 + k)) \
		--count 10000000 --window "$window" --size 64 --max-size "$max" --timeout 1000 \
		--keep-going >>"$DIR/sender-$k.log" 2>&1 &
	SENDER_PIDS[$k]=$!
}

kill_sender() {
	local k=$1
	kill -KILL "${SENDER_PIDS[$k]}" 2>/dev/null
	wait "${SENDER_PIDS[$k]}" 2>/dev/null
	SENDER_PIDS[$k]=""
}

start_senders() {
	local k
	for ((k = 0; k < SENDERS; k++)); do
		if [ -z "${SENDER_PIDS[$k]:-}" ] || ! kill -0 "${SENDER_PIDS[$k]}" 2>/dev/null; then
			start_sender "$k"
		fi
	done
}

kill_relay() {
	local i=$1
	kill -KILL "${CHAIN_RELAY_PIDS[$i]}"
	wait "${CHAIN_RELAY_PIDS[$i]}" 2>/dev/null
	echo "--- SIGKILL, restarted" >>"$DIR/relay-l$i.log"
	chain_start_relay "$DIR" "$BIN" "$i" || fail "relay l$i did not start again"
	N[relay_kills]=$((N[relay_kills] + 1))
	say "relay l$i SIGKILLed and started again"
}

# One fault at random.
fault() {
	local k
	case $((RANDOM % 8)) in
	0 | 1) kill_relay $((RANDOM % 3)) ;;
	2 | 3) cut_link $((RANDOM % 2 + 1)) ;;
	4) say "echo SIGKILLed"; kill_echo ;;
	*)
		k=$((RANDOM % SENDERS))
		kill_sender "$k"
		N[sender_kills]=$((N[sender_kills] + 1))
		say "sender $k SIGKILLed"
		start_sender "$k"
		;;
	esac
}

# Every relay's own sum, now (under load).
check_relays() {
	N[checks]=$((N[checks] + 1))
	accounting_relays "$DIR" 3 "$1" ||
		fail "a relay's sum does not hold after $1: $(grep -A1 FAIL "$DIR/accounting.log" | tail -n 2 | tr '\n' ' ')"
}

# A process's RSS (KiB) and fds, taken at a rest; the first time is its
# warm-up figure, later ones must stay within the slack of it.
measure() {
	local pid=$1 what=$2 rss fds grow
	rss=$(rss_kib "$pid")
	fds=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
	[ "$rss" -gt 0 ] || return 0
	WHAT[$pid]=$what
	SEEN[$pid]=$((${SEEN[$pid]:-0} + 1))
	if [ "${SEEN[$pid]}" -eq 1 ]; then
		RSS0[$pid]=$rss
		FD0[$pid]=$fds
		RSS_MAX[$pid]=0
		FD_MAX[$pid]=0
		return 0
	fi
	grow=$((rss - RSS0[$pid]))
	[ "$grow" -gt "${RSS_MAX[$pid]}" ] && RSS_MAX[$pid]=$grow
	[ $((fds - FD0[$pid])) -gt "${FD_MAX[$pid]}" ] && FD_MAX[$pid]=$((fds - FD0[$pid]))
	if [ "$grow" -gt $((RSS_SLACK + RSS0[$pid] / 10)) ]; then
		fail "$what (pid $pid) grew from $((RSS0[$pid])) KiB to $rss KiB"
	fi
	if [ $((fds - FD0[$pid])) -gt "$FD_SLACK" ]; then
		fail "$what (pid $pid) holds $fds fds, $((FD0[$pid])) at its first rest"
	fi
}

# The senders stop; once at rest, every sum, memory and fds.
rest() {
	local k i
	for ((k = 0; k < SENDERS; k++)); do
		kill_sender "$k"
	done
	if ! wait_until 120 at_rest "$DIR" 3; then
		fail "not at rest 120 s after the senders stopped"
		return
	fi
	N[rests]=$((N[rests] + 1))
	check_relays "rest ${N[rests]}"
	accounting_system "$DIR" 3 ||
		fail "the sums end to end do not hold at rest ${N[rests]}: $(grep FAIL "$DIR/accounting.log" | tail -n 2 | tr '\n' ' ')"
	say "rest ${N[rests]}: $(grep 'end to end:' "$DIR/accounting.log" | tail -n 1)"
	for i in 0 1 2; do
		measure "${CHAIN_SIMD_PIDS[$i]}" "argo-simd l$i"
		measure "${CHAIN_RELAY_PIDS[$i]}" "relay l$i"
	done
}

# ---- Set up ----
for i in 0 1 2; do
	mkdir -p "$DIR/state-l$i"
	printf -v "CHAIN_EXTRA_RELAY_CONF_$i" 'state_dir = %s' "$DIR/state-l$i"
done
CHAIN_EXTRA_RELAY_CONF_0+=$'\nstate_sync = yes'
export CHAIN_EXTRA_RELAY_CONF_0 CHAIN_EXTRA_RELAY_CONF_1 CHAIN_EXTRA_RELAY_CONF_2
CHAIN_SIMD_ARGS_2=""
for ((k = 0; k < SENDERS; k++)); do
	CHAIN_SIMD_ARGS_2+=" -D $((6 + k))=$DIR/l2-dom$((6 + k)).sock"
done
if ! CHAIN_UP_CONNECT_1="$DIR/proxy-1.sock" CHAIN_UP_CONNECT_2="$DIR/proxy-2.sock" \
	CHAIN_NO_WAIT_1=1 CHAIN_NO_WAIT_2=1 chain_up "$DIR" "$BIN" 3 unix; then
	echo "soak: FAIL: the chain did not come up (logs in $DIR)"
	exit 1
fi
start_proxy 1
start_proxy 2
if ! { chain_wait_link "$DIR" "$BIN" 1 up 10 && chain_wait_link "$DIR" "$BIN" 2 up 10; }; then
	fail "the links did not come up"
fi
start_echo
wait_for_line "$DIR/echo.log" "serving port 7000" 5 || fail "the echo did not start"
say "soak for $MINUTES min in rounds of $ROUND_S s, $SENDERS senders, seed ${SOAK_SEED:-$$}"

# ---- Rounds ----
end=$((SECONDS + MINUTES * 60))
while [ -z "$FAILED" ] && [ $SECONDS -lt $end ]; do
	start_senders
	round_end=$((SECONDS + ROUND_S))
	[ $round_end -gt $end ] && round_end=$end
	while [ -z "$FAILED" ] && [ $SECONDS -lt $round_end ]; do
		# A random moment (not a wait for a condition: when the next
		# fault strikes), then a random fault, then every relay's sum.
		ms=$((200 + RANDOM % (FAULT_MAX_MS - 200)))
		sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
		fault
		check_relays "fault ${N[checks]}"
		# A sender that ended by itself (its window timed out) is replaced.
		start_senders
	done
	[ -z "$FAILED" ] && rest
done

# ---- Summary ----
flat="" checked=0 worst_rss=0 worst_fd=0
for pid in "${!SEEN[@]}"; do
	[ "${SEEN[$pid]}" -ge 3 ] || [[ ${WHAT[$pid]} == argo-simd* && ${SEEN[$pid]} -ge 2 ]] || continue
	checked=$((checked + 1))
	[ "${RSS_MAX[$pid]}" -gt "$worst_rss" ] && worst_rss=${RSS_MAX[$pid]}
	[ "${FD_MAX[$pid]}" -gt "$worst_fd" ] && worst_fd=${FD_MAX[$pid]}
	flat+=" ${WHAT[$pid]}:${RSS0[$pid]}+${RSS_MAX[$pid]}KiB/${FD0[$pid]}+${FD_MAX[$pid]}fd"
done
say "memory (first rest + most growth; fds likewise):$flat"
[ "${N[rests]}" -eq 0 ] && fail "no rest was reached"
sums=$(grep 'end to end:' "$DIR/accounting.log" | tail -n 1 | sed 's/^ok *end to end: //')
line="$((SECONDS / 60)) min, ${N[rests]} rests and ${N[checks]} relay checks with every sum equal ($sums); faults: ${N[relay_kills]} relay SIGKILLs, ${N[link_cuts]} link cuts, ${N[echo_kills]} echo SIGKILLs (ring re-registered, 4 KiB to 1 MiB), ${N[sender_kills]} senders SIGKILLed; memory flat: $checked processes, RSS grew at most $worst_rss KiB, fds at most $worst_fd"
cleanup
trap - EXIT
grep -lE 'Sanitizer|runtime error' "$DIR"/*.log >/dev/null 2>&1 && fail "sanitizer report in $DIR"
if [ -n "$FAILED" ]; then
	echo "soak: FAIL after $((SECONDS / 60)) min: $FAILED (logs in $DIR)"
	exit 1
fi
say "soak: PASS: $line"
echo "soak: PASS: $line"
[ "${SOAK_KEEP:-0}" = 1 ] || rm -rf "$DIR"
exit 0
