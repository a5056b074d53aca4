#!/bin/bash
# argo-relayd over an `argo` link: two relays, each with a fabric of its own
# (l0: the receiver's, l1: the sender's), both guests of a third, shared
# argo-simd, "links", on which their link runs as a ring pair
# (common/link/transport_argo.c). l0 listens on links domain 1 (a static socket, so
# that l1 knows where), l1 connects from a dynamic domain:
#
#   sender (l1) --argo--> relay l1 ==argo link on "links"==> relay l0 --argo--> receiver (l0:5:7000)
#
# Prints PASS/FAIL lines and ends with "N passed, N failed".
#
# Usage: tests/integration/test-relay-argo.sh BIN_DIR [CASE...]
# RELAY_TEST_COUNT (20000) messages per stream; RELAY_LINK_TRANSPORT=unix
# runs the same cases over a unix link, for comparison.
set -u
BIN=${1:-build/bin}
shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
COUNT=${RELAY_TEST_COUNT:-20000}
TRANSPORT=${RELAY_LINK_TRANSPORT:-argo}
PORT=7100

. "$HERE/results.sh"
trap 'chain_down >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

# links_up DIR: the shared "links" fabric (mac-permissive: the listener's
# ring takes any domain), then the two relays and their fabrics, joined by
# an argo link on it. Extra chain knobs come from the caller's environment.
links_up() {
	local dir=$1 pid
	if [ "$TRANSPORT" = argo ]; then
		pid=$(start_simd "$BIN" "$dir/links.sock" "$dir/simd-links.log" -m \
			-D "1=$dir/links-l0.sock") || return 1
		CHAIN_PIDS+=("$pid")
		CHAIN_DOWN_LISTEN_0="sim:$dir/links-l0.sock@$PORT" \
			CHAIN_UP_CONNECT_1="sim:$dir/links.sock@1:$PORT" \
			chain_up "$dir" "$BIN" 2 argo || return 1
	else
		chain_up "$dir" "$BIN" 2 "$TRANSPORT" || return 1
	fi
	# The link really is what we asked for.
	"$BIN/argo-relayctl" -s "$dir/l1.ctl" links | grep -qE "^  up +$TRANSPORT " || {
		echo "relay l1's link is not over $TRANSPORT" >&2
		return 1
	}
}

# end_case NAME DIR RC: stops everything; a daemon that does not stop
# cleanly, or a sanitizer report in a log, fails NAME-clean-exit. DIR is
# removed when all went well, kept otherwise.
end_case() {
	local name=$1 dir=$2 rc=$3 bad="" logs
	chain_down || bad="a daemon did not stop cleanly"
	logs=$(grep -lE 'Sanitizer|runtime error' "$dir"/*.log 2>/dev/null | tr '\n' ' ')
	[ -n "$logs" ] && bad="sanitizer report in $logs"
	if [ -n "$bad" ]; then
		result "$name-clean-exit" 1 "$bad (logs in $dir)"
	elif [ "$rc" -eq 0 ]; then
		rm -rf "$dir"
	fi
}

# start_receiver DIR COUNT [options]: argo-stream recv at l0:5:7000 in the
# background (RECV_PID), once it receives.
start_receiver() {
	local dir=$1 count=$2
	shift 2
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$count" \
		--timeout 30000 "$@" >"$dir/recv.log" 2>&1 &
	RECV_PID=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5
}

# COUNT messages of 16 B to 64 KiB from a guest of l1 to l0:5:7000, through
# the import port 7000 of relay l1: all arrive, once, in order, intact.
case_stream() {
	local name="$TRANSPORT-link-stream" dir rc=0
	dir=$(mktemp -d /tmp/argo-relay-argo.XXXXXX)
	if ! links_up "$dir"; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	start_receiver "$dir" "$COUNT" || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7000 --count "$COUNT" \
		--timeout 30000 >"$dir/send.log" 2>&1 || rc=1
	wait "$RECV_PID" || rc=1
	result "$name" $rc "$(tail -n 1 "$dir/recv.log") / $(tail -n 1 "$dir/send.log")"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/recv.log")"
	end_case "$name" "$dir" $rc
}

# The same stream while the relays are SIGKILLed at random moments and
# restarted (each has a state_dir): the link comes back by itself each time
# (the pump of the surviving side sees the dead one's ring gone, or the new
# one's connect request), and the custody rules (docs/relay-design.md) make
# every message arrive once, in order. The receiver reads on for a second
# after the last message, to catch a late copy.
case_relay_kills() {
	local name="$TRANSPORT-link-relay-kills" dir rc=0 kills=0 n=0 victim sender i why c
	local copies=0
	dir=$(mktemp -d /tmp/argo-relay-argo.XXXXXX)
	for i in 0 1; do
		mkdir -p "$dir/state-l$i"
		printf -v "CHAIN_EXTRA_RELAY_CONF_$i" 'state_dir = %s' "$dir/state-l$i"
	done
	export CHAIN_EXTRA_RELAY_CONF_0 CHAIN_EXTRA_RELAY_CONF_1
	links_up "$dir" || rc=1
	unset CHAIN_EXTRA_RELAY_CONF_0 CHAIN_EXTRA_RELAY_CONF_1
	if [ $rc -ne 0 ]; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	start_receiver "$dir" "$COUNT" --linger-ms 1000 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7000 --count "$COUNT" \
		--timeout 30000 >"$dir/send.log" 2>&1 &
	sender=$!
	while kill -0 "$sender" 2>/dev/null && [ $n -lt 10 ]; do
		# A random moment of the transfer, then a random victim.
		sleep 0.$((RANDOM % 3 + 1))
		kill -0 "$sender" 2>/dev/null || break
		n=$((n + 1))
		victim=$((RANDOM % 2))
		kill -KILL "${CHAIN_RELAY_PIDS[$victim]}"
		wait "${CHAIN_RELAY_PIDS[$victim]}" 2>/dev/null
		echo "--- SIGKILL, restarted" >>"$dir/relay-l$victim.log"
		chain_start_relay "$dir" "$BIN" "$victim" || { rc=1; break; }
		kills=$((kills + 1))
	done
	wait "$sender" || rc=1
	wait "$RECV_PID" || rc=1
	why="$(tail -n 1 "$dir/recv.log") / $(tail -n 1 "$dir/send.log")"
	if [ $rc -eq 0 ] && [ $kills -eq 0 ]; then
		rc=1
		why="the sender finished before any relay was killed: nothing was tested"
	fi
	for i in 0 1; do
		c=$("$BIN/argo-relayctl" -s "$dir/l$i.ctl" counters --json 2>/dev/null |
			sed -n 's/.*"duplicates_dropped":\([0-9]*\).*/\1/p')
		copies=$((copies + ${c:-0}))
	done
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $kills relays SIGKILLed during $COUNT messages; $(tail -n 1 "$dir/recv.log"); last runs: $copies copies dropped"
	end_case "$name" "$dir" $rc
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(stream relay_kills)
for c in "${cases[@]}"; do
	t0=$SECONDS
	"case_$c"
	echo "    ($c: $((SECONDS - t0)) s)"
done
results_summary
