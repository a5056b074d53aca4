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

. "$HERE/results.sh"
. "$HERE/relay-lib.sh"

# What a case started outside chain_up, stopped even if the run is cut short.
EXTRA_PIDS=()
NETNS_MADE=()
stop_extra() {
	local pid
	for pid in "${EXTRA_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	EXTRA_PIDS=()
}
# Removes the namespaces made here (after their relays were stopped).
delete_netns() {
	local ns pid
	for ns in "${NETNS_MADE[@]}"; do
		# Only if interrupted can something of ours still run in there.
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		# Deleting a namespace deletes its end of the veth, and with it the pair.
		ip netns del "$ns" 2>/dev/null
	done
	NETNS_MADE=()
}
trap 'stop_extra; chain_down >/dev/null 2>&1; delete_netns' EXIT
trap 'exit 130' INT TERM

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

# ---- Adversarial cases -----------------------------------------------------

# Every N-th record spoiled: about 35 faults (each a new TLS session) in a
# stream of 5000 messages of up to 64 KiB; the case wants at least 5.
FAULT_EVERY=${RELAY_FAULT_EVERY:-200}
FAULT_COUNT=${RELAY_FAULT_COUNT:-5000}

# fault_case NAME COUNTER MITM-OPTION...
# A 3-level chain whose l1 -> l0 link runs through test-mitm, which spoils
# every FAULT_EVERY-th TLS record going up (after the handshake) as its
# option says. The link runs over TLS 1.3, so TLS notices: a record changed,
# replayed, reordered or lost fails its authentication tag (the record
# sequence number is in the nonce), and bytes that are no record break the
# record layer. Every fault ends the session; the link must come back each
# time and resume the stream: FAULT_COUNT messages arrive complete, in
# order, once, intact. l0 (the receiving end of that link, its link "down")
# must have counted each fault exactly once under drops.COUNTER (none: no
# drop counter, the connection was cut) and no other drop, with one session
# more than faults.
fault_case() {
	local name=$1 counter=$2 dir rc=0 why="" faults=0 n t0 d
	shift 2
	t0=$SECONDS
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! start_mitm "$dir" "unix:$dir/mitm.sock" "unix:$dir/l0-down.sock" \
		--dir up --after 1 --every "$FAULT_EVERY" "$@" ||
		! CHAIN_RECONNECT_MS=10 CHAIN_UP_CONNECT_1="$dir/mitm.sock" chain_up "$dir" "$BIN" 3 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		stop_mitm
		chain_down
		return
	fi
	if ! stream_through "$dir" 3 "$FAULT_COUNT"; then
		rc=1
		why="the stream did not survive: $(tail -n 1 "$dir/recv.log") / $(tail -n 1 "$dir/send.log")"
	fi
	# No more faults; then every fault made must show at l0 (a dropped or
	# held-back frame is noticed with the next one: a ping at the latest).
	kill -USR1 "$MITM_PID"
	if ! wait_for_line "$dir/mitm.log" "faults stopped after" 5; then
		rc=1
		why="test-mitm did not answer SIGUSR1"
	fi
	faults=$(sed -n 's/.*faults stopped after \([0-9]*\) faults.*/\1/p' "$dir/mitm.log")
	faults=${faults:-0}
	if [ $rc -eq 0 ] && [ "$faults" -lt 5 ]; then
		rc=1
		why="test-mitm made only $faults faults: the case did not test much"
	fi
	if [ $rc -eq 0 ]; then
		if [ "$counter" != none ] &&
			! wait_until 5 field_is "$dir/l0.ctl" down "$counter" "$faults"; then
			rc=1
			why="l0 counted drops.$counter $(link_field "$dir/l0.ctl" down "$counter"), test-mitm made $faults faults"
		fi
		if [ $rc -eq 0 ] &&
			! wait_until 5 field_is "$dir/l0.ctl" down sessions $((faults + 1)); then
			rc=1
			why="l0's link had $(link_field "$dir/l0.ctl" down sessions) sessions after $faults faults (expected $((faults + 1)))"
		fi
		for d in mac seq malformed spoofed credit report route; do
			[ "$d" = "$counter" ] && continue
			n=$(link_field "$dir/l0.ctl" down "$d")
			if [ $rc -eq 0 ] && [ "${n:-x}" != 0 ]; then
				rc=1
				why="l0 counted drops.$d $n: a fault was taken for something else"
			fi
		done
		# Nothing was spoiled the other way: l1 saw no bad record or frame.
		for d in mac seq malformed spoofed credit report route; do
			n=$(link_field "$dir/l1.ctl" up "$d")
			if [ $rc -eq 0 ] && [ "${n:-x}" != 0 ]; then
				rc=1
				why="l1 counted drops.$d $n, but nothing came down spoiled"
			fi
		done
	fi
	result "$name" $rc "$why (logs in $dir)"
	if [ "$counter" = none ]; then d="no drop counted"; else d="l0 drops.$counter $(link_field "$dir/l0.ctl" down "$counter")"; fi
	[ $rc -eq 0 ] && echo "    $faults faults, $d, sessions $(link_field "$dir/l0.ctl" down sessions), l1 retransmitted $(link_field "$dir/l1.ctl" up retransmits); $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //') [$((SECONDS - t0)) s]"
	stop_mitm || result "$name-mitm" 1 "test-mitm did not end cleanly: $(tail -n 3 "$dir/mitm.log")"
	end_case "$name" "$dir" $rc
}

case_tamper() { fault_case tamper-bit-flip-detected mac --flip; }
case_replay() { fault_case replay-detected mac --replay; }
case_reorder() { fault_case reorder-detected mac --reorder; }
case_drop() { fault_case dropped-record-detected mac --drop; }
case_garbage() { fault_case garbage-detected malformed --garbage; }
# A cut connection is no protocol error: no drop counter moves, but every
# cut costs a session.
case_truncate() { fault_case truncated-frame-survived none --truncate; }

# The two ends of the l1 -> l0 link have different keys: the link never
# comes up, each try is an authentication failure, after 2 in a row the
# link is reset and waits 500 ms, and a message sent meanwhile is not
# delivered (it stays in l1's import ring).
case_wrong_key() {
	local dir rc=0 why="" rpid t0 st af rs elapsed
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_key "$dir/wrong-key"
	if ! CHAIN_EXTRA_RELAY_CONF=$'max_auth_failures = 2\nreset_backoff_ms = 500' \
		CHAIN_UP_KEY_1="$dir/wrong-key" CHAIN_NO_WAIT_1=1 chain_up "$dir" "$BIN" 2 unix; then
		result wrong-key-never-up 1 "relays did not start (logs in $dir)"
		chain_down
		return
	fi
	t0=$(date +%s%N)
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count 1 \
		--timeout 3000 >"$dir/recv.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7000 --count 1 \
		--min-size 64 --max-size 64 >"$dir/send.log" 2>&1 || {
		rc=1
		why="the sender could not even hand its message to l1: $(cat "$dir/send.log")"
	}
	# While the receiver waits: never up, failures climbing, resets.
	while kill -0 "$rpid" 2>/dev/null; do
		for st in "$(link_field "$dir/l1.ctl" up state)" "$(link_field "$dir/l0.ctl" down state)"; do
			if [ "$st" = up ]; then
				rc=1
				why="the link came up with two different keys"
			fi
		done
		sleep 0.05
	done
	if wait "$rpid"; then
		rc=1
		why="the message was delivered through a link with the wrong key"
	elif ! grep -q "received 0 of 1" "$dir/recv.log"; then
		rc=1
		why="receiver: $(tail -n 1 "$dir/recv.log")"
	fi
	elapsed=$(( ($(date +%s%N) - t0) / 1000000 ))
	af=$(link_field "$dir/l1.ctl" up auth_failures)
	rs=$(link_field "$dir/l1.ctl" up resets)
	if [ $rc -eq 0 ]; then
		if [ "${af:-0}" -lt 4 ] || [ "${rs:-0}" -lt 2 ]; then
			rc=1
			why="after $elapsed ms: auth_failures $af, resets $rs (expected >= 4 and >= 2)"
		elif [ "$rs" -gt $(( elapsed / 500 + 2 )) ]; then
			rc=1
			why="$rs resets in $elapsed ms: the 500 ms reset back-off is not kept"
		elif [ "$(link_field "$dir/l1.ctl" up sessions)" != 0 ] ||
			[ "$(link_field "$dir/l0.ctl" down sessions)" != 0 ]; then
			rc=1
			why="a session was counted: l1 $(link_field "$dir/l1.ctl" up sessions), l0 $(link_field "$dir/l0.ctl" down sessions)"
		elif ! grep -q "authentication failed" "$dir/relay-l1.log" ||
			! grep -q "authentication failures in a row: reset" "$dir/relay-l1.log"; then
			rc=1
			why="l1's log does not say 'authentication failed' and '... in a row: reset'"
		elif [ "$(link_field "$dir/l0.ctl" down auth_failures)" -lt 2 ]; then
			rc=1
			why="l0 counted no authentication failure"
		fi
	fi
	result wrong-key-never-up $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    in $elapsed ms: l1 auth_failures $af, resets $rs; l0 auth_failures $(link_field "$dir/l0.ctl" down auth_failures); $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //')"
	end_case wrong-key-never-up "$dir" $rc
}

# The links authenticate with certificates instead of keys (a CA, and a
# certificate per relay naming its hvid): a stream through 3 levels; then
# l1 presents a certificate that names l9: l0 refuses every handshake and
# the link never comes up.
case_cert_links() {
	local dir rc=0 why=""
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_certs "$dir/pki" 3; then
		skipped cert-links "the openssl command line could not make certificates"
		rm -rf "$dir"
		return
	fi
	if ! CHAIN_CERTS="$dir/pki" chain_up "$dir" "$BIN" 3 unix; then
		result cert-links 1 "topology did not come up with certificates (logs in $dir)"
		chain_down
		return
	fi
	if ! stream_through "$dir" 3 5000; then
		rc=1
		why="stream: $(tail -n 1 "$dir/recv.log")"
	elif [ "$(link_field "$dir/l0.ctl" down auth)" != cert ]; then
		rc=1
		why="l0's link says auth $(link_field "$dir/l0.ctl" down auth)"
	fi
	result cert-links $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    3 levels with certificates ($(link_field "$dir/l0.ctl" down tls_cipher)): $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //')"
	end_case cert-links "$dir" $rc
	[ $rc -eq 0 ] || return
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	rc=0
	why=""
	chain_certs "$dir/pki" 1 && chain_cert "$dir/pki" l1 l9 || rc=1
	if [ $rc -eq 0 ] && CHAIN_CERTS="$dir/pki" CHAIN_NO_WAIT_1=1 chain_up "$dir" "$BIN" 2 unix; then
		sleep 1.5
		if [ "$(link_field "$dir/l0.ctl" down sessions)" != 0 ]; then
			rc=1
			why="l0 took a certificate naming l9 for l1"
		elif [ "$(link_field "$dir/l0.ctl" down auth_failures)" -lt 2 ]; then
			rc=1
			why="l0 counted $(link_field "$dir/l0.ctl" down auth_failures) failed handshakes"
		elif ! grep -q "certificate" "$dir/relay-l0.log"; then
			rc=1
			why="l0's log does not say it was the certificate: $(grep -m1 failed "$dir/relay-l0.log")"
		fi
	else
		rc=1
		why="relays did not start"
	fi
	result cert-wrong-name-refused $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(grep -m1 "handshake with" "$dir/relay-l0.log" | sed 's/^argo-relayd\[l0\]: //')"
	end_case cert-wrong-name-refused "$dir" $rc
}

# Keys in a running relay: no core dumps (its limits say so), and the bytes
# of its key files nowhere in its memory once its links derived their TLS
# keys (tests/integration/keyscan.py reads /proc/PID/mem). A rogue
# neighbour that keeps its key loaded (test-rogue --hold) is the control:
# the scanner finds its key there.
case_key_hygiene() {
	local dir rc=0 why="" i n rpid
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_key "$dir/key-rg"
	if ! CHAIN_EXTRA_CONF_0="$(rogue_link rg "$dir/rg.sock" rg "$dir/key-rg")" \
		chain_up "$dir" "$BIN" 2 unix; then
		result key-hygiene 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/test-rogue" --connect "unix:$dir/rg.sock" --hvid rg --peer l0 --key "$dir/key-rg" \
		--up --hold 30000 >"$dir/rogue.log" 2>&1 &
	rpid=$!
	EXTRA_PIDS+=("$rpid")
	wait_for_line "$dir/rogue.log" "up: session" 5 || rc=1
	n=$(python3 "$HERE/keyscan.py" "$rpid" "$dir/key-rg")
	if [ $rc -ne 0 ] || [ "${n:-0}" -lt 1 ]; then
		rc=1
		why="the scanner did not find the rogue's key in the rogue ($n): it proves nothing"
	fi
	for i in 0 1; do
		[ $rc -eq 0 ] || break
		if ! grep -qE "^Max core file size +0 +0 " "/proc/${CHAIN_RELAY_PIDS[$i]}/limits"; then
			rc=1
			why="relay l$i may dump core: $(grep "core file" "/proc/${CHAIN_RELAY_PIDS[$i]}/limits")"
			break
		fi
		n=$(python3 "$HERE/keyscan.py" "${CHAIN_RELAY_PIDS[$i]}" "$dir/key-0-1" "$dir/key-rg")
		if [ "$n" != "0 0" ]; then
			rc=1
			why="relay l$i holds its key files' bytes (found: $n)"
		fi
	done
	stop_extra
	result key-hygiene $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    no core dumps; the key files' bytes are in the rogue that keeps them, not in the relays"
	end_case key-hygiene "$dir" $rc
}

# A key file readable by others: the relay must not start.
case_key_mode() {
	local dir out rc line
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	head -c 32 /dev/urandom >"$dir/open.key"
	chmod 0644 "$dir/open.key"
	printf '[relay]\nhvid = l1\nfabric = sim:%s/none.sock\ncontrol = %s/r.ctl\n[link up]\ntransport = unix\nconnect = %s/none\npeer = l0\nkey = %s/open.key\n' \
		"$dir" "$dir" "$dir" "$dir" >"$dir/r.conf"
	line=$(grep -n '^key' "$dir/r.conf" | cut -d: -f1)
	out=$(timeout 10 "$BIN/argo-relayd" "$dir/r.conf" 2>&1)
	rc=$?
	if [ $rc -eq 2 ] && grep -q "r.conf:$line: key file $dir/open.key" <<<"$out" &&
		grep -q "mode 0644" <<<"$out" && [ ! -e "$dir/r.ctl" ]; then
		result key-file-mode-0644-refused 0 ""
		echo "    $out"
	else
		result key-file-mode-0644-refused 1 "exit $rc, said: $out"
	fi
	rm -rf "$dir"
}

# undeliverable_case NAME ERRNO-TEXT CTL-LEVEL COUNTER ECHO
# A 3-level chain; the L2 program pings the L0 driver domain through the
# import; the message cannot be delivered, and the relay that finds out
# reports it back: argo-ping must print the UNDELIVERABLE report of each
# request with the error, and the relay of level CTL-LEVEL count it.
undeliverable_case() {
	local name=$1 text=$2 level=$3 counter=$4 echo=$5 dir rc=0 why="" epid="" out n
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 3 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	if [ "$echo" = yes ]; then
		"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
		epid=$!
		wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	fi
	if out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --count 3 --size 64 \
		--timeout 5000 2>&1); then
		rc=1
		why="argo-ping succeeded: $out"
	fi
	for n in 0 1 2; do
		if ! grep -qF "argo-ping: request #$n undeliverable: $text (reported by the relay)" <<<"$out"; then
			rc=1
			why="no report for request #$n: $out"
		fi
	done
	if ! grep -q "3 refused" <<<"$out"; then
		rc=1
		why="summary: $out"
	fi
	n=$(relay_counter "$dir/l$level.ctl" "$counter")
	if [ "${n:-0}" -lt 3 ]; then
		rc=1
		why="relay l$level counted undeliverable.$counter ${n:-?}, expected 3"
	fi
	if [ "$(relay_counter "$dir/l2.ctl" reports_sent)" != 3 ]; then
		rc=1
		why="l2 sent $(relay_counter "$dir/l2.ctl" reports_sent) reports to its guest, expected 3"
	fi
	if [ "$(relay_counter "$dir/l0.ctl" local_delivered)" != 0 ]; then
		rc=1
		why="l0 delivered something to its fabric"
	fi
	if [ -n "$epid" ]; then
		kill -TERM "$epid" 2>/dev/null
		wait "$epid" 2>/dev/null
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(grep 'request #0' <<<"$out"); l$level undeliverable.$counter $n"
	end_case "$name" "$dir" $rc
}

# Reports never beget reports (issue 11). A sender at L2 sends 20 requests
# to the echo service at L0 and goes away without a ring for the answers:
# each reply is undeliverable at l2, which reports it to the echo. argo-echo
# must count the report and not send it back; and a careless service that
# does send it back (argo-echo --echo-all) must find its echo dropped by l0
# (reserved_dropped), never answered with another report. Before the fix the
# two answered each other for ever (thousands of messages a second). The
# counters are read again after 2 s: a loop would have moved them.
report_storm_case() {
	local name=$1 echo_opt=$2 dir rc=0 why="" epid n c0 c1 echoed=20
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 3 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	# shellcheck disable=SC2086 # no option, or one
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 $echo_opt >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l2.sock" --to 0:7000 --port 41000 --count 20 \
		--min-size 64 --max-size 64 --timeout 5000 >"$dir/send.log" 2>&1 || rc=1
	# Every reply reported back to the echo (l2 found no ring: no_ring).
	if ! wait_until 10 counter_is "$dir/l0.ctl" reports_sent 20; then
		rc=1
		why="l0 sent $(relay_counter "$dir/l0.ctl" reports_sent) reports to the echo, expected 20"
	fi
	if [ -n "$echo_opt" ] && [ $rc -eq 0 ] &&
		! wait_until 10 counter_is "$dir/l0.ctl" reserved_dropped 20; then
		rc=1
		why="l0 dropped $(relay_counter "$dir/l0.ctl" reserved_dropped) echoed reports, expected 20"
	fi
	c0=$("$BIN/argo-relayctl" -s "$dir/l0.ctl" counters --json)
	sleep 2
	c1=$("$BIN/argo-relayctl" -s "$dir/l0.ctl" counters --json)
	if [ $rc -eq 0 ] && [ "$c0" != "$c1" ]; then
		rc=1
		why="l0's counters still moving 2 s later (a report loop): $c1"
	fi
	n=$(relay_counter "$dir/l2.ctl" no_ring)
	if [ $rc -eq 0 ] && [ "$n" != 20 ]; then
		rc=1
		why="l2 counted $n undeliverable (no ring), expected 20"
	fi
	for n in 0 1; do
		if [ $rc -eq 0 ] && [ "$(relay_counter "$dir/l$n.ctl" reports_suppressed)" != 0 ]; then
			rc=1
			why="l$n suppressed reports: the rate limit did the work, not the rule"
		fi
	done
	kill -TERM "$epid" 2>/dev/null
	wait "$epid" 2>/dev/null
	[ -n "$echo_opt" ] && echoed=40 # the replies, and the reports sent back
	if [ $rc -eq 0 ] && ! grep -q "echoed $echoed messages, 20 undeliverable reports" "$dir/echo.log"; then
		rc=1
		why="argo-echo: $(tail -n 1 "$dir/echo.log")"
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    20 replies undeliverable at l2, 20 reports to the echo; l0 reserved_dropped $(relay_counter "$dir/l0.ctl" reserved_dropped), undeliverable at l0: $(relay_counter "$dir/l0.ctl" other)"
	end_case "$name" "$dir" $rc
}
case_report_storm() { report_storm_case reports-never-beget-reports ""; }
case_report_storm_echoed() { report_storm_case echoed-reports-dropped --echo-all; }

# A counter reaches at least VALUE (for wait_until).
counter_at_least() {
	[ "$(relay_counter "$1" "$2")" -ge "$3" ] 2>/dev/null
}

# The service restarts under a conversation (issue 11): argo-ping at L2
# talks to argo-echo at L0 (domain 5, a static domain that dies with its
# process); the echo is SIGKILLed mid-stream (by itself, right after its
# 500th reply: a test that polled, then killed, came too late on a loaded
# machine, the conversation over) and started again on the same socket. The fabric dropped l0's proxy ring partnered with the dead domain
# 5 (as Xen does); l0 must notice and register it again, so that the new
# echo's replies reach the old conversation. While the echo is down, the
# requests are reported refused (ECONNREFUSED); at most the one request in
# the dead echo's ring is lost; every request after the restart is answered.
# Before the fix every reply of the new echo was refused at l0's proxy port
# and the conversation never recovered (argo-ping would run for its whole
# count of time-outs: the deadline below fails it).
case_service_restart() {
	local name=service-restart-conversation-survives dir rc=0 why="" epid ppid out ok lost refused
	local suppressed n st
	local count=3000
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! chain_up "$dir" "$BIN" 3 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 --die-after 500 \
		>"$dir/echo.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --count $count --size 64 \
		--timeout 1000 --keep-going >"$dir/ping.log" 2>&1 &
	ppid=$!
	EXTRA_PIDS+=("$ppid")
	# (Its end reported to /dev/null: bash says "Killed" when it reaps it.)
	if ! wait_gone "$epid" 20 2>/dev/null; then
		rc=1
		why="the echo did not reach its 500th reply: $(tail -n 2 "$dir/ping.log")"
		kill -KILL "$epid"
	fi
	wait "$epid" 2>/dev/null
	st=$?
	if [ $rc -eq 0 ] && [ $st -ne 137 ]; then
		rc=1
		why="the echo ended with status $st, not by SIGKILL: $(tail -n 2 "$dir/echo.log")"
	fi
	# A request while the echo is down, refused; then the echo is back.
	wait_until 10 counter_at_least "$dir/l0.ctl" no_ring 1 || {
		rc=1
		why="no request was refused while the echo was down"
	}
	echo "--- echo restarted" >>"$dir/echo.log"
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >>"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	if ! wait_gone "$ppid" 60; then
		rc=1
		why="argo-ping still running 60 s after the echo came back: the replies of the new echo do not come back (l0: rings_gone $(relay_counter "$dir/l0.ctl" rings_gone), rings_reregistered $(relay_counter "$dir/l0.ctl" rings_reregistered))"
		kill -TERM "$ppid" 2>/dev/null
	fi
	wait "$ppid" 2>/dev/null
	out=$(grep "^argo-ping: $count sent" "$dir/ping.log")
	# A request refused while the echo is down whose report the rate limit
	# suppressed (report_rate, 100 a second by default: a fast sender can
	# pass it) is lost to argo-ping, counted by l0 (reports_suppressed).
	suppressed=$(relay_counter "$dir/l0.ctl" reports_suppressed)
	suppressed=${suppressed:-0}
	ok=$(sed -n 's/.* sent, \([0-9]*\) ok, 0 wrong, \([0-9]*\) lost, 0 duplicated, \([0-9]*\) refused.*/\1 \2 \3/p' <<<"$out")
	read -r ok lost refused <<<"$ok"
	if [ $rc -eq 0 ] && [ -z "$ok" ]; then
		rc=1
		why="argo-ping: $(tail -n 3 "$dir/ping.log")"
	elif [ $rc -eq 0 ] && { [ "$lost" -gt $((1 + suppressed)) ] || [ "$refused" -lt 1 ] ||
		[ $((ok + lost + refused)) -ne $count ]; }; then
		rc=1
		why="more requests lost than the one in the dead echo's ring and the $suppressed whose report l0 suppressed (report_rate), or none refused: $out"
	fi
	# Only l0 makes reports here; l1 and l2 pass them on, and a report
	# passed on is never suppressed again (the relays' buckets drift apart
	# by their jitter: one of them could run dry where l0 had not, and the
	# request was lost with no counter the sender's side looks at).
	for n in 1 2; do
		if [ $rc -eq 0 ] && [ "$(relay_counter "$dir/l$n.ctl" reports_suppressed)" != 0 ]; then
			rc=1
			why="l$n suppressed a report l0 made (passed on, it must not be limited again): $out"
		fi
	done
	# l0 noticed the ring had gone: it registered it again, or (its
	# partner still gone at the next check) let the proxy go and made a
	# new one for the new echo.
	if [ $rc -eq 0 ] && ! counter_at_least "$dir/l0.ctl" rings_gone 1; then
		rc=1
		why="l0 never noticed its proxy ring had gone, yet: $out"
	fi
	# What each relay counted, kept with the logs of a failure.
	if [ $rc -ne 0 ]; then
		for n in 0 1 2; do
			"$BIN/argo-relayctl" -s "$dir/l$n.ctl" counters --json >"$dir/counters-l$n.json" 2>&1
		done
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $ok ok, $lost lost (in the killed echo's ring, or a report suppressed: $suppressed), $refused refused while it was down; l0 rings_gone $(relay_counter "$dir/l0.ctl" rings_gone), rings_reregistered $(relay_counter "$dir/l0.ctl" rings_reregistered), proxies_freed $(relay_counter "$dir/l0.ctl" proxies_freed)"
	stop_extra
	end_case "$name" "$dir" $rc
}

# Local access (issue 11): every socket gets an explicit mode (and, when
# asked, a group), whatever the umask, so that a local user cannot take a
# relay's static domain socket (and adopt its rings) or read its control
# socket. Run with umask 000; checked as the unprivileged user nobody, with
# and without the socket's group (gid 100), and the error a refused
# argo_open gives names the socket's mode.
case_local_access() {
	local name=local-access-by-file-mode dir rc=0 why="" out pid pid2 m
	if ! id nobody >/dev/null 2>&1 || ! command -v setpriv >/dev/null; then
		skipped "$name" "no user nobody or no setpriv"
		return
	fi
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chmod 755 "$dir"
	as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }
	as_member() { setpriv --reuid=nobody --regid=nogroup --groups=100 "$@"; }
	# The defaults: owner only.
	pid=$(umask 000 && start_simd "$BIN" "$dir/a.sock" "$dir/simd-a.log" -m -D "5=$dir/a5.sock") || rc=1
	m="$(stat -c %a "$dir/a.sock" 2>/dev/null) $(stat -c %a "$dir/a5.sock" 2>/dev/null)"
	[ "$m" = "600 600" ] || { rc=1; why="under umask 000 the sockets were made with modes $m, not 600 600"; }
	out=$(as_nobody "$BIN/argo-echo" --fabric "sim:$dir/a5.sock" --port 7000 2>&1)
	if [ $rc -eq 0 ] && ! grep -q "permission denied (EACCES): .*by the mode of its socket" <<<"$out"; then
		rc=1
		why="nobody on a 0600 static socket: $out"
	fi
	out=$(as_nobody "$BIN/argo-ping" --fabric "sim:$dir/a.sock" --to 5:7000 --count 1 2>&1)
	if [ $rc -eq 0 ] && ! grep -q "permission denied (EACCES)" <<<"$out"; then
		rc=1
		why="nobody on a 0600 dynamic socket: $out"
	fi
	# A dynamic socket for all, static ones for a group.
	pid2=$(umask 000 && start_simd "$BIN" "$dir/b.sock" "$dir/simd-b.log" -m -D "5=$dir/b5.sock" \
		--socket-mode 0666 --domain-mode 0660 --group 100) || rc=1
	m="$(stat -c '%a %g' "$dir/b.sock" 2>/dev/null), $(stat -c '%a %g' "$dir/b5.sock" 2>/dev/null)"
	if [ $rc -eq 0 ] && [ "$m" != "666 100, 660 100" ]; then
		rc=1
		why="--socket-mode 0666 --domain-mode 0660 --group 100 made: $m"
	fi
	out=$(as_nobody "$BIN/argo-ping" --fabric "sim:$dir/b.sock" --to 5:7000 --count 1 \
		--timeout 1000 2>&1)
	if [ $rc -eq 0 ] && ! grep -q "register port 40000: no such domain (ESRCH)" <<<"$out"; then
		rc=1
		why="nobody on a 0666 dynamic socket should get in (and find no domain 5): $out"
	fi
	out=$(as_nobody "$BIN/argo-echo" --fabric "sim:$dir/b5.sock" --port 7000 2>&1)
	if [ $rc -eq 0 ] && ! grep -q "permission denied (EACCES)" <<<"$out"; then
		rc=1
		why="nobody outside group 100 on a 0660 static socket: $out"
	fi
	setpriv --reuid=nobody --regid=nogroup --groups=100 \
		"$BIN/argo-echo" --fabric "sim:$dir/b5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	EXTRA_PIDS+=("$!")
	if [ $rc -eq 0 ] && ! wait_for_line "$dir/echo.log" "domain 5 serving port 7000" 5; then
		rc=1
		why="a member of group 100 on the 0660 static socket: $(cat "$dir/echo.log")"
	fi
	stop_extra
	stop_simd "$pid" "$dir/simd-a.log" || rc=1
	stop_simd "$pid2" "$dir/simd-b.log" || rc=1
	# A relay's control socket: 0600 by default, or a group's.
	if [ $rc -eq 0 ]; then
		if ! (umask 000 && CHAIN_EXTRA_RELAY_CONF_0=$'control_mode = 0660\ncontrol_group = 100' \
			chain_up "$dir" "$BIN" 2 unix); then
			rc=1
			why="topology did not come up"
		fi
		m="$(stat -c '%a %g' "$dir/l0.ctl" 2>/dev/null), $(stat -c %a "$dir/l1.ctl" 2>/dev/null)"
		if [ $rc -eq 0 ] && [ "$m" != "660 100, 600" ]; then
			rc=1
			why="control sockets made with $m, not '660 100, 600'"
		fi
		if [ $rc -eq 0 ] && { as_nobody "$BIN/argo-relayctl" -s "$dir/l0.ctl" status >/dev/null 2>&1 ||
			as_member "$BIN/argo-relayctl" -s "$dir/l1.ctl" status >/dev/null 2>&1 ||
			! as_member "$BIN/argo-relayctl" -s "$dir/l0.ctl" status >/dev/null 2>&1; }; then
			rc=1
			why="argo-relayctl as nobody: only a member of group 100, and only on l0's socket, may read it"
		fi
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# l1's policy denies the destination before the chain's own allow rules.
case_policy_denied() {
	CHAIN_POLICY_1="rule = deny dst l0:5:7000" \
		undeliverable_case policy-denied-reported-eacces "Permission denied" 1 policy yes
}

# Nothing listens at l0:5:7000 (no argo-echo): l0 finds no ring.
case_no_ring() {
	undeliverable_case no-ring-reported-econnrefused "Connection refused" 0 no_ring no
}

# A rogue neighbour: test-rogue holds the key of its own link to l0 (link
# "rg", peer rg) and sends DATA claiming sources it does not lead to
# ("evil", which l0 routes nowhere) among DATA of its own. l0's policy
# allows both, so only the anti-spoofing check can stop the first ones:
# each must be dropped and counted (drops.spoofed) while the session stays
# up, and exactly the others reach the echo and are answered.
case_spoofed_source() {
	local dir rc=0 why="" epid out sp answered
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_key "$dir/key-rg"
	if ! CHAIN_POLICY_0=$'rule = allow src evil dst l0:5:7000\nrule = allow src rg dst l0:5:7000\nrule = allow src l0 dst rg' \
		CHAIN_EXTRA_CONF_0="$(rogue_link rg "$dir/rg.sock" rg "$dir/key-rg")" \
		chain_up "$dir" "$BIN" 2 unix; then
		result spoofed-source-dropped 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	out=$("$BIN/test-rogue" --connect "unix:$dir/rg.sock" --hvid rg --peer l0 --key "$dir/key-rg" \
		--up --data 50 64 evil:1:1 l0:5:7000 --data 50 64 rg:1:1 l0:5:7000 --hold 1500 2>&1)
	echo "$out" >"$dir/rogue.log"
	sp=$(link_field "$dir/l0.ctl" rg spoofed)
	answered=$(sed -n 's/.*data_rx \([0-9]*\).*/\1/p' <<<"$out" | tail -n 1)
	if ! grep -q "summary: up yes, data_sent 100, .* ended no" <<<"$out"; then
		rc=1
		why="the rogue's session: $(tail -n 1 <<<"$out")"
	elif [ "$sp" != 50 ]; then
		rc=1
		why="l0 counted drops.spoofed $sp, 50 claimed 'evil'"
	elif [ "$answered" != 50 ]; then
		rc=1
		why="the echo answered $answered of the rogue's messages, expected its own 50"
	elif [ "$(link_field "$dir/l0.ctl" rg sessions)" != 1 ]; then
		rc=1
		why="the rogue's link had $(link_field "$dir/l0.ctl" rg sessions) sessions: the drops are not per message"
	fi
	kill -TERM "$epid" 2>/dev/null
	wait "$epid" 2>/dev/null
	result spoofed-source-dropped $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    50 DATA claiming 'evil' dropped (l0 drops.spoofed $sp), the rogue's own 50 answered; its session stayed up"
	end_case spoofed-source-dropped "$dir" $rc
}

# A second "hypervisor" kvm-a (its own argo-simd) whose relay runs in a
# network namespace of its own, linked over tcp across a veth pair to relay
# l1, itself moved into a second namespace (so that no address is added
# outside the namespaces made here). A program in kvm-a pings the L0 driver
# domain (argo-echo) through l1 and l0: l1 learns kvm-a from its
# announcement, l0 learns it from l1's, and the replies find their way
# back. The sim fabrics' sockets are filesystem paths, which every
# namespace reaches.
case_netns_side_link() {
	local dir rc=0 why="" tag ns_a ns_1 va v1 net ip_a ip_1 err kpid spid epid out bytes rx tx
	if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; then
		skipped netns-side-link "needs root and iproute2 (ip) to make network namespaces"
		return
	fi
	tag="$$$RANDOM"
	ns_a="argo-ka-$tag"
	ns_1="argo-l1-$tag"
	va="aka${tag: -8}"
	v1="al1${tag: -8}"
	net="10.213.$((RANDOM % 250)).0"
	ip_1="${net%.0}.1"
	ip_a="${net%.0}.2"
	if ! err=$(ip netns add "$ns_a" 2>&1); then
		skipped netns-side-link "cannot make a network namespace: ip netns add: $err"
		return
	fi
	NETNS_MADE+=("$ns_a")
	if ! err=$(ip netns add "$ns_1" 2>&1); then
		delete_netns
		skipped netns-side-link "cannot make a second network namespace: ip netns add: $err"
		return
	fi
	NETNS_MADE+=("$ns_1")
	# The pair is made inside the namespaces: it never exists outside them.
	if ! err=$({ ip -n "$ns_a" link add "$va" type veth peer name "$v1" netns "$ns_1" &&
		ip -n "$ns_a" addr add "$ip_a/30" dev "$va" &&
		ip -n "$ns_1" addr add "$ip_1/30" dev "$v1" &&
		ip -n "$ns_a" link set "$va" up && ip -n "$ns_1" link set "$v1" up &&
		ip -n "$ns_a" link set lo up && ip -n "$ns_1" link set lo up; } 2>&1); then
		delete_netns
		skipped netns-side-link "cannot make a veth pair between namespaces: $err"
		return
	fi
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_key "$dir/key-ka-1"
	local allow=$'rule = allow src kvm-a dst l0:5:7000\nrule = allow src l0:5:7000 dst kvm-a'
	# l0 learns kvm-a from l1, which may announce it (and only it beside
	# itself: docs/relay-config.md, "announce").
	if ! CHAIN_RELAY_WRAP_1="ip netns exec $ns_1" CHAIN_POLICY_0="$allow" CHAIN_POLICY_1="$allow" \
		CHAIN_DOWN_EXTRA_0="announce = kvm-a" \
		CHAIN_EXTRA_CONF_1=$'[link side]\ntransport = tcp\nlisten = '"$ip_1"$':7400\npeer = kvm-a\nkey = '"$dir/key-ka-1" \
		chain_up "$dir" "$BIN" 2 unix; then
		result netns-side-link 1 "the l0-l1 chain did not come up (logs in $dir)"
		chain_down
		delete_netns
		return
	fi
	# kvm-a: its fabric, and its relay in its namespace.
	spid=$(start_simd "$BIN" "$dir/ka.sock" "$dir/simd-ka.log" -m -D "0=$dir/ka-relay.sock") || rc=1
	[ -n "$spid" ] && CHAIN_PIDS+=("$spid")
	cat >"$dir/ka.conf" <<-EOF
	[relay]
	hvid = kvm-a
	fabric = sim:$dir/ka-relay.sock
	control = $dir/ka.ctl
	reconnect_ms = 50
	ping_ms = 500
	[link up]
	transport = tcp
	connect = $ip_1:7400
	peer = l1
	key = $dir/key-ka-1
	announce = l0
	[imports]
	7000 = l0:5:7000
	[policy]
	default = deny
	$allow
	EOF
	ip netns exec "$ns_a" "$BIN/argo-relayd" -v "$dir/ka.conf" 2>>"$dir/relay-ka.log" &
	kpid=$!
	EXTRA_PIDS+=("$kpid")
	if [ $rc -ne 0 ] || ! wait_until 10 field_is "$dir/ka.ctl" up state up ||
		! wait_until 5 field_is "$dir/l1.ctl" side state up; then
		rc=1
		why="the side link did not come up: kvm-a $(link_field "$dir/ka.ctl" up state), l1 $(link_field "$dir/l1.ctl" side state)"
	fi
	if [ $rc -eq 0 ]; then
		"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
		epid=$!
		EXTRA_PIDS+=("$epid")
		wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
		# l0 learns kvm-a from l1's announcement (no static route).
		if ! wait_until 5 bash -c "'$BIN/argo-relayctl' -s '$dir/l0.ctl' routes | grep -qE '^  kvm-a +via down +hops 2\$'"; then
			rc=1
			why="l0 did not learn kvm-a from l1: $("$BIN/argo-relayctl" -s "$dir/l0.ctl" routes | tr '\n' ' ')"
		fi
	fi
	if [ $rc -eq 0 ]; then
		out=$("$BIN/argo-ping" --fabric "sim:$dir/ka.sock" --to 0:7000 --count 500 --size 1000 \
			--timeout 5000 2>&1) || {
			rc=1
			why="argo-ping from kvm-a: $out"
		}
		# Each way carried at least the 500 x 1000 bytes of the messages.
		read -r rx tx < <(ip -n "$ns_1" -s link show "$v1" |
			awk '/RX:/ {getline; rx = $1} /TX:/ {getline; tx = $1} END {print rx + 0, tx + 0}')
		bytes="$rx in, $tx out"
		if [ $rc -eq 0 ] && { [ "${rx:-0}" -lt 500000 ] || [ "${tx:-0}" -lt 500000 ]; }; then
			rc=1
			why="only $bytes bytes crossed l1's end of the veth for 500 x 1000 bytes each way"
		fi
	fi
	result netns-side-link $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    kvm-a ($ns_a, $ip_a) -> tcp $ip_1:7400 -> l1 ($ns_1) -> l0: ${out#argo-ping: }; veth $bytes bytes"
	stop_extra
	end_case netns-side-link "$dir" $rc
	delete_netns
	if ip netns list | grep -qE "^($ns_a|$ns_1)( |$)"; then
		result netns-side-link-cleanup 1 "namespace $ns_a or $ns_1 is still there"
	fi
}

# Routed mode (argo/routed.h): the L2 program addresses the global
# l0:5:7000 directly, through its relay's routed port, with no import; the
# echo answers the global source it was given, in routed mode too. Then the
# errors, as routed mode surfaces them (the errno Xen would give): no ring
# at l0:5:7001 (allowed by policy) is ECONNREFUSED, l0:5:7002 (denied) is
# EACCES, and an hvid no relay knows is EHOSTUNREACH (and l0:5:7000 once
# the echo is gone: ECONNREFUSED in routed mode, although l2 also imports
# that address). A routed message with a bad header is reported too (EINVAL),
# not forwarded.
case_routed_mode() {
	local dir rc=0 why="" epid out n
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	if ! CHAIN_POLICY_0="rule = allow src l2 dst l0:5:7001" \
		CHAIN_POLICY_1="rule = allow src l2 dst l0:5:7001
rule = allow src l2 dst nowhere" \
		CHAIN_POLICY_2="rule = allow src l2 dst l0:5:7001
rule = allow src l2 dst nowhere" chain_up "$dir" "$BIN" 3 unix; then
		result routed-mode 1 "topology did not come up (logs in $dir)"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 --routed 0 >"$dir/echo.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	if ! out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --global l0:5:7000 --relay 0 \
		--count 2000 --size 256 --timeout 5000 2>&1); then
		rc=1
		why="routed ping failed: $out"
	fi
	grep -q "2000 sent, 2000 ok, 0 wrong, 0 lost, 0 duplicated, 0 refused" <<<"$out" ||
		{ rc=1; why="routed ping: $out"; }
	local ok_line=$out
	# Nothing went through an import or a proxy port: l2 has no import
	# mapping in use, and l0 delivered from its routed port.
	n=$(relay_counter "$dir/l0.ctl" local_delivered)
	[ "${n:-0}" -ge 2000 ] || { rc=1; why="l0 delivered ${n:-?} messages, expected 2000"; }
	local target errtext
	for target in "l0:5:7001|Connection refused" "l0:5:7002|Permission denied" \
		"nowhere:1:1|No route to host"; do
		errtext=${target#*|}
		out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --global "${target%%|*}" --relay 0 \
			--count 2 --size 64 --timeout 5000 --port 40001 2>&1)
		if ! grep -qF "request #1 undeliverable: $errtext (${target%%|*}, routed mode)" <<<"$out" ||
			! grep -q "2 refused" <<<"$out"; then
			rc=1
			why="${target%%|*}: expected '$errtext': $out"
		fi
	done
	# A message to the routed port without a valid header.
	if [ $rc -eq 0 ]; then
		out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:$((0xA4600000)) --count 1 \
			--size 64 --timeout 5000 --port 40002 2>&1)
		n=$("$BIN/argo-relayctl" -s "$dir/l2.ctl" counters --json |
			sed -n 's/.*"routed_malformed":\([0-9]*\).*/\1/p')
		[ "${n:-0}" -eq 1 ] || { rc=1; why="l2 counted routed_malformed ${n:-?}, expected 1: $out"; }
		grep -q "undeliverable: Invalid argument" <<<"$out" ||
			{ rc=1; why="no EINVAL report for a bad routed header: $out"; }
	fi
	kill -TERM "$epid" 2>/dev/null
	wait "$epid" 2>/dev/null
	# l2 also imports l0:5:7000 on port 7000: a routed message's report must
	# still come back in routed mode, not from that import port.
	if [ $rc -eq 0 ]; then
		out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --global l0:5:7000 --relay 0 \
			--count 2 --size 64 --timeout 5000 --port 40003 2>&1)
		grep -qF "request #1 undeliverable: Connection refused (l0:5:7000, routed mode)" <<<"$out" ||
			{ rc=1; why="routed report for l0:5:7000 with no echo: $out"; }
	fi
	result routed-mode $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $ok_line"
	end_case routed-mode "$dir" $rc
}

# Chaos: while a stream of mixed sizes (16 B .. 64 KiB) flows through 3
# levels, relays are SIGKILLed and restarted, and the l1<->l0 link is cut,
# at random moments, until the sender is done. Every message must arrive
# exactly once, in order, intact: rings outlive the relays, each relay passes
# a message on before it releases it, and the last one drops copies by
# origin (docs/relay-design.md, "Custody"). The receiver keeps reading for a
# second after the last message, so that a late copy is caught too.
case_relay_kills() {
	local dir spid rpid sender rc=0 n=0 kills=0 cuts=0 victim i why count=${RELAY_KILL_COUNT:-$COUNT}
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_up_proxied "$dir" "$BIN" 3 custody || rc=1
	spid=$PROXY_PID
	if [ $rc -ne 0 ]; then
		result relay-kills-no-loss-no-dup 1 "topology did not come up"
		proxy_cut "$spid"
		chain_down
		return
	fi
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$count" \
		--timeout 30000 --linger-ms 1000 >"$dir/recv.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/l2.sock" --to 0:7000 --count "$count" \
		--timeout 30000 >"$dir/send.log" 2>&1 &
	sender=$!
	while kill -0 "$sender" 2>/dev/null && [ $n -lt 40 ]; do
		# A random moment of the transfer, then a random victim.
		sleep 0.$((RANDOM % 4 + 1))
		n=$((n + 1))
		victim=$((RANDOM % 4))
		if [ $victim -eq 3 ]; then
			proxy_cut "$spid"
			proxy_start "$dir/proxy.sock" "$dir/l0-down.sock"
			spid=$PROXY_PID
			cuts=$((cuts + 1))
		else
			kill -KILL "${CHAIN_RELAY_PIDS[$victim]}"
			wait "${CHAIN_RELAY_PIDS[$victim]}" 2>/dev/null
			echo "--- SIGKILL, restarted" >>"$dir/relay-l$victim.log"
			chain_start_relay "$dir" "$BIN" "$victim" || { rc=1; break; }
			kills=$((kills + 1))
		fi
	done
	wait "$sender" || rc=1
	wait "$rpid" || rc=1
	why="$(tail -n 1 "$dir/recv.log") / $(tail -n 1 "$dir/send.log")"
	local copies=0 adopted=0 c
	for i in 0 1 2; do
		c=$("$BIN/argo-relayctl" -s "$dir/l$i.ctl" counters --json)
		copies=$((copies + $(sed -n 's/.*"duplicates_dropped":\([0-9]*\).*/\1/p' <<<"$c")))
		adopted=$((adopted + $(sed -n 's/.*"rings_adopted":\([0-9]*\).*/\1/p' <<<"$c")))
	done
	if [ $rc -eq 0 ] && [ $kills -eq 0 ]; then
		rc=1
		why="the sender finished before any relay was killed: nothing was tested"
	fi
	proxy_cut "$spid"
	result relay-kills-no-loss-no-dup $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $kills relays SIGKILLed and $cuts link cuts during $count messages; $(tail -n 1 "$dir/recv.log"); last runs: $copies copies dropped, $adopted rings adopted"
	chain_down
	[ $rc -eq 0 ] && rm -rf "$dir"
}

# Every message that leaves the system is counted somewhere (issue 11): a
# 3-level chain with state_dir, argo-echo at L0 and two argo-pings at L2,
# and a fault at every level while they run: at L2 a sender SIGKILLed (its
# replies undeliverable there), the l1<->l0 link cut, relay l1 and then
# relay l0 SIGKILLed and restarted, at L0 the echo SIGKILLed (requests
# refused) and started again with a ring too small for the larger requests
# (EMSGSIZE). After every fault each relay's sum must hold (taken = passed
# on + held, harness/accounting.py), and at the end, at rest, the sums end
# to end, across the restarts: what guests sent into relay rings (as each
# level's fabric saw it) = delivered into guests' rings + undeliverable,
# and each level's deliveries as its fabric saw them = what its relay's
# table counted. A message lost, delivered twice or not counted fails it;
# so does a fault that did not bite (nothing undeliverable at L0 or L2).
case_accounting() {
	local name=every-message-counted dir rc=0 why="" i spid epid p1 p2 n step
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_up_proxied "$dir" "$BIN" 3 custody || rc=1
	spid=$PROXY_PID
	if [ $rc -ne 0 ]; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		proxy_cut "$spid"
		chain_down
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --port 40001 --count 1000000 \
		--window 16 --size 64 --max-size 16384 --timeout 500 --keep-going >"$dir/ping1.log" 2>&1 &
	p1=$!
	"$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --port 40002 --count 1000000 \
		--window 32 --size 64 --timeout 500 --keep-going >"$dir/ping2.log" 2>&1 &
	p2=$!
	EXTRA_PIDS+=("$p1" "$p2")
	# step NAME COUNTER VALUE: after a fault, l-level traffic moved on
	# (counter of relay CTL reached VALUE), then every relay's sum holds.
	step() {
		echo "    [$SECONDS s] $1" >>"$dir/steps.log"
		if [ $rc -eq 0 ] && ! wait_until 10 counter_at_least "$dir/$2.ctl" "$3" "$4"; then
			rc=1
			why="after '$1': $2's $3 stayed at $(relay_counter "$dir/$2.ctl" "$3"), not $4"
		fi
		if [ $rc -eq 0 ] && ! accounting_relays "$dir" 3 "$1"; then
			rc=1
			why="after '$1': a relay's sum does not hold: $(grep -A1 FAIL "$dir/accounting.log" | head -n 2)"
		fi
	}
	step "traffic" l0 local_delivered 500
	# L2: a sender dies; the echo's replies to it are undeliverable at l2.
	kill -KILL "$p2"
	wait "$p2" 2>/dev/null
	step "sender SIGKILLed" l2 no_ring 1
	# L1: the link to l0 cut, then relay l1 killed and started again.
	n=$(relay_counter "$dir/l0.ctl" local_delivered)
	proxy_cut "$spid"
	proxy_start "$dir/proxy.sock" "$dir/l0-down.sock"
	spid=$PROXY_PID
	step "link l1-l0 cut" l0 local_delivered $((n + 200))
	n=$(relay_counter "$dir/l0.ctl" local_delivered)
	kill -KILL "${CHAIN_RELAY_PIDS[1]}"
	wait "${CHAIN_RELAY_PIDS[1]}" 2>/dev/null
	chain_start_relay "$dir" "$BIN" 1 || rc=1
	step "relay l1 SIGKILLed" l0 local_delivered $((n + 200))
	# L0: the echo killed (requests refused), back with a 4 KiB ring (the
	# larger requests too large for it), then relay l0 killed.
	kill -KILL "$epid"
	wait "$epid" 2>/dev/null
	step "echo SIGKILLed" l0 no_ring 1
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 --ring-len 4096 \
		>>"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	step "echo back, smaller ring" l0 msgsize 1
	kill -KILL "${CHAIN_RELAY_PIDS[0]}"
	wait "${CHAIN_RELAY_PIDS[0]}" 2>/dev/null
	chain_start_relay "$dir" "$BIN" 0 || rc=1
	step "relay l0 SIGKILLed" l0 local_delivered 200
	# The last sender dies too; then everything settles.
	kill -KILL "$p1"
	wait "$p1" 2>/dev/null
	if [ $rc -eq 0 ] && ! wait_until 15 at_rest "$dir" 3; then
		rc=1
		why="the relays did not come to rest: $(for i in 0 1 2; do "$BIN/argo-relayctl" -s "$dir/l$i.ctl" counters | grep custody; done)"
	fi
	if [ $rc -eq 0 ] && ! { accounting_relays "$dir" 3 "at rest" && accounting_system "$dir" 3; }; then
		rc=1
		why="$(grep FAIL "$dir/accounting.log" | head -n 3)"
	fi
	# The faults bit: something was undeliverable at both ends.
	for i in 0 2; do
		n=$(sed -n 's/.*"settled_undeliverable":\([0-9]*\).*/\1/p' "$dir/acct-l$i.json")
		if [ $rc -eq 0 ] && [ "${n:-0}" -eq 0 ]; then
			rc=1
			why="nothing undeliverable at l$i: a fault did not bite"
		fi
	done
	proxy_cut "$spid"
	[ $rc -ne 0 ] && cat "$dir/steps.log"
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(grep 'end to end:' "$dir/accounting.log")"
	stop_extra
	end_case "$name" "$dir" $rc
}

# An UNDELIVERABLE report found while the link it must go back on is down
# (issue 11, left over from the relay issue): a sender at L1 fills the ring
# of a receiver at L0 that does not read, so that l0 holds the rest for
# ring space; the l1-l0 link is cut, the receiver SIGKILLed: the held
# messages fail at l0 (no ring) with no session to report them on. l0 must
# keep the reports and send them first in the next session (its HELLO
# acknowledging nothing beyond them), and every one must reach the sender
# through l1. Before, each was dropped: the sender never heard.
case_report_after_cut() {
	local name=reports-survive-a-link-cut dir rc=0 why="" spid rpid ppid n
	dir=$(mktemp -d /tmp/argo-relay-test.XXXXXX)
	chain_up_proxied "$dir" "$BIN" 2 || rc=1
	spid=$PROXY_PID
	if [ $rc -ne 0 ]; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		proxy_cut "$spid"
		chain_down
		return
	fi
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --ring-len 4096 \
		--stall-ms 60000 --count 1000 >"$dir/recv.log" 2>&1 &
	rpid=$!
	EXTRA_PIDS+=("$rpid")
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 64 --window 64 --size 64 \
		--timeout 30000 --keep-going >"$dir/ping.log" 2>&1 &
	ppid=$!
	EXTRA_PIDS+=("$ppid")
	if ! wait_until 10 counter_at_least "$dir/l0.ctl" local_held 1; then
		rc=1
		why="l0 held nothing for ring space"
	fi
	proxy_cut "$spid"
	if [ $rc -eq 0 ] && ! wait_until 10 field_is "$dir/l0.ctl" down state down; then
		rc=1
		why="l0's link did not go down"
	fi
	kill -KILL "$rpid"
	wait "$rpid" 2>/dev/null
	if [ $rc -eq 0 ] && ! wait_until 10 counter_at_least "$dir/l0.ctl" no_ring 1; then
		rc=1
		why="nothing failed at l0"
	fi
	n=$(relay_counter "$dir/l0.ctl" no_ring)
	if [ $rc -eq 0 ] && [ "$(link_field "$dir/l0.ctl" down reports_held)" != "$n" ]; then
		rc=1
		why="l0 kept $(link_field "$dir/l0.ctl" down reports_held) reports for its link, $n failed"
	fi
	proxy_start "$dir/proxy.sock" "$dir/l0-down.sock"
	spid=$PROXY_PID
	if [ $rc -eq 0 ] && ! wait_until 10 counter_is "$dir/l1.ctl" reports_sent "$n"; then
		rc=1
		why="the sender heard of $(relay_counter "$dir/l1.ctl" reports_sent) of the $n messages that failed at l0 (l1 dropped $(link_field "$dir/l1.ctl" up report) reports)"
	fi
	if [ $rc -eq 0 ] && [ "$(link_field "$dir/l1.ctl" up report)" != 0 ]; then
		rc=1
		why="l1 dropped $(link_field "$dir/l1.ctl" up report) reports as answering nothing"
	fi
	proxy_cut "$spid"
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $n messages failed at l0 while its link was down; all $n reports reached the sender after the cut"
	stop_extra
	end_case "$name" "$dir" $rc
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(check_config chain_100k chain_tcp stalled_receiver link_cuts
	relay_kills routed_mode report_storm report_storm_echoed service_restart accounting report_after_cut local_access tamper replay reorder drop
	garbage truncate wrong_key key_mode policy_denied no_ring spoofed_source cert_links key_hygiene netns_side_link)
for c in "${cases[@]}"; do
	t0=$SECONDS
	"case_$c"
	echo "    ($c: $((SECONDS - t0)) s)"
done
results_summary
