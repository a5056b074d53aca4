#!/bin/bash
# Multi-process tests of leaf endpoints: libargo's link: backend, whose
# domain argo-relayd holds in its level's sim fabric (docs/client-api.md,
# "Leaf endpoints"; docs/relay-design.md, "Leaf endpoints"). Each case makes
# its own argo-simd and relay in a fresh folder. Prints PASS/FAIL lines and
# ends with "N passed, N failed".
#
# Usage: tests/integration/test-leaf.sh BIN_DIR [CASE...]
#   LEAF_TEST_COUNT  messages per stream (default 20000)
#   LEAF_TEST_KEEP   set: keep the folders of cases that passed too
set -u
BIN=${1:-build/bin}
shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
. "$HERE/results.sh"
COUNT=${LEAF_TEST_COUNT:-20000}

# What a case started; stopped when it ends (or the run is cut short), the
# last started first: programs before the relay, the relay before the fabric.
PIDS=()
stop_all() {
	local i pid
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		pid=${PIDS[$i]}
		kill -TERM "$pid" 2>/dev/null
		wait_gone "$pid" 5 || { echo "pid $pid ignored SIGTERM" >&2; kill -KILL "$pid" 2>/dev/null; }
		wait "$pid" 2>/dev/null
	done
	PIDS=()
}
trap 'cut_links_stop; stop_all; chain_down >/dev/null 2>&1' EXIT
trap 'exit 130' INT TERM

# ---- One level with two leaves ----------------------------------------------
#
# leaf_up DIR TRANSPORT: argo-simd on DIR/sim.sock (mac-permissive; static
# domains 1 = the relay, 7 and 8 = the leaves', 5 = a service), and a relay
# (hvid l0) whose links "dd" and "ee" serve two leaves: over unix (the
# relay listens on DIR/dd.sock, DIR/ee.sock) or serial (pty pairs made by
# socat: the relay on DIR/dd-a, the leaf on DIR/dd-b). Sets LEAF and LEAF2
# (the leaves' URIs), RELAY_PID, SIMD_PID.
LEAF=
LEAF2=
RELAY_PID=
SIMD_PID=
leaf_up() {
	local dir=$1 transport=$2 name addr tries
	SIMD_PID=$(start_simd "$BIN" "$dir/sim.sock" "$dir/simd.log" -m -D "1=$dir/relay.sock" \
		-D "7=$dir/dd-dom.sock" -D "8=$dir/ee-dom.sock" -D "5=$dir/dom5.sock") || return 1
	PIDS+=("$SIMD_PID")
	printf '[relay]\nhvid = l0\nfabric = sim:%s/relay.sock\ncontrol = %s/l0.ctl\nping_ms = 500\n' \
		"$dir" "$dir" >"$dir/l0.conf"
	for name in dd ee; do
		chain_key "$dir/$name.key"
		if [ "$transport" = serial ]; then
			socat pty,raw,echo=0,link="$dir/$name-a" pty,raw,echo=0,link="$dir/$name-b" \
				2>>"$dir/socat.log" &
			PIDS+=($!)
			tries=100
			while [ $tries -gt 0 ] && ! [ -e "$dir/$name-b" ]; do
				sleep 0.05
				tries=$((tries - 1))
			done
			addr="connect = $dir/$name-a"
		else
			addr="listen = $dir/$name.sock"
		fi
		printf '[link %s]\ntransport = %s\n%s\npeer = %s\nkey = %s.key\nleaf = sim:%s\n' \
			"$name" "$transport" "$addr" "$name" "$name" "$dir/$name-dom.sock" >>"$dir/l0.conf"
	done
	LEAF=$(leaf_uri "$dir" dd "$transport")
	LEAF2=$(leaf_uri "$dir" ee "$transport")
	relay_start "$dir"
}

# leaf_uri DIR NAME TRANSPORT [ADDRESS]: the URI of leaf NAME.
leaf_uri() {
	local dir=$1 name=$2 transport=$3 addr=${4:-}
	if [ -z "$addr" ]; then
		if [ "$transport" = serial ]; then addr="$dir/$name-b"; else addr="$dir/$name.sock"; fi
	fi
	echo "link:$transport:$addr?key=$dir/$name.key&hvid=l0&name=$name&timeout=20000"
}

# Starts (or restarts) the relay of leaf_up; waits until it serves.
relay_start() {
	local dir=$1 tries=200
	"$BIN/argo-relayd" -v "$dir/l0.conf" 2>>"$dir/relay.log" &
	RELAY_PID=$!
	PIDS+=("$RELAY_PID")
	while [ $tries -gt 0 ]; do
		"$BIN/argo-relayctl" -s "$dir/l0.ctl" status >/dev/null 2>&1 && return 0
		alive "$RELAY_PID" || break
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "the relay did not start (see $dir/relay.log)" >&2
	return 1
}

# leaf_field DIR LINK FIELD: a field of that link's object in argo-relayctl
# links --json: the link's own ("auth_failures") or its leaf's ("domains").
leaf_field() {
	"$BIN/argo-relayctl" -s "$1/l0.ctl" links --json 2>/dev/null | sed 's/{"name":"/\n/g' |
		grep "^$2\"" | sed -n "s/.*\"$3\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

# Did a sanitizer or the ARGO_DEBUG checks complain in these logs?
clean_logs() {
	! grep -qE 'Sanitizer|runtime error|Assertion' "$@" 2>/dev/null
}

# The PASS/FAIL/SKIP line of every conformance case, sorted.
case_lines() {
	grep -E '^(PASS|FAIL|SKIP) ' "$1" | sed -E 's/^(PASS|FAIL|SKIP) ([^:]*).*/\1 \2/' | sort
}

# ---- Cases -------------------------------------------------------------------

# The conformance suite with the leaf as its primary domain (the other
# domains on sim, the same fabric): every case must give the answer it
# gives with a sim domain as primary.
conformance_on() {
	local transport=$1 name="conformance-$1-same-as-sim" dir rc=0 why=""
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	if ! leaf_up "$dir" "$transport"; then
		result "$name" 1 "set-up failed (see $dir)"
		stop_all
		return
	fi
	"$BIN/argo-conformance" --fabric "sim:$dir/sim.sock" >"$dir/sim.out" 2>&1
	"$BIN/argo-conformance" --fabric "$LEAF" --peer "sim:$dir/sim.sock" >"$dir/leaf.out" 2>&1 || rc=1
	local n
	n=$(case_lines "$dir/leaf.out" | wc -l)
	if ! diff <(case_lines "$dir/sim.out") <(case_lines "$dir/leaf.out") >"$dir/diff"; then
		rc=1
		why="answers differ: $(tr '\n' ' ' <"$dir/diff")"
	elif [ "$n" -lt 40 ]; then
		rc=1
		why="only $n cases ran"
	fi
	[ $rc -ne 0 ] && [ -z "$why" ] && why="$(grep -E '^FAIL' "$dir/leaf.out" | head -n 3)"
	stop_all
	clean_logs "$dir/relay.log" "$dir/simd.log" || { rc=1; why="sanitizer report in $dir"; }
	result "$name" $rc "$why"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/leaf.out") on link:$transport, as on sim:" \
		"$(tail -n 1 "$dir/sim.out")"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}
case_conformance_unix() { conformance_on unix; }
case_conformance_serial() { conformance_on serial; }

# argo-ping and argo-echo, unchanged, across a leaf and a sim domain, both
# ways: the leaf pings a service on sim, then serves one that sim pings.
case_ping_echo() {
	local dir rc=0 why="" epid
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	leaf_up "$dir" unix || rc=1
	"$BIN/argo-echo" --fabric "sim:$dir/dom5.sock" --port 7000 >"$dir/echo5.log" 2>&1 &
	epid=$!
	PIDS+=("$epid")
	wait_for_line "$dir/echo5.log" "serving port 7000" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "$LEAF" --to 5:7000 --count 2000 \
		--size 1000 --timeout 5000 >"$dir/ping1.log" 2>&1; then
		rc=1
		why="leaf to sim: $(tail -n 1 "$dir/ping1.log")"
	fi
	"$BIN/argo-echo" --fabric "$LEAF" --port 7100 >"$dir/echo7.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo7.log" "domain 7 serving port 7100" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "sim:$dir/sim.sock" --to 7:7100 \
		--count 2000 --size 1000 --timeout 5000 >"$dir/ping2.log" 2>&1; then
		rc=1
		why="sim to leaf: $(tail -n 1 "$dir/ping2.log")"
	fi
	stop_all
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result ping-echo-leaf-and-sim $rc "$why"
	[ $rc -eq 0 ] && echo "    leaf -> sim: $(tail -n 1 "$dir/ping1.log" | sed 's/^argo-ping: //')" &&
		echo "    sim -> leaf: $(tail -n 1 "$dir/ping2.log" | sed 's/^argo-ping: //')"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

# A leaf at L0 reached from a guest of L1 through two relays, with plain
# Argo: the L1 guest sends to its relay's import port 7001, which stands for
# l0:7:7001 (the leaf); requests and replies, then a one-way stream.
case_through_relays() {
	local dir rc=0 why=""
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	chain_key "$dir/dd.key"
	local link0="[link dd]
transport = unix
listen = $dir/dd.sock
peer = dd
key = $dir/dd.key
leaf = sim:$dir/l0-leaf.sock"
	if ! CHAIN_SIMD_ARGS_0="-D 7=$dir/l0-leaf.sock" CHAIN_EXTRA_CONF_0="$link0" \
		CHAIN_POLICY_0="rule = allow src l1 dst l0:7:7001
rule = allow src l0:7:7001 dst l1" CHAIN_POLICY_1="rule = allow src l1 dst l0:7:7001
rule = allow src l0:7:7001 dst l1" CHAIN_EXTRA_CONF_1="[imports]
7001 = l0:7:7001" chain_up "$dir" "$BIN" 2 unix; then
		result leaf-through-two-relays 1 "topology did not come up (see $dir)"
		chain_down
		return
	fi
	LEAF="link:unix:$dir/dd.sock?key=$dir/dd.key&hvid=l0&name=dd&timeout=20000"
	"$BIN/argo-echo" --fabric "$LEAF" --port 7001 >"$dir/echo.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo.log" "domain 7 serving port 7001" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7001 --count 2000 \
		--size 4000 --timeout 5000 >"$dir/ping.log" 2>&1; then
		rc=1
		why="$(tail -n 1 "$dir/ping.log")"
	fi
	stop_all
	"$BIN/argo-stream" recv --fabric "$LEAF" --port 7001 --count "$COUNT" --timeout 20000 \
		>"$dir/recv.log" 2>&1 &
	local rpid=$!
	PIDS+=("$rpid")
	wait_for_line "$dir/recv.log" "receiving on port 7001" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7001 \
		--count "$COUNT" --timeout 20000 >"$dir/send.log" 2>&1; then
		rc=1
		why="$(tail -n 1 "$dir/send.log")"
	fi
	wait "$rpid" || { rc=1; why="$why $(tail -n 1 "$dir/recv.log")"; }
	PIDS=()
	chain_down || { rc=1; why="a daemon did not stop cleanly"; }
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result leaf-through-two-relays $rc "$why"
	[ $rc -eq 0 ] && echo "    l1 guest -> l1 relay -> l0 relay -> leaf: $(tail -n 1 "$dir/ping.log" |
		sed 's/^argo-ping: //'); stream: $(tail -n 1 "$dir/recv.log" | sed 's/^argo-stream: //')"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}
# Two streams at once, sim -> leaf dd and leaf ee -> sim, of COUNT
# messages of 16 B to 64 KiB each, while FAULT (cut_links or kill_relay) is
# done up to 6 times at random moments. Every message must arrive once, in
# order, intact (argo-stream checks; --linger-ms catches a late copy).
PROXY_PIDS=()
FAULTS=0
start_proxies() {
	local dir=$1 name
	for name in dd ee; do
		# One connection each: killing it cuts that leaf's link.
		socat UNIX-LISTEN:"$dir/$name-proxy.sock",unlink-early \
			UNIX-CONNECT:"$dir/$name.sock" 2>/dev/null &
		PROXY_PIDS+=($!)
	done
}
cut_links_stop() {
	local pid
	for pid in "${PROXY_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	PROXY_PIDS=()
}
cut_links() {
	cut_links_stop
	FAULTS=$((FAULTS + 1))
	start_proxies "$1"
}
kill_relay() {
	kill -KILL "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
	echo "--- SIGKILL, restarted" >>"$1/relay.log"
	FAULTS=$((FAULTS + 1))
	relay_start "$1"
}

streams_under() {
	local name=$1 fault=$2 transport=$3 dir rc=0 why="" r1 r2 s1 s2 k
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	FAULTS=0
	leaf_up "$dir" "$transport" || rc=1
	if [ "$fault" = cut_links ]; then
		start_proxies "$dir"
		LEAF=$(leaf_uri "$dir" dd unix "$dir/dd-proxy.sock")
		LEAF2=$(leaf_uri "$dir" ee unix "$dir/ee-proxy.sock")
	fi
	"$BIN/argo-stream" recv --fabric "$LEAF" --port 7200 --count "$COUNT" --timeout 30000 \
		--linger-ms 1000 >"$dir/recv-leaf.log" 2>&1 &
	r1=$!
	"$BIN/argo-stream" recv --fabric "sim:$dir/dom5.sock" --port 7300 --count "$COUNT" \
		--timeout 30000 --linger-ms 1000 >"$dir/recv-sim.log" 2>&1 &
	r2=$!
	PIDS+=("$r1" "$r2")
	wait_for_line "$dir/recv-leaf.log" "receiving on port 7200" 10 || rc=1
	wait_for_line "$dir/recv-sim.log" "receiving on port 7300" 5 || rc=1
	"$BIN/argo-stream" send --fabric "sim:$dir/sim.sock" --to 7:7200 --count "$COUNT" \
		--timeout 30000 >"$dir/send-sim.log" 2>&1 &
	s1=$!
	"$BIN/argo-stream" send --fabric "$LEAF2" --to 5:7300 --count "$COUNT" --timeout 30000 \
		>"$dir/send-leaf.log" 2>&1 &
	s2=$!
	PIDS+=("$s1" "$s2")
	for k in 1 2 3 4 5 6; do
		sleep 0.$((RANDOM % 4 + 3))
		alive "$s1" || alive "$s2" || break
		"$fault" "$dir"
	done
	wait "$s1" || rc=1
	wait "$s2" || rc=1
	wait "$r1" || rc=1
	wait "$r2" || rc=1
	why="sim -> leaf: $(tail -n 1 "$dir/recv-leaf.log" | sed 's/^argo-stream: //');"
	why="$why leaf -> sim: $(tail -n 1 "$dir/recv-sim.log" | sed 's/^argo-stream: //')"
	if [ $rc -eq 0 ] && [ "$FAULTS" -lt 2 ]; then
		rc=1
		why="the streams ended after $FAULTS faults: too few to test anything"
	fi
	cut_links_stop
	stop_all
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $FAULTS faults; $why"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}
case_link_cuts() { streams_under leaf-link-cuts-no-loss-no-dup cut_links unix; }
case_relay_kills() { streams_under leaf-relay-kills-no-loss-no-dup kill_relay unix; }
case_relay_kills_serial() { streams_under leaf-relay-kills-serial-no-loss-no-dup kill_relay serial; }

# A leaf with another key than the relay's: refused at once, with the
# reason; the relay counts it; the leaf's domain is not touched (a leaf with
# the right key then works).
case_wrong_key() {
	local dir rc=0 why="" t0 out fails
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	leaf_up "$dir" unix || rc=1
	chain_key "$dir/other.key"
	t0=$SECONDS
	out=$("$BIN/argo-ping" --fabric "link:unix:$dir/dd.sock?key=$dir/other.key&hvid=l0&name=dd" \
		--to 5:7000 --count 1 2>&1)
	if [ $? -eq 0 ] || ! grep -q "EKEYREJECTED" <<<"$out" || ! grep -q "same key file" <<<"$out"; then
		rc=1
		why="argo-ping with a wrong key said: $out"
	elif [ $((SECONDS - t0)) -gt 5 ]; then
		rc=1
		why="refused only after $((SECONDS - t0)) s"
	fi
	fails=$(leaf_field "$dir" dd auth_failures)
	if [ $rc -eq 0 ] && [ "${fails:-0}" -lt 1 ]; then
		rc=1
		why="the relay counted ${fails:-no} authentication failures"
	fi
	if [ $rc -eq 0 ] && ! grep -q "link dd: handshake with .* failed: authentication failed (TLS handshake)" "$dir/relay.log"; then
		rc=1
		why="the relay's log does not say why"
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "$LEAF" --to 5:7000 --count 10 \
		>"$dir/ping.log" 2>&1; then
		rc=1
		why="the right key after a wrong one: $(cat "$dir/ping.log")"
	fi
	stop_all
	result leaf-wrong-key-refused $rc "$why"
	[ $rc -eq 0 ] && echo "    ${out#*: }" | cut -c 1-200
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

# The same over a pty as a serial line, where a refused handshake does not
# end the stream (the session tries again on it): refused within seconds
# all the same, the relay counts the refusals, the right key then works.
case_wrong_key_serial() {
	local dir rc=0 why="" t0 out refusals
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	leaf_up "$dir" serial || rc=1
	chain_key "$dir/other.key"
	t0=$SECONDS
	out=$("$BIN/argo-ping" --fabric "link:serial:$dir/dd-b?key=$dir/other.key&hvid=l0&name=dd" \
		--to 5:7000 --count 1 2>&1)
	if [ $? -eq 0 ] || ! grep -q "EKEYREJECTED" <<<"$out" || ! grep -q "same key file" <<<"$out"; then
		rc=1
		why="argo-ping with a wrong key said: $out"
	elif [ $((SECONDS - t0)) -gt 8 ]; then
		rc=1
		why="refused only after $((SECONDS - t0)) s"
	fi
	refusals=$(leaf_field "$dir" dd refusals)
	if [ $rc -eq 0 ] && [ "${refusals:-0}" -lt 1 ]; then
		rc=1
		why="the relay counted ${refusals:-no} refused handshakes"
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "$LEAF" --to 5:7000 --count 10 \
		>"$dir/ping.log" 2>&1; then
		rc=1
		why="the right key after a wrong one: $(cat "$dir/ping.log")"
	fi
	stop_all
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result leaf-wrong-key-serial-refused $rc "$why"
	[ $rc -eq 0 ] && echo "    in $((SECONDS - t0)) s, $refusals refusals at the relay"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

# A leaf and its relay with certificates instead of a key (TLS 1.3, both
# ends verified against the CA, each certificate naming its end): pings
# both ways work, the relay's link says so (auth cert, a TLS cipher); a
# leaf whose certificate comes from another CA, or names another leaf, is
# refused with the reason.
case_certificates() {
	local dir rc=0 why="" out pki bad brc t0
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	pki=$dir/pki
	SIMD_PID=$(start_simd "$BIN" "$dir/sim.sock" "$dir/simd.log" -m -D "1=$dir/relay.sock" \
		-D "7=$dir/dd-dom.sock" -D "5=$dir/dom5.sock") || rc=1
	PIDS+=("$SIMD_PID")
	chain_certs "$pki" 1 && chain_cert "$pki" dd dd && chain_cert "$pki" ee ee &&
		chain_certs "$dir/other" 0 && chain_cert "$dir/other" dd dd || rc=1
	# Two bad leaves of 3 handshakes each, from one source (our uid): not
	# locked out before the second has had its say.
	printf '[relay]\nhvid = l0\nfabric = sim:%s/relay.sock\ncontrol = %s/l0.ctl\nping_ms = 500\n' \
		"$dir" "$dir" >"$dir/l0.conf"
	printf 'max_auth_failures = 10\n' >>"$dir/l0.conf"
	printf '[link dd]\ntransport = unix\nlisten = %s/dd.sock\npeer = dd\ncert = %s/l0.crt\n' \
		"$dir" "$pki" >>"$dir/l0.conf"
	printf 'cert_key = %s/l0.key\nca = %s/ca.crt\nleaf = sim:%s/dd-dom.sock\n' "$pki" "$pki" \
		"$dir" >>"$dir/l0.conf"
	[ $rc -eq 0 ] && relay_start "$dir" || rc=1
	local uri="link:unix:$dir/dd.sock?cert=$pki/dd.crt&cert_key=$pki/dd.key&ca=$pki/ca.crt&hvid=l0&name=dd&timeout=20000"
	"$BIN/argo-echo" --fabric "sim:$dir/dom5.sock" --port 7000 >"$dir/echo5.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo5.log" "serving port 7000" 5 || rc=1
	if [ $rc -eq 0 ] && ! "$BIN/argo-ping" --fabric "$uri" --to 5:7000 --count 500 --size 1000 \
		--timeout 5000 >"$dir/ping.log" 2>&1; then
		rc=1
		why="leaf to sim: $(tail -n 1 "$dir/ping.log")"
	fi
	if [ $rc -eq 0 ] && { [ "$(leaf_field "$dir" dd auth)" != cert ] ||
		! grep -q "link dd: up with leaf dd (.*TLS_AES_256_GCM_SHA384" "$dir/relay.log"; }; then
		rc=1
		why="the link says auth $(leaf_field "$dir" dd auth); $(grep 'up with' "$dir/relay.log")"
	fi
	# Another CA's certificate for dd; our CA's certificate for ee.
	for bad in "cert=$dir/other/dd.crt&cert_key=$dir/other/dd.key&ca=$pki/ca.crt" \
		"cert=$pki/ee.crt&cert_key=$pki/ee.key&ca=$pki/ca.crt"; do
		out=$("$BIN/argo-ping" --fabric "link:unix:$dir/dd.sock?$bad&hvid=l0&name=dd&timeout=5000" \
			--to 5:7000 --count 1 2>&1)
		brc=$?
		if [ $rc -eq 0 ] && { [ $brc -eq 0 ] || ! grep -q "EKEYREJECTED" <<<"$out" ||
			! grep -q "certificate must name" <<<"$out"; }; then
			rc=1
			why="a bad certificate ($bad) said: $out"
		fi
	done
	if [ $rc -eq 0 ] && [ "$(leaf_field "$dir" dd auth_failures)" -lt 2 ]; then
		rc=1
		why="the relay counted $(leaf_field "$dir" dd auth_failures) failed handshakes"
	fi
	stop_all
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result leaf-certificates $rc "$why"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/ping.log" | sed 's/^argo-ping: //')"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

# A leaf process killed and started again: its domain dies (its rings go)
# and the new process gets a new one, with the same domid.
case_leaf_restart() {
	local dir rc=0 why="" epid
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	leaf_up "$dir" unix || rc=1
	"$BIN/argo-echo" --fabric "$LEAF" --port 7100 >"$dir/echo1.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo1.log" "domain 7 serving port 7100" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/sim.sock" --to 7:7100 --count 100 >"$dir/ping1.log" 2>&1 ||
		{ rc=1; why="before: $(tail -n 1 "$dir/ping1.log")"; }
	kill -KILL "$epid"
	wait "$epid" 2>/dev/null
	"$BIN/argo-echo" --fabric "$LEAF" --port 7100 >"$dir/echo2.log" 2>&1 &
	PIDS+=($!)
	wait_for_line "$dir/echo2.log" "domain 7 serving port 7100" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/sim.sock" --to 7:7100 --count 100 >"$dir/ping2.log" 2>&1 ||
		{ rc=1; why="after: $(tail -n 1 "$dir/ping2.log")"; }
	if [ $rc -eq 0 ] && ! grep -q "leaf domain 7 ends (a new leaf process)" "$dir/relay.log"; then
		rc=1
		why="the relay did not end the dead process's domain"
	fi
	if [ $rc -eq 0 ] && [ "$(leaf_field "$dir" dd domains)" != 2 ]; then
		rc=1
		why="domains made: $(leaf_field "$dir" dd domains), expected 2"
	fi
	stop_all
	clean_logs "$dir"/*.log || { rc=1; why="sanitizer report in $dir"; }
	result leaf-restart-new-domain $rc "$why"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

# Configurations a leaf cannot work with: refused, saying why.
case_config() {
	local dir rc=0 why="" out
	dir=$(mktemp -d /tmp/argo-leaf-test.XXXXXX)
	chain_key "$dir/dd.key"
	printf '[relay]\nhvid = l1\nfabric = xen:/dev/argo\ncontrol = %s/c\n[link dd]\n' "$dir" \
		>"$dir/xen.conf"
	printf 'transport = serial\nconnect = /dev/hvc1\npeer = dd\nkey = dd.key\nleaf = xen:/dev/argo\n' \
		>>"$dir/xen.conf"
	out=$("$BIN/argo-relayd" --check-config "$dir/xen.conf" 2>&1)
	if [ $? -ne 2 ] || ! grep -q "xen.conf:10: .*cannot make a domain" <<<"$out"; then
		rc=1
		why="a leaf on xen: $out"
	fi
	# A dynamic socket as a leaf's domain: the relay does not start.
	SIMD_PID=$(start_simd "$BIN" "$dir/sim.sock" "$dir/simd.log" -D "1=$dir/relay.sock") ||
		rc=1
	PIDS+=("$SIMD_PID")
	printf '[relay]\nhvid = l0\nfabric = sim:%s/relay.sock\ncontrol = %s/c\n[link dd]\n' \
		"$dir" "$dir" >"$dir/dyn.conf"
	printf 'transport = unix\nlisten = %s/dd.sock\npeer = dd\nkey = dd.key\nleaf = sim:%s/sim.sock\n' \
		"$dir" "$dir" >>"$dir/dyn.conf"
	out=$(timeout 10 "$BIN/argo-relayd" "$dir/dyn.conf" 2>&1)
	if [ $? -ne 1 ] || ! grep -q "must be a static socket" <<<"$out"; then
		rc=1
		why="$why; a dynamic socket as a leaf's domain: $out"
	fi
	stop_all
	result leaf-config-refused $rc "$why"
	[ $rc -eq 0 ] && [ -z "${LEAF_TEST_KEEP:-}" ] && rm -rf "$dir"
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(config conformance_unix conformance_serial ping_echo
	through_relays wrong_key wrong_key_serial certificates leaf_restart link_cuts relay_kills
	relay_kills_serial)
for c in "${cases[@]}"; do
	t0=$SECONDS
	"case_$c"
	echo "    ($c: $((SECONDS - t0)) s)"
done
results_summary
