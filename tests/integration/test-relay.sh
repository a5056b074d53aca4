#!/bin/bash
# Multi-process tests of argo-relayd on sim fabrics (one argo-simd per hvid).
# Prints PASS/FAIL lines and ends with "N passed, N failed".
#
# Usage: tests/integration/test-relay.sh BIN_DIR [CASE...]
set -u
BIN=${1:-build/bin}
shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
COUNT=${RELAY_TEST_COUNT:-100000}

pass=0
fail=0
result() {
	if [ "$2" -eq 0 ]; then
		echo "PASS $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1: $3"
		fail=$((fail + 1))
	fi
}

# Peak resident memory of a process, in KiB.
peak_kib() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0
}

# A receiver at L0 (domain 5, port 7000) and a sender at the innermost level.
# stream_through DIR LEVELS COUNT [recv options...]: 0 when all arrived.
stream_through() {
	local dir=$1 levels=$2 count=$3 inner=$(( $2 - 1 )) rpid rc
	shift 3
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$count" \
		--timeout 20000 "$@" >"$dir/recv.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || return 1
	"$BIN/argo-stream" send --fabric "sim:$dir/l$inner.sock" --to 0:7000 --count "$count" \
		--timeout 20000 >"$dir/send.log" 2>&1
	rc=$?
	wait "$rpid" || rc=1
	return $rc
}

case_chain_100k() {
	local dir
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 3 unix; then
		result chain-3-levels-100k 1 "topology did not come up"
		chain_down
		return
	fi
	stream_through "$dir" 3 "$COUNT"
	local rc=$?
	result chain-3-levels-100k $rc "$(tail -n 1 "$dir/recv.log") / $(tail -n 1 "$dir/send.log")"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/recv.log")"
	chain_down || result chain-3-levels-clean-exit 1 "a daemon did not stop cleanly"
	rm -rf "$dir"
}

case_chain_tcp() {
	local dir
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 4 tcp; then
		result chain-4-levels-tcp 1 "topology did not come up"
		chain_down
		return
	fi
	stream_through "$dir" 4 20000
	result chain-4-levels-tcp $? "$(tail -n 1 "$dir/recv.log")"
	chain_down
	rm -rf "$dir"
}

# A receiver that does not read for 3 s while 30000 messages come: the
# sender must be held back (it waits for ring space), nothing may be lost,
# and no relay may ever hold more than its queue bound (1 MiB) plus one
# message per link (the credit overshoot, 64 KiB each): each relay's own
# peak counter says so. The process's peak memory is checked too on plain
# builds (ASan's quarantine makes it meaningless under the sanitizers).
case_stalled_receiver() {
	local dir i bound=$(( 1024 * 1024 + 2 * 65536 )) peak worst=0 rss_bound_kib=$(( 4 * 1024 ))
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! CHAIN_QUEUE_BYTES=1M CHAIN_RING_LEN=128K chain_up "$dir" "$BIN" 3 unix; then
		result stalled-receiver 1 "topology did not come up"
		chain_down
		return
	fi
	local base=()
	for i in 0 1 2; do base[$i]=$(peak_kib "${CHAIN_RELAY_PIDS[$i]}"); done
	stream_through "$dir" 3 30000 --stall-ms 3000 --ring-len 131072
	local rc=$? why
	why="$(tail -n 1 "$dir/recv.log")"
	for i in 0 1 2; do
		peak=$("$BIN/argo-relayctl" -s "$dir/l$i.ctl" counters --json |
			sed -n 's/.*"held_peak":\([0-9]*\).*/\1/p')
		[ -z "$peak" ] && { rc=1; why="relay l$i did not report held_peak"; }
		[ "${peak:-0}" -gt "$worst" ] && worst=$peak
		if [ -z "${ASAN_BUILD:-}" ]; then
			local grew=$(( $(peak_kib "${CHAIN_RELAY_PIDS[$i]}") - base[i] ))
			if [ $rc -eq 0 ] && [ "$grew" -gt "$rss_bound_kib" ]; then
				rc=1
				why="relay l$i grew by $grew KiB of memory, bound $rss_bound_kib KiB"
			fi
		fi
	done
	if [ $rc -eq 0 ] && [ "$worst" -gt "$bound" ]; then
		rc=1
		why="a relay held $worst bytes at its peak, bound $bound"
	fi
	if [ $rc -eq 0 ] && ! grep -qE "waited for ring space [1-9]" "$dir/send.log"; then
		rc=1
		why="the sender never had to wait: back-pressure did not reach it ($(cat "$dir/send.log"))"
	fi
	result stalled-receiver-bounded-memory $rc "$why"
	[ $rc -eq 0 ] && echo "    peak held $worst bytes (bound $bound); $(tail -n 1 "$dir/send.log")"
	chain_down
	rm -rf "$dir"
}

# Links cut under load: the l1<->l0 link runs through a socat proxy that is
# killed and restarted while the stream flows. Nothing lost, nothing twice.
case_link_cuts() {
	local dir proxy_port spid rpid rc=0 k
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 3 unix; then
		result link-cuts 1 "topology did not come up"
		chain_down
		return
	fi
	# Re-plumb: l1's "up" link goes through a proxy socket.
	kill -TERM "${CHAIN_RELAY_PIDS[1]}" && wait "${CHAIN_RELAY_PIDS[1]}"
	sed -i "s|^connect = $dir/l0-down.sock|connect = $dir/proxy.sock|" "$dir/l1.conf"
	socat UNIX-LISTEN:"$dir/proxy.sock",fork,unlink-early UNIX-CONNECT:"$dir/l0-down.sock" &
	spid=$!
	chain_start_relay "$dir" "$BIN" 1 && chain_wait_link "$dir" "$BIN" 1 up 10 &&
		chain_wait_link "$dir" "$BIN" 2 up 10 || rc=1
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count 30000 \
		--timeout 20000 >"$dir/recv.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l2.sock" --to 0:7000 --count 30000 \
		--timeout 20000 >"$dir/send.log" 2>&1 &
	local sender=$!
	for k in 1 2 3 4 5; do
		# Cut at a random moment of the transfer.
		sleep 0.$((RANDOM % 5 + 2))
		kill -KILL "$spid" 2>/dev/null
		pkill -KILL -f "UNIX-LISTEN:$dir/proxy.sock" 2>/dev/null
		socat UNIX-LISTEN:"$dir/proxy.sock",fork,unlink-early UNIX-CONNECT:"$dir/l0-down.sock" &
		spid=$!
	done
	wait "$sender" || rc=1
	wait "$rpid" || rc=1
	local retrans
	retrans=$("$BIN/argo-relayctl" -s "$dir/l1.ctl" links | sed -n 's/.*retransmits \([0-9]*\).*/\1/p' | head -n 1)
	kill -KILL "$spid" 2>/dev/null
	pkill -KILL -f "UNIX-LISTEN:$dir/proxy.sock" 2>/dev/null
	result link-cuts-no-loss-no-dup $rc "$(tail -n 1 "$dir/recv.log")"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/recv.log"); l1 retransmitted $retrans"
	chain_down
	rm -rf "$dir"
}

case_check_config() {
	local dir out rc
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	printf '[relay]\nhvid = l1\nfabric = sim:/x\ncontrol = /tmp/x.ctl\nqueue_bytes = lots\n' >"$dir/bad.conf"
	out=$("$BIN/argo-relayd" --check-config "$dir/bad.conf" 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && grep -q "bad.conf:5:" <<<"$out"; then
		result check-config-names-file-and-line 0 ""
	else
		result check-config-names-file-and-line 1 "exit $rc, said: $out"
	fi
	rm -rf "$dir"
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(check_config chain_100k chain_tcp stalled_receiver link_cuts)
for c in "${cases[@]}"; do
	"case_$c"
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
