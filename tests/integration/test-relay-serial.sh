#!/bin/bash
# argo-relayd over a `serial` link with both ends "connecting" (each opens
# its end of a pty pair made by socat), as on a virtio-serial port: a byte
# stream without connections (docs/relay-design.md, "Serial links").
#
#   sender --argo--> relay a ==serial (pty pair)==> relay b --argo--> receiver (b:5:7000)
#
# Cases: the TLS handshake with both ends opening the stream (roles from
# the hvids: a initiates); a stream with relay b SIGKILLed and restarted
# mid-stream (the new b says it is new; a's session ends and starts again
# on the same stream);
# a stream with the pty pair itself cut (socat killed and started again:
# both ends get I/O errors and reopen). Every stream must arrive whole,
# once, in order. Then a wrong key on one end: refused, and reported as an
# authentication failure on both ends. Prints PASS/FAIL lines and "N
# passed, N failed".
#
# Usage: tests/integration/test-relay-serial.sh BIN_DIR
# RELAY_TEST_COUNT (10000) messages per stream.
set -u
BIN=${1:-build/bin}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/results.sh"
COUNT=${RELAY_TEST_COUNT:-10000}
command -v socat >/dev/null || { skipped serial "socat not installed"; results_summary; exit; }

T=$(mktemp -d /tmp/argo-serial.XXXXXX)
PIDS=()
SOCAT="" RA="" RB=""
cleanup() {
	local p
	for p in $SOCAT $RA $RB "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -n "${KEEP:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pty_pair() {
	socat "PTY,link=$T/pa,raw,echo=0" "PTY,link=$T/pb,raw,echo=0" 2>>"$T/socat.log" &
	SOCAT=$!
	local n=50
	until [ -e "$T/pa" ] && [ -e "$T/pb" ]; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.1
	done
}
conf() { # NAME PEER LINK DEVICE EXTRA
	cat >"$T/$1.conf" <<-EOF
		[relay]
		hvid = $1
		fabric = sim:$T/$1-relay.sock
		control = $T/$1.ctl
		state_dir = $T/$1-state
		reconnect_ms = 50
		ping_ms = 200
		[link $3]
		transport = serial
		connect = $4
		peer = $2
		key = k
		[routes]
		$2 = $3
		$5
		[policy]
		default = deny
		rule = allow src a dst b:5:7000
		rule = allow src b:5:7000 dst a
	EOF
}
relay() { # NAME: starts it, pid in the variable RA or RB
	"$BIN/argo-relayd" -v "$T/$1.conf" 2>>"$T/relay-$1.log" &
	eval "R$(echo "$1" | tr a-z A-Z)=$!"
	local n=100
	until "$BIN/argo-relayctl" -s "$T/$1.ctl" status >/dev/null 2>&1; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}
link_field() { "$BIN/argo-relayctl" -s "$T/$1.ctl" links --json 2>/dev/null | sed -n "s/.*\"$2\":\"\{0,1\}\([a-z0-9]*\).*/\1/p" | head -n 1; }
link_up() { [ "$(link_field a state)" = up ] && [ "$(link_field b state)" = up ]; }
wait_up() {
	local n=$(($1 * 20))
	until link_up; do
		n=$((n - 1))
		[ $n -gt 0 ] || return 1
		sleep 0.05
	done
}

(umask 077 && head -c 32 /dev/urandom >"$T/k")
mkdir -m 700 "$T/a-state" "$T/b-state"
pty_pair || { result serial-setup 1 "socat made no pty pair"; results_summary; exit; }
PIDS+=("$(start_simd "$BIN" "$T/a.sock" "$T/simd-a.log" -m -D "0=$T/a-relay.sock")")
PIDS+=("$(start_simd "$BIN" "$T/b.sock" "$T/simd-b.log" -m -D "0=$T/b-relay.sock" -D "5=$T/b5.sock")")
conf a b up "$T/pa" "[imports]
7000 = b:5:7000"
conf b a down "$T/pb" ""
relay a && relay b || { result serial-setup 1 "a relay did not start"; results_summary; exit; }
wait_up 10
result serial-both-connect $? "link not up within 10 s: a $(link_field a state), b $(link_field b state); $(tail -n 1 "$T/relay-a.log")"

# stream N WHAT: COUNT messages through the link while WHAT happens.
stream() {
	local name=$1 fault=$2 recv send rrc src got
	fault_at=""
	"$BIN/argo-stream" recv --fabric "sim:$T/b5.sock" --port 7000 --count "$COUNT" \
		--timeout 20000 --linger-ms 500 --progress-ms 50 >"$T/$name.recv" 2>&1 &
	recv=$!
	wait_for_line "$T/$name.recv" 'receiving on port' 5 || { result "$name" 1 "receiver did not start"; return; }
	"$BIN/argo-stream" send --fabric "sim:$T/a.sock" --to 0:7000 --count "$COUNT" \
		--timeout 20000 >"$T/$name.send" 2>&1 &
	send=$!
	$fault
	wait "$send"; src=$?
	wait "$recv"; rrc=$?
	got=$(grep '^argo-stream: received' "$T/$name.recv" | tail -n 1)
	[ $src = 0 ] && [ $rrc = 0 ] && grep -q "received $COUNT of $COUNT, 0 missing, 0 duplicated, 0 reordered, 0 corrupted" <<<"$got" &&
		{ [ "$fault" = nothing ] || [ -n "$fault_at" ]; }
	result "$name" $? "send rc=$src, recv rc=$rrc: ${got:-$(tail -n 1 "$T/$name.recv")}${fault_at:- (the fault never came mid-stream)}"
	[ -z "$fault_at" ] || echo "    $name: fault when the receiver was at #$fault_at; ${got#argo-stream: }"
}
# Faults a third of the way in: once the receiver has taken that much.
third() {
	local n=400 k
	while [ $n -gt 0 ]; do
		k=$(sed -n 's/^argo-stream: progress next #//p' "$T/$name.recv" | tail -n 1)
		[ "${k:-0}" -ge $((COUNT / 3)) ] && { fault_at=$k; return 0; }
		sleep 0.05
		n=$((n - 1))
	done
	return 1
}
kill_b() {
	third || return
	kill -KILL "$RB"
	wait "$RB" 2>/dev/null
	relay b
}
cut_pty() {
	third || return
	kill -TERM "$SOCAT"
	wait "$SOCAT" 2>/dev/null
	sleep 0.3 # the cable is out for a moment
	pty_pair
}
nothing() { :; }
stream serial-stream nothing
stream serial-relay-sigkill kill_b
stream serial-cut cut_pty
restarts=$(link_field a restarts)
wait_up 10 && [ "${restarts:-0}" -ge 1 ]
result serial-restart-counted $? "a restarts ${restarts:-?}, link a $(link_field a state)"

# A wrong key on one end: the handshakes are refused, retried, and once the
# handshake time-out passes each end counts an authentication failure and
# says why; the link never comes up.
kill -TERM "$RB"
wait "$RB" 2>/dev/null
RB=""
(umask 077 && head -c 32 /dev/urandom >"$T/kb")
sed -i 's/^key = k$/key = kb/' "$T/b.conf"
fa=$(link_field a auth_failures)
relay b || { result serial-wrong-key 1 "relay b did not start"; results_summary; exit; }
refused() { [ "$(link_field a auth_failures)" -gt "${fa:-0}" ] && [ "$(link_field b auth_failures)" -ge 1 ]; }
n=200
until refused || [ $n -eq 0 ]; do sleep 0.05; n=$((n - 1)); done
refused && [ "$(link_field a state)" != up ] && [ "$(link_field b state)" != up ] &&
	grep -q 'wrong key or certificate?' "$T/relay-a.log" && grep -q 'wrong key or certificate?' "$T/relay-b.log"
result serial-wrong-key $? "auth_failures a $(link_field a auth_failures) (was $fa), b $(link_field b auth_failures); refusals a $(link_field a refusals), b $(link_field b refusals); $(grep -h 'wrong key or certificate?' "$T/relay-b.log" | tail -n 1)"

# Both relays stop cleanly, without a sanitizer report (the san variant).
stop_rc=0
for p in $RA $RB; do
	kill -TERM "$p"
	wait "$p" || stop_rc=$?
done
RA="" RB=""
logs=$(grep -lE 'Sanitizer|runtime error' "$T"/relay-*.log 2>/dev/null | tr '\n' ' ')
[ "$stop_rc" = 0 ] && [ -z "$logs" ]
result serial-clean-exit $? "exit status $stop_rc, sanitizer reports: ${logs:-none}"
results_summary
