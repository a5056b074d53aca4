#!/bin/bash
# Attacks on relay links (issue 14), each a regression test: a stranger
# without the key, or a neighbour that holds its own link's key, tries to
# take a link down, make a relay hold memory, lie about routes and reports,
# or get past the handshake. Each case says what the relay must do, and
# prints a "measure:" line with the attacked relay's memory (resident set
# growth and its held_bytes peak) and the uptime of its links, which
# docs/benchmarks.md quotes.
#
# Usage: tests/integration/test-link-attacks.sh BIN_DIR [CASE...]
# Prints PASS/FAIL/SKIP lines and ends with "N passed, N failed[, N skipped]".
# ASAN_BUILD=1: the sanitizer build (resident memory is not checked there:
# ASan's quarantine keeps what was freed).
set -u
BIN=${1:-build/bin}
shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
. "$HERE/results.sh"
. "$HERE/relay-lib.sh"

EXTRA_PIDS=()
stop_extra() {
	local pid
	for pid in "${EXTRA_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	EXTRA_PIDS=()
}
trap 'stop_extra; chain_down >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

# The address relay 0's "down" link listens on (tcp chains).
listen_addr() {
	sed -n 's/^listen = //p' "$1/l0.conf" | head -n 1
}

# No link of relay i ended a session (its log says so when one does).
no_session_ended() {
	! grep -q "session ended" "$1/relay-l$2.log"
}

# measure NAME DIR LEVEL LINK PID RSS0: one line of figures for the notes.
measure() {
	local name=$1 dir=$2 i=$3 link=$4 pid=$5 rss0=$6 rss
	rss=$(rss_kib "$pid")
	echo "    measure: $name: relay l$i resident $((rss - rss0)) KiB more (now $rss KiB, peak $(peak_kib "$pid") KiB), held_peak $(relay_counter "$dir/l$i.ctl" held_peak) bytes, link $link up $(link_field "$dir/l$i.ctl" "$link" uptime_ms) ms in $(link_field "$dir/l$i.ctl" "$link" sessions) session(s)"
}

# check_rss PID RSS0 LIMIT_KIB: the relay grew by at most LIMIT_KIB (plain
# builds only). Sets WHY and returns 1 when not.
check_rss() {
	local grew=$(( $(rss_kib "$1") - $2 ))
	[ -n "${ASAN_BUILD:-}" ] && return 0
	if [ "$grew" -gt "$3" ]; then
		WHY="the relay's resident memory grew by $grew KiB (bound $3 KiB)"
		return 1
	fi
}

# ---- A stranger, without the key ------------------------------------------

# Bare connections to the listener every 50 ms for 4 s while a stream flows
# over the link: the session in use stays (it is replaced only by one that
# authenticated), nothing is lost, no connection counts as a failed
# handshake (so nobody is locked out).
case_connection_storm() {
	local dir rc=0 WHY="" addr rpid rss0 out
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	if ! chain_up "$dir" "$BIN" 2 tcp; then
		result connection-storm-link-stays-up 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	addr=$(listen_addr "$dir")
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[0]}")
	"$BIN/test-rogue" --connect "tcp:$addr" --storm 80 50 >"$dir/rogue.log" 2>&1 &
	rpid=$!
	stream_through "$dir" 2 20000 || { rc=1; WHY="the stream did not survive: $(tail -n 1 "$dir/recv.log")"; }
	wait "$rpid"
	out=$(cat "$dir/rogue.log")
	if [ $rc -eq 0 ] && ! grep -q "storm: [1-9][0-9]* of 80 connections" <<<"$out"; then
		rc=1
		WHY="the storm did not happen: $out"
	elif [ $rc -eq 0 ] && { [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] ||
		[ "$(link_field "$dir/l1.ctl" up sessions)" != 1 ] || ! no_session_ended "$dir" 0 ||
		! no_session_ended "$dir" 1; }; then
		rc=1
		WHY="the link was torn down: l0 sessions $(link_field "$dir/l0.ctl" down sessions), l1 sessions $(link_field "$dir/l1.ctl" up sessions); $(grep -h "session ended" "$dir"/relay-l*.log | head -n 2 | tr '\n' ' ')"
	elif [ $rc -eq 0 ] && [ "$(link_field "$dir/l0.ctl" down refused)" != 0 ]; then
		rc=1
		WHY="bare connections locked a source out: refused $(link_field "$dir/l0.ctl" down refused)"
	fi
	[ $rc -eq 0 ] && ! check_rss "${CHAIN_RELAY_PIDS[0]}" "$rss0" 8192 && rc=1
	result connection-storm-link-stays-up $rc "$WHY (logs in $dir)"
	measure connection-storm "$dir" 0 down "${CHAIN_RELAY_PIDS[0]}" "$rss0"
	end_case connection-storm-link-stays-up "$dir" $rc
}

# Six handshakes with a random key from another source (127.0.0.2), as the
# peer's public hvid: each fails, the fifth locks that source out (the sixth
# is refused), the session in use stays up, and the real peer, from its own
# address, reconnects at once after a restart. The log names 127.0.0.2.
case_lockout_attempt() {
	local dir rc=0 WHY="" addr rss0 out t0 waited
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	if ! chain_up "$dir" "$BIN" 2 tcp; then
		result lockout-per-source-only 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	addr=$(listen_addr "$dir")
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[0]}")
	out=$("$BIN/test-rogue" --connect "tcp:$addr" --bind 127.0.0.2 --hvid l1 --peer l0 \
		--bad-handshakes 6 2>&1)
	echo "$out" >"$dir/rogue.log"
	if ! grep -q "bad-handshakes: 6 tried: [0-9]* refused by TLS, [0-9]* closed by the relay, 0 no connection, 0 accepted" <<<"$out"; then
		rc=1
		WHY="the bad handshakes: $out"
	elif [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] || ! no_session_ended "$dir" 0; then
		rc=1
		WHY="the session in use went: l0 sessions $(link_field "$dir/l0.ctl" down sessions); $(grep -h "session ended" "$dir"/relay-l0.log | head -n 1)"
	elif ! grep -q "127.0.0.2" "$dir/relay-l0.log"; then
		rc=1
		WHY="l0's log does not name the attacker's address 127.0.0.2"
	elif [ "${ASAN_BUILD:-}" = "" ] && [ "$(link_field "$dir/l0.ctl" down refused)" -lt 1 ]; then
		rc=1
		WHY="the attacker's source was not locked out (refused $(link_field "$dir/l0.ctl" down refused))"
	fi
	if [ $rc -eq 0 ]; then
		# The real peer restarts: its source is not locked out.
		kill -TERM "${CHAIN_RELAY_PIDS[1]}" && wait "${CHAIN_RELAY_PIDS[1]}"
		t0=$(date +%s%N)
		if ! chain_start_relay "$dir" "$BIN" 1 || ! chain_wait_link "$dir" "$BIN" 1 up 5; then
			rc=1
			WHY="the real peer could not come back within 5 s: $(tail -n 2 "$dir/relay-l0.log" | tr '\n' ' ')"
		fi
		waited=$(( ($(date +%s%N) - t0) / 1000000 ))
	fi
	result lockout-per-source-only $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    ${out#test-rogue: }; l0 auth_failures $(link_field "$dir/l0.ctl" down auth_failures), refused $(link_field "$dir/l0.ctl" down refused); the real peer back in $waited ms"
	measure lockout-attempt "$dir" 0 down "${CHAIN_RELAY_PIDS[0]}" "$rss0"
	end_case lockout-per-source-only "$dir" $rc
}

# Before any handshake: a frame header announcing 16 MiB with its 16 MiB,
# and a TLS record announcing a 16 MiB ClientHello. Neither may make the
# relay hold more than a record, nor take the session in use down.
case_preauth_16m() {
	local dir rc=0 WHY="" rss0 hwm0 out grew
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	if ! chain_up "$dir" "$BIN" 2 unix; then
		result preauth-16mib-refused 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[0]}")
	hwm0=$(peak_kib "${CHAIN_RELAY_PIDS[0]}")
	out=$("$BIN/test-rogue" --connect "unix:$dir/l0-down.sock" --preauth-frame --preauth-tls 2>&1)
	echo "$out" >"$dir/rogue.log"
	grew=$(( $(peak_kib "${CHAIN_RELAY_PIDS[0]}") - hwm0 ))
	if [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] || ! no_session_ended "$dir" 0; then
		rc=1
		WHY="the session in use went: $(grep -h "session ended" "$dir"/relay-l0.log | head -n 1)"
	elif [ -z "${ASAN_BUILD:-}" ] && [ "$grew" -gt 4096 ]; then
		rc=1
		WHY="the relay's peak memory grew by $grew KiB for unauthenticated bytes ($out)"
	elif [ "$(link_field "$dir/l0.ctl" down auth_failures)" -lt 2 ]; then
		rc=1
		WHY="l0 counted $(link_field "$dir/l0.ctl" down auth_failures) failed handshakes for the two attempts"
	fi
	result preauth-16mib-refused $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(tr '\n' ';' <<<"${out//test-rogue: /}") peak memory +$grew KiB"
	measure preauth-16mib "$dir" 0 down "${CHAIN_RELAY_PIDS[0]}" "$rss0"
	end_case preauth-16mib-refused "$dir" $rc
}

# A man in the middle flips a bit of the first handshake record of the
# first three connections, going up (a ClientHello) and then, in a second
# chain, going down (a ServerHello): each handshake fails on the end that
# checks it, no session comes up from one, and the fourth connection, left
# alone, brings the link up and carries a stream.
tamper_run() {
	local dir=$1 dir_opt=$2 checker=$3 link=$4
	if ! start_mitm "$dir" "unix:$dir/mitm.sock" "unix:$dir/l0-down.sock" --flip \
		--dir "$dir_opt" --type handshake --after 0 --every 1 --connections 3 ||
		! CHAIN_RECONNECT_MS=50 CHAIN_UP_CONNECT_1="$dir/mitm.sock" chain_up "$dir" "$BIN" 2 unix; then
		WHY="topology did not come up ($dir_opt)"
		return 1
	fi
	if ! stream_through "$dir" 2 2000; then
		WHY="no stream after the tampered handshakes ($dir_opt): $(tail -n 1 "$dir/recv.log")"
		return 1
	fi
	local faults
	faults=$(grep -c "FAULT" "$dir/mitm.log")
	if [ "$faults" -ne 3 ]; then
		WHY="test-mitm tampered with $faults handshakes ($dir_opt), expected 3"
		return 1
	fi
	if [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] ||
		[ "$(link_field "$dir/l1.ctl" up sessions)" != 1 ]; then
		WHY="$dir_opt: sessions l0 $(link_field "$dir/l0.ctl" down sessions), l1 $(link_field "$dir/l1.ctl" up sessions): a tampered handshake made a session"
		return 1
	fi
	if [ "$(link_field "$dir/$checker.ctl" "$link" auth_failures)" -lt 3 ]; then
		WHY="$dir_opt: $checker counted $(link_field "$dir/$checker.ctl" "$link" auth_failures) failed handshakes, expected 3"
		return 1
	fi
	echo "    $dir_opt: 3 tampered handshakes refused by $checker (auth_failures $(link_field "$dir/$checker.ctl" "$link" auth_failures)), then up; $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //')"
}

case_handshake_tampering() {
	local dir rc=0 WHY=""
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	tamper_run "$dir" up l0 down || rc=1
	stop_mitm
	chain_down
	if [ $rc -eq 0 ]; then
		rm -rf "$dir"
		dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
		tamper_run "$dir" down l1 up || rc=1
		stop_mitm
	fi
	result handshake-tampering-refused $rc "$WHY (logs in $dir)"
	end_case handshake-tampering-refused "$dir" $rc
}

# Reflection and replay. The man in the middle sends the first three
# connections' bytes back to l1 (its own ClientHello reflected: no session
# may come of it), then lets the fourth through and captures what l1 sent
# on it (its handshake and first frames). Replaying that capture to l0,
# twice, while the session is up, must not make a session (fresh ECDHE and
# randoms: the old Finished does not verify) nor touch the one in use.
case_reflection() {
	local dir rc=0 WHY="" rss0 out
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	if ! start_mitm "$dir" "unix:$dir/mitm.sock" "unix:$dir/l0-down.sock" --reflect \
		--connections 3 --capture "$dir/flight" ||
		! CHAIN_RECONNECT_MS=50 CHAIN_UP_CONNECT_1="$dir/mitm.sock" chain_up "$dir" "$BIN" 2 unix; then
		result reflection-and-replay-refused 1 "topology did not come up (logs in $dir)"
		stop_mitm
		chain_down
		return
	fi
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[0]}")
	if [ "$(grep -c "FAULT.*reflecting" "$dir/mitm.log")" -ne 3 ]; then
		rc=1
		WHY="test-mitm reflected $(grep -c "FAULT.*reflecting" "$dir/mitm.log") connections, expected 3"
	elif [ "$(link_field "$dir/l1.ctl" up sessions)" != 1 ]; then
		rc=1
		WHY="l1 had $(link_field "$dir/l1.ctl" up sessions) sessions: a reflected handshake made one"
	fi
	if [ $rc -eq 0 ]; then
		sleep 0.5 # the capture holds the first frames too
		out=$("$BIN/test-rogue" --connect "unix:$dir/l0-down.sock" --send-file "$dir/flight" \
			--send-file "$dir/flight" 2>&1)
		echo "$out" >"$dir/rogue.log"
		if ! grep -q "send-file: sent [1-9]" <<<"$out"; then
			rc=1
			WHY="the replay did not happen: $out"
		elif [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] || ! no_session_ended "$dir" 0; then
			rc=1
			WHY="a replayed handshake touched the session in use: l0 sessions $(link_field "$dir/l0.ctl" down sessions); $(grep -h "session ended" "$dir"/relay-l0.log | head -n 1)"
		elif ! stream_through "$dir" 2 2000; then
			rc=1
			WHY="no stream after the replays: $(tail -n 1 "$dir/recv.log")"
		fi
	fi
	result reflection-and-replay-refused $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    3 reflected handshakes refused by l1 (auth_failures $(link_field "$dir/l1.ctl" up auth_failures)); 2 replays of a captured handshake refused by l0 (auth_failures $(link_field "$dir/l0.ctl" down auth_failures)); $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //')"
	measure reflection "$dir" 0 down "${CHAIN_RELAY_PIDS[0]}" "$rss0"
	stop_mitm
	end_case reflection-and-replay-refused "$dir" $rc
}

# ---- A neighbour that holds its link's key -------------------------------

# l0 has, besides its link to l1, a link "rg" to a rogue neighbour and a
# link "far" to a peer that is not there: whatever the rogue sends to far
# stays in l0. While it attacks, l1 pings through l0 (the link "down" must
# stay up and work).
rogue_chain() {
	local dir=$1
	chain_key "$dir/key-rg"
	chain_key "$dir/key-far"
	CHAIN_POLICY_0=$'rule = allow src rg dst far\nrule = allow src rg dst l0' \
		CHAIN_EXTRA_CONF_0="$(rogue_link rg "$dir/rg.sock" rg "$dir/key-rg")
[link far]
transport = unix
connect = $dir/nobody.sock
peer = far
key = $dir/key-far" chain_up "$dir" "$BIN" 2 unix
}

# rogue_flood NAME N SIZE BOUND_KIB: the rogue sends N DATA of SIZE bytes
# to far, ignoring the credit it was given. l0 must end its session at the
# first DATA beyond its grant (drops.credit), hold at most its queue bound
# (held_peak), grow by at most BOUND_KIB, and keep its link to l1 up.
rogue_flood() {
	local name=$1 n=$2 size=$3 bound=$4 dir rc=0 WHY="" rss0 out epid ppid peak
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	if ! rogue_chain "$dir"; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[0]}")
	"$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 3000 --size 64 \
		--timeout 5000 >"$dir/ping.log" 2>&1 &
	ppid=$!
	out=$("$BIN/test-rogue" --connect "unix:$dir/rg.sock" --hvid rg --peer l0 --key "$dir/key-rg" \
		--up --ignore-credit --data "$n" "$size" rg:1:1 far:1:1 --hold 500 2>&1)
	echo "$out" >"$dir/rogue.log"
	wait "$ppid" || { rc=1; WHY="l1's pings through l0 failed: $(tail -n 1 "$dir/ping.log")"; }
	peak=$(relay_counter "$dir/l0.ctl" held_peak)
	if [ $rc -ne 0 ]; then
		:
	elif ! grep -q "up: session with l0" <<<"$out"; then
		rc=1
		WHY="the rogue never got a session: $out"
	elif ! grep -q "ended yes" <<<"$out"; then
		rc=1
		WHY="l0 let the rogue overrun its credit: $(tail -n 1 <<<"$out"); held_peak $peak"
	elif [ "$(link_field "$dir/l0.ctl" rg credit)" -lt 1 ]; then
		rc=1
		WHY="l0 counted no credit overrun: drops.credit $(link_field "$dir/l0.ctl" rg credit)"
	elif [ "$peak" -gt $(( 8 * 1024 * 1024 )) ]; then
		rc=1
		WHY="l0 held $peak bytes at its peak, above its queue_bytes (8 MiB)"
	elif [ "$(link_field "$dir/l0.ctl" down sessions)" != 1 ] || ! no_session_ended "$dir" 1; then
		rc=1
		WHY="the link to l1 went down during the attack"
	fi
	[ $rc -eq 0 ] && ! check_rss "${CHAIN_RELAY_PIDS[0]}" "$rss0" "$bound" && rc=1
	result "$name" $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(grep "data:" <<<"$out" | sed 's/^test-rogue: //'); l0 took $(link_field "$dir/l0.ctl" rg data_rx) before ending the session (drops.credit $(link_field "$dir/l0.ctl" rg credit)), held_peak $peak bytes; $(tail -n 1 "$dir/ping.log" | sed 's/^argo-ping: //')"
	measure "$name" "$dir" 0 down "${CHAIN_RELAY_PIDS[0]}" "$rss0"
	stop_extra
	end_case "$name" "$dir" $rc
}

case_credit_overrun() { rogue_flood credit-overrun-session-ended 200 1048576 16384; }
case_zero_length_flood() { rogue_flood zero-length-flood-bounded 300000 0 8192; }

# l1 knows l2 only as its link "down"'s peer (no static route), and has a
# link "side" to a rogue neighbour rg. While l2's relay is away (stopped),
# the rogue announces l2 and l0 at 0 hops and sends DATA claiming to come
# from l2; then l2's relay comes back and announces itself. l1's table must
# say l2 via down and l0 via up (the rogue's announcements refused and
# counted), the rogue's DATA be dropped as spoofed, and the replies to l2's
# pings reach l2, none the rogue.
case_route_hijack() {
	local dir rc=0 WHY="" rss0 out epid ppid routes rogue
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	chain_key "$dir/key-rg"
	if ! CHAIN_NO_ROUTES_1=1 CHAIN_EXTRA_CONF_1="$(rogue_link side "$dir/rg.sock" rg "$dir/key-rg")" \
		chain_up "$dir" "$BIN" 3 unix; then
		result route-hijack-refused 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[1]}")
	kill -TERM "${CHAIN_RELAY_PIDS[2]}" && wait "${CHAIN_RELAY_PIDS[2]}"
	wait_until 5 field_is "$dir/l1.ctl" down state down || rc=1
	"$BIN/test-rogue" --connect "unix:$dir/rg.sock" --hvid rg --peer l1 --key "$dir/key-rg" \
		--up --announce l2:0,l0:0,rg:0 --data 20 64 l2:5:7000 l0:5:7000 --hold 6000 \
		>"$dir/rogue.log" 2>&1 &
	rogue=$!
	EXTRA_PIDS+=("$rogue")
	wait_for_line "$dir/rogue.log" "data: 20 of 20" 5 || rc=1
	chain_start_relay "$dir" "$BIN" 2 && chain_wait_link "$dir" "$BIN" 2 up 5 || rc=1
	sleep 0.2 # l2's announcement is in
	routes=$("$BIN/argo-relayctl" -s "$dir/l1.ctl" routes)
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --count 300 --size 64 \
		--timeout 5000 >"$dir/ping.log" 2>&1 &
	ppid=$!
	wait "$ppid"
	wait "$rogue"
	out=$(cat "$dir/rogue.log")
	if [ $rc -ne 0 ]; then
		WHY="the attack did not run: $(tail -n 2 "$dir/rogue.log" | tr '\n' ' ')"
	elif grep -qE "^  (l2|l0) +via side" <<<"$routes"; then
		rc=1
		WHY="l1's route table took the rogue's word: $(tr '\n' ' ' <<<"$routes")"
	elif [ "$(link_field "$dir/l1.ctl" side spoofed)" != 20 ]; then
		rc=1
		WHY="l1 counted drops.spoofed $(link_field "$dir/l1.ctl" side spoofed) of the rogue's 20 DATA from 'l2'"
	elif ! grep -q "data_rx 0," <<<"$out"; then
		rc=1
		WHY="replies meant for l2 went to the rogue: $(tail -n 1 <<<"$out")"
	elif ! grep -q "300 sent, 300 ok" "$dir/ping.log"; then
		rc=1
		WHY="l2's pings: $(tail -n 1 "$dir/ping.log")"
	fi
	result route-hijack-refused $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    l1 refused $(link_field "$dir/l1.ctl" side route) announced routes, dropped $(link_field "$dir/l1.ctl" side spoofed) spoofed DATA; l2: $(tail -n 1 "$dir/ping.log" | sed 's/^argo-ping: //')"
	measure route-hijack "$dir" 1 down "${CHAIN_RELAY_PIDS[1]}" "$rss0"
	stop_extra
	end_case route-hijack-refused "$dir" $rc
}

# While l2's program pings l0's echo through l1 from port 40001, a rogue
# neighbour of l1 sends UNDELIVERABLE reports for that program (domains 1
# to 8, port 40001) that answer nothing l1 sent it: l1 must drop and count
# them, and no report may reach the program.
case_forged_report() {
	local dir rc=0 WHY="" rss0 out epid ppid d args=()
	dir=$(mktemp -d /tmp/argo-attack.XXXXXX)
	chain_key "$dir/key-rg"
	if ! CHAIN_EXTRA_CONF_1="$(rogue_link side "$dir/rg.sock" rg "$dir/key-rg")" \
		chain_up "$dir" "$BIN" 3 unix; then
		result forged-report-dropped 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	rss0=$(rss_kib "${CHAIN_RELAY_PIDS[1]}")
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --port 40001 --count 1000 \
		--size 64 --timeout 5000 >"$dir/ping.log" 2>&1 &
	ppid=$!
	for d in 1 2 3 4 5 6 7 8; do
		args+=(--report 10 "l2:$d:40001" l0:5:7000 111)
	done
	out=$("$BIN/test-rogue" --connect "unix:$dir/rg.sock" --hvid rg --peer l1 --key "$dir/key-rg" \
		--up --hold 500 "${args[@]}" --hold 1000 2>&1)
	echo "$out" >"$dir/rogue.log"
	wait "$ppid" || { rc=1; WHY="l2's pings: $(tail -n 1 "$dir/ping.log")"; }
	if [ $rc -ne 0 ]; then
		:
	elif ! grep -q "1000 sent, 1000 ok, 0 wrong, 0 lost, 0 duplicated, 0 refused" "$dir/ping.log"; then
		rc=1
		WHY="forged reports reached the program: $(tail -n 1 "$dir/ping.log")"
	elif [ "$(relay_counter "$dir/l2.ctl" reports_sent)" != 0 ]; then
		rc=1
		WHY="l2 sent $(relay_counter "$dir/l2.ctl" reports_sent) reports to its guest"
	elif [ "$(link_field "$dir/l1.ctl" side report)" != 80 ]; then
		rc=1
		WHY="l1 counted drops.report $(link_field "$dir/l1.ctl" side report) of 80 forged reports"
	fi
	result forged-report-dropped $rc "$WHY (logs in $dir)"
	[ $rc -eq 0 ] && echo "    80 forged reports dropped by l1 (drops.report $(link_field "$dir/l1.ctl" side report)); l2: $(tail -n 1 "$dir/ping.log" | sed 's/^argo-ping: //')"
	measure forged-report "$dir" 1 down "${CHAIN_RELAY_PIDS[1]}" "$rss0"
	stop_extra
	end_case forged-report-dropped "$dir" $rc
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(connection_storm lockout_attempt preauth_16m handshake_tampering
	reflection credit_overrun zero_length_flood route_hijack forged_report)
for c in "${cases[@]}"; do
	t0=$SECONDS
	"case_$c"
	echo "    ($c: $((SECONDS - t0)) s)"
done
results_summary
