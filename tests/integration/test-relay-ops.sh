#!/bin/bash
# argo-relayd as an operator meets it (issue 13): idle links stay quiet,
# ping_ms is kept, a running relay's control socket is not taken over, the
# daemon's conventions (log lines, --pidfile/-d, signals, reload,
# readiness), argo-relayctl's errors and output, and the messages of the
# usual mistakes. Multi-process, on sim fabrics (harness/sim-chain.sh).
# Prints PASS/FAIL lines and ends with "N passed, N failed".
#
# Usage: tests/integration/test-relay-ops.sh BIN_DIR [CASE...]
set -u
BIN=${1:-build/bin}
shift || true
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../../harness/lib.sh"
. "$HERE/../../harness/sim-chain.sh"
. "$HERE/results.sh"

# What a case started outside chain_up, stopped even if the run is cut short.
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

# wait_until SECONDS COMMAND...: 0 as soon as COMMAND succeeds, 1 if it
# never did.
wait_until() {
	local tries=$(($1 * 20))
	shift
	while [ $tries -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# link_field CTL LINK FIELD: a field of that link in `links --json`.
link_field() {
	"$BIN/argo-relayctl" -s "$1" links --json 2>/dev/null | sed 's/{"name":"/\n/g' |
		grep "^$2\"" | sed -n "s/.*\"$3\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

# frames_tx CTL: the frames every link of the relay sent, added up.
frames_tx() {
	"$BIN/argo-relayctl" -s "$1" links --json 2>/dev/null |
		grep -oE '"frames_tx":[0-9]+' | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# end_case NAME DIR RC: stops the topology; a daemon that does not stop
# cleanly or a sanitizer report fails NAME-clean-exit. DIR is removed when
# all went well, kept otherwise.
end_case() {
	local name=$1 dir=$2 rc=$3 bad="" logs
	stop_extra
	chain_down || bad="a daemon did not stop cleanly"
	logs=$(grep -lE 'Sanitizer|runtime error' "$dir"/*.log 2>/dev/null | tr '\n' ' ')
	[ -n "$logs" ] && bad="sanitizer report in $logs"
	if [ -n "$bad" ]; then
		result "$name-clean-exit" 1 "$bad (logs in $dir)"
	elif [ "$rc" -eq 0 ]; then
		rm -rf "$dir"
	fi
}

# ---- Idle links ----------------------------------------------------------

# ping_ms is kept: an idle link sends one PING per interval and answers
# each of the peer's, so each end sends at most 2 frames per ping_ms, over
# any interval (measured here by the clock around two reads of the
# counters: a slow machine can only send fewer). Before the fix a new PING
# went as soon as the PONG came back, on the next 50 ms tick: 40 frames a
# second whatever ping_ms said.
case_ping_interval() {
	local name=ping-ms-kept dir rc=0 why="" f0 f1 t0 t1 ms frames bound ping=500
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! CHAIN_PING_MS=$ping chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	t0=$(now_ms)
	f0=$(frames_tx "$dir/l1.ctl")
	sleep 3
	f1=$(frames_tx "$dir/l1.ctl")
	t1=$(now_ms)
	ms=$((t1 - t0))
	frames=$((f1 - f0))
	# 2 frames per interval begun, and the PING and PONG of one more.
	bound=$((2 * (ms / ping + 1) + 2))
	if [ "$frames" -gt "$bound" ]; then
		rc=1
		why="l1 sent $frames frames in $ms ms on an idle link with ping_ms $ping (at most $bound)"
	elif [ "$frames" -lt 1 ]; then
		rc=1
		why="l1 sent no frame in $ms ms: no PING at all"
	elif [ "$(link_field "$dir/l1.ctl" up rtt_us)" = 0 ]; then
		rc=1
		why="no round trip measured"
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    l1 sent $frames frames in $ms ms with ping_ms $ping (bound $bound)"
	end_case "$name" "$dir" $rc
}

# Issue 13's first bug: relays without [routes] took a neighbour's identical
# announcement for a change and announced again, for ever (33 000 frames a
# second each way). A 3-level chain without static routes: the routes are
# learned (a ping goes through l2 -> l1 -> l0 and back), and then the idle
# links carry only their pings: at most 2 frames per link per ping_ms at
# each relay, counted over an interval measured by the clock.
case_idle_no_flood() {
	local name=idle-relays-without-routes-quiet dir rc=0 why="" epid out i ms t0 t1 ping=500
	local -a f0 f1
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! CHAIN_NO_ROUTES=1 CHAIN_PING_MS=$ping chain_up "$dir" "$BIN" 3 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	if grep -q '^\[routes\]' "$dir"/l*.conf; then
		rc=1
		why="the topology has static routes: it tests nothing"
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	# l2 learns l0 from l1's announcement: wait for it, then use it.
	if [ $rc -eq 0 ] && ! wait_until 10 bash -c "'$BIN/argo-relayctl' -s '$dir/l2.ctl' routes | grep -qE '^  l0 +via up +hops 2\$'"; then
		rc=1
		why="l2 did not learn l0: $("$BIN/argo-relayctl" -s "$dir/l2.ctl" routes 2>&1 | tr '\n' ' ')"
	fi
	if [ $rc -eq 0 ] && ! out=$("$BIN/argo-ping" --fabric "sim:$dir/l2.sock" --to 0:7000 --count 200 \
		--timeout 5000 2>&1); then
		rc=1
		why="no ping through learned routes: $out"
	fi
	if [ $rc -eq 0 ]; then
		t0=$(now_ms)
		for i in 0 1 2; do f0[$i]=$(frames_tx "$dir/l$i.ctl"); done
		sleep 3
		for i in 0 1 2; do f1[$i]=$(frames_tx "$dir/l$i.ctl"); done
		t1=$(now_ms)
		ms=$((t1 - t0))
		local links=(1 2 1) frames bound summary=""
		for i in 0 1 2; do
			frames=$((f1[i] - f0[i]))
			bound=$((links[i] * (2 * (ms / ping + 1) + 2)))
			summary="$summary l$i $frames (bound $bound)"
			if [ "$frames" -gt "$bound" ]; then
				rc=1
				why="relay l$i sent $frames frames in $ms ms on ${links[i]} idle link(s) (at most $bound): routes announced for ever?"
			fi
		done
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    frames sent in $ms ms:$summary"
	end_case "$name" "$dir" $rc
}

# ---- The control socket -------------------------------------------------

# Issue 13's second bug: a relay started with the control path of a running
# relay unlinked that socket, listened there, and removed the file when it
# exited, so the first relay could no longer be reached. Now it must refuse
# (exit 1, saying so) before it touches anything, and the first relay must
# still answer on its socket after the second is gone. A socket left by a
# relay that died (SIGKILL) is replaced; a path that is not a socket is
# never removed.
case_control_socket_live() {
	local name=control-socket-not-taken-over dir rc=0 why="" pid out code spid
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! chain_up "$dir" "$BIN" 1 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	# Another relay, of another fabric, with l0's control path.
	spid=$(start_simd "$BIN" "$dir/o.sock" "$dir/simd-o.log" -m -D "0=$dir/o-relay.sock") || rc=1
	[ -n "$spid" ] && CHAIN_PIDS+=("$spid")
	printf '[relay]\nhvid = other\nfabric = sim:%s/o-relay.sock\ncontrol = %s/l0.ctl\n' \
		"$dir" "$dir" >"$dir/other.conf"
	timeout 10 "$BIN/argo-relayd" "$dir/other.conf" 2>"$dir/other.log"
	code=$?
	if [ $code -ne 1 ]; then
		rc=1
		why="the second relay exited $code, not 1 (start-up failed): $(cat "$dir/other.log")"
	elif ! grep -q "control socket $dir/l0.ctl is in use by a running relay" "$dir/other.log"; then
		rc=1
		why="the second relay did not say why: $(cat "$dir/other.log")"
	elif [ ! -S "$dir/l0.ctl" ]; then
		rc=1
		why="l0's control socket file is gone"
	elif ! out=$("$BIN/argo-relayctl" -s "$dir/l0.ctl" status 2>&1) ||
		! grep -q "^relay l0:" <<<"$out"; then
		rc=1
		why="l0 no longer answers on its control socket: $out"
	fi
	# A stale socket: l0 SIGKILLed leaves its file; the next run takes it.
	if [ $rc -eq 0 ]; then
		kill -KILL "${CHAIN_RELAY_PIDS[0]}"
		wait "${CHAIN_RELAY_PIDS[0]}" 2>/dev/null
		if [ ! -S "$dir/l0.ctl" ]; then
			rc=1
			why="no stale socket left by the killed relay: the case tests nothing"
		elif ! chain_start_relay "$dir" "$BIN" 0; then
			rc=1
			why="a relay did not replace the stale control socket: $(tail -n 3 "$dir/relay-l0.log")"
		fi
	fi
	# Not a socket: refused, and left alone.
	if [ $rc -eq 0 ]; then
		echo keep >"$dir/file.ctl"
		sed "s|^control = .*|control = $dir/file.ctl|" "$dir/other.conf" >"$dir/other2.conf"
		timeout 10 "$BIN/argo-relayd" "$dir/other2.conf" 2>"$dir/other2.log"
		code=$?
		if [ $code -ne 1 ] || [ "$(cat "$dir/file.ctl" 2>/dev/null)" != keep ] ||
			! grep -q "exists and is not a socket" "$dir/other2.log"; then
			rc=1
			why="a regular file at the control path: exit $code, file '$(cat "$dir/file.ctl" 2>/dev/null)', said: $(cat "$dir/other2.log")"
		fi
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# ---- Daemon conventions --------------------------------------------------

# A one-relay fabric for the daemon cases: argo-simd with the relay's static
# socket, and a configuration without links. Sets D_SIMD.
one_relay_setup() {
	local dir=$1
	D_SIMD=$(start_simd "$BIN" "$dir/f.sock" "$dir/simd.log" -m -D "0=$dir/r.sock") || return 1
	CHAIN_PIDS+=("$D_SIMD")
	printf '[relay]\nhvid = x\nfabric = sim:%s/r.sock\ncontrol = %s/x.ctl\n' "$dir" "$dir" >"$dir/x.conf"
}

STAMP='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}[+-][0-9]{4} argo-relayd\[x\]: '

# -d returns only once the relay serves (its control socket answers at
# once), --pidfile names the relay, log lines carry a timestamp, SIGTERM
# removes the pid file and the socket; a start-up that fails under -d
# exits 1 with the reason in the log.
case_daemon() {
	local name=daemon-detach-pidfile-timestamps dir rc=0 why="" pid code out
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	one_relay_setup "$dir" || rc=1
	"$BIN/argo-relayd" -d --pidfile "$dir/x.pid" "$dir/x.conf" 2>>"$dir/relay-x.log"
	code=$?
	pid=$(cat "$dir/x.pid" 2>/dev/null)
	if [ $rc -ne 0 ] || [ $code -ne 0 ]; then
		rc=1
		why="argo-relayd -d exited $code: $(cat "$dir/relay-x.log")"
	elif ! out=$("$BIN/argo-relayctl" -s "$dir/x.ctl" status 2>&1); then
		rc=1
		why="-d returned before the relay served: $out"
	elif [ -z "$pid" ] || [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != argo-relayd ]; then
		rc=1
		why="the pid file names '$pid', not a running argo-relayd"
	elif ! grep -qE "${STAMP}serving: domain 0" "$dir/relay-x.log"; then
		rc=1
		why="no timestamped 'serving' line: $(head -n 2 "$dir/relay-x.log")"
	fi
	if [ -n "$pid" ]; then
		kill -TERM "$pid"
		if ! wait_gone "$pid" 5; then
			rc=1
			why="the relay did not stop on SIGTERM"
			kill -KILL "$pid"
		elif [ $rc -eq 0 ] && { [ -e "$dir/x.pid" ] || [ -e "$dir/x.ctl" ]; }; then
			rc=1
			why="the pid file or the control socket is left after SIGTERM"
		elif [ $rc -eq 0 ] && ! grep -qE "${STAMP}SIGTERM: stopping" "$dir/relay-x.log"; then
			rc=1
			why="no 'SIGTERM: stopping' line"
		fi
	fi
	# Start-up fails in the detached child: the parent says so (exit 1).
	if [ $rc -eq 0 ]; then
		sed "s|^fabric = .*|fabric = sim:$dir/none.sock|" "$dir/x.conf" >"$dir/bad.conf"
		timeout 10 "$BIN/argo-relayd" -d --pidfile "$dir/bad.pid" "$dir/bad.conf" 2>"$dir/bad.log"
		code=$?
		if [ $code -ne 1 ] || [ -e "$dir/bad.pid" ] || ! grep -q "start-up failed" "$dir/bad.log"; then
			rc=1
			why="a failed start-up under -d: exit $code, said: $(cat "$dir/bad.log")"
		fi
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# Where the lines go: to the journal without a timestamp (systemd stamps
# them) but with the journal's <PRIORITY> prefix when $JOURNAL_STREAM names
# standard error; to syslog with --syslog (checked in a mount namespace of
# its own whose /dev/log is a socket of the test's).
case_log_targets() {
	local name=log-journal-and-syslog dir rc=0 why="" pid ns_ok=1 rpid
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	one_relay_setup "$dir" || rc=1
	: >"$dir/journal.log"
	JOURNAL_STREAM="$(stat -c '%d:%i' "$dir/journal.log")" \
		"$BIN/argo-relayd" "$dir/x.conf" 2>>"$dir/journal.log" &
	pid=$!
	if ! wait_for_line "$dir/journal.log" "serving" 5; then
		rc=1
		why="no serving line: $(cat "$dir/journal.log")"
	elif ! grep -qE '^<5>argo-relayd\[x\]: serving: domain 0' "$dir/journal.log"; then
		rc=1
		why="not the journal's form: $(head -n 1 "$dir/journal.log")"
	fi
	kill -TERM "$pid"
	wait "$pid" 2>/dev/null
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v socat >/dev/null; then
		ns_ok=0
	fi
	if [ $rc -eq 0 ] && [ $ns_ok = 1 ]; then
		socat -u UNIX-RECV:"$dir/log.sock" OPEN:"$dir/syslog.txt",creat,append &
		rpid=$!
		EXTRA_PIDS+=("$rpid")
		wait_until 5 test -S "$dir/log.sock" || rc=1
		# A /dev of its own (a tmpfs) with what the relay needs from the
		# real one, and /dev/log the test's socket.
		unshare --mount --propagation private sh -c '
			set -e
			d=$1; shift
			mkdir "$d/realdev"
			mount --rbind /dev "$d/realdev"
			mount -t tmpfs -o size=64k tmpfs /dev
			for n in null zero random urandom; do
				touch "/dev/$n"
				mount --bind "$d/realdev/$n" "/dev/$n"
			done
			ln -s "$d/log.sock" /dev/log
			exec "$@"' sh "$dir" timeout 5 "$BIN/argo-relayd" --syslog "$dir/x.conf" \
			2>"$dir/syslog-stderr.log" &
		pid=$!
		if ! wait_until 5 grep -q "serving" "$dir/syslog.txt"; then
			rc=1
			why="no serving line reached /dev/log: $(cat "$dir/syslog.txt" 2>/dev/null) / stderr: $(cat "$dir/syslog-stderr.log")"
		elif ! grep -qE '^<29>.*argo-relayd\[[0-9]+\]: \[x\] serving: domain 0' "$dir/syslog.txt"; then
			rc=1
			why="not a daemon.notice syslog line: $(head -n 1 "$dir/syslog.txt")"
		elif [ -s "$dir/syslog-stderr.log" ]; then
			rc=1
			why="--syslog also wrote to standard error: $(head -n 1 "$dir/syslog-stderr.log")"
		fi
		# unshare and sh exec; timeout passes SIGTERM on to the relay.
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $ns_ok = 0 ] && echo "    (--syslog not checked: needs root, unshare and socat)"
	end_case "$name" "$dir" $rc
}

# SIGUSR1 logs what `argo-relayctl status` shows (argo-simd prints its
# statistics the same way), and the relay goes on serving; it used to end
# the relay silently. Counters that moved show: 50 pings through a 2-level
# chain, and l0's log then has its link line and the delivered count.
case_sigusr1() {
	local name=sigusr1-logs-counters dir rc=0 why="" epid out n
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	out=$("$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 50 --timeout 5000 2>&1) ||
		{ rc=1; why="ping: $out"; }
	n=$(grep -c . "$dir/relay-l0.log")
	kill -USR1 "${CHAIN_RELAY_PIDS[0]}"
	if [ $rc -eq 0 ] && ! wait_for_line "$dir/relay-l0.log" "counters \(SIGUSR1\):" 5; then
		rc=1
		why="no counters in l0's log after SIGUSR1"
	fi
	if [ $rc -eq 0 ]; then
		# The lines after the signal: the link, and what was delivered.
		wait_until 5 grep -qE "argo-relayd\[l0\]:   messages: from the fabric [0-9]+, delivered to the fabric 50," "$dir/relay-l0.log" ||
			{ rc=1; why="no 'delivered to fabric 50' line: $(tail -n +"$n" "$dir/relay-l0.log" | head -n 20)"; }
		grep -qE "argo-relayd\[l0\]:   down +unix .* up +frames" "$dir/relay-l0.log" ||
			{ rc=1; why="no line for link down: $(tail -n +"$n" "$dir/relay-l0.log" | head -n 20)"; }
	fi
	if ! kill -0 "${CHAIN_RELAY_PIDS[0]}" 2>/dev/null || ! "$BIN/argo-relayctl" -s "$dir/l0.ctl" status >/dev/null 2>&1; then
		rc=1
		why="l0 did not survive SIGUSR1"
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# ---- Reload (SIGHUP, argo-relayctl reload) --------------------------------

# relay_say CTL COMMAND...: what argo-relayctl answers (stdout and stderr).
relay_say() {
	local ctl=$1
	shift
	"$BIN/argo-relayctl" -s "$ctl" "$@" 2>&1
}

# Links and keys that did not change stay up: l1 reloads its unchanged file
# under a conversation, then with a new link (a third relay, kvm, connects
# to it and talks through it), then the l1-l0 key changes on both ends
# (both links restart on their streams: the conversation loses nothing),
# then the new link is removed again.
case_reload_links() {
	local name=reload-keeps-unchanged-links dir rc=0 why="" epid ppid out kpid spid s0 s1
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	# kvm is two links away from l0: l0's link may say it reaches kvm
	# (announce), and kvm's that it reaches l0.
	if ! CHAIN_POLICY_1=$'rule = allow src kvm dst l0:5:7000\nrule = allow src l0:5:7000 dst kvm' \
		CHAIN_POLICY_0=$'rule = allow src kvm dst l0:5:7000\nrule = allow src l0:5:7000 dst kvm' \
		CHAIN_DOWN_EXTRA_0="announce = kvm" chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	s0=$(link_field "$dir/l1.ctl" up sessions)
	# 1. The same file: nothing changes, nothing restarts.
	kill -HUP "${CHAIN_RELAY_PIDS[1]}"
	if ! wait_for_line "$dir/relay-l1.log" "reloaded .*: 0 links added, 0 restarted, 0 removed, 1 unchanged" 5; then
		rc=1
		why="SIGHUP with the same file: $(grep -E 'reload' "$dir/relay-l1.log" | tail -n 2)"
	elif [ "$(link_field "$dir/l1.ctl" up sessions)" != "$s0" ] ||
		[ "$(link_field "$dir/l1.ctl" up state)" != up ]; then
		rc=1
		why="the unchanged link was touched: sessions $s0 -> $(link_field "$dir/l1.ctl" up sessions)"
	fi
	# 2. A new link, used at once by a third fabric's relay.
	if [ $rc -eq 0 ]; then
		chain_key "$dir/key-kvm"
		printf '[link side]\ntransport = unix\nlisten = %s/side.sock\npeer = kvm\nkey = %s/key-kvm\n' \
			"$dir" "$dir" >>"$dir/l1.conf"
		out=$(relay_say "$dir/l1.ctl" reload)
		if ! grep -q "^reloaded .*: 1 links added, 0 restarted, 0 removed, 1 unchanged" <<<"$out"; then
			rc=1
			why="reload with a new link: $out"
		fi
	fi
	if [ $rc -eq 0 ]; then
		spid=$(start_simd "$BIN" "$dir/kvm.sock" "$dir/simd-kvm.log" -m -D "0=$dir/kvm-relay.sock") || rc=1
		[ -n "$spid" ] && CHAIN_PIDS+=("$spid")
		cat >"$dir/kvm.conf" <<-EOF
		[relay]
		hvid = kvm
		fabric = sim:$dir/kvm-relay.sock
		control = $dir/kvm.ctl
		reconnect_ms = 50
		[link up]
		transport = unix
		connect = $dir/side.sock
		peer = l1
		key = $dir/key-kvm
		announce = l0
		[imports]
		7000 = l0:5:7000
		[policy]
		default = deny
		rule = allow src kvm dst l0:5:7000
		rule = allow src l0:5:7000 dst kvm
		EOF
		"$BIN/argo-relayd" "$dir/kvm.conf" 2>>"$dir/relay-kvm.log" &
		kpid=$!
		EXTRA_PIDS+=("$kpid")
		if ! wait_until 10 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/kvm.ctl' links --json 2>/dev/null | grep -o '\"state\":\"up\"')\" ]"; then
			rc=1
			why="kvm's link to the added link did not come up: $(tail -n 3 "$dir/relay-kvm.log")"
		elif ! out=$("$BIN/argo-ping" --fabric "sim:$dir/kvm.sock" --to 0:7000 --count 100 --timeout 5000 2>&1); then
			rc=1
			why="ping through the added link: $out"
		fi
	fi
	# 3. A new key on both ends of l1-l0, under a conversation.
	if [ $rc -eq 0 ]; then
		"$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 8000 --timeout 10000 \
			>"$dir/ping.log" 2>&1 &
		ppid=$!
		EXTRA_PIDS+=("$ppid")
		s0=$(link_field "$dir/l1.ctl" up sessions)
		s1=$(link_field "$dir/l1.ctl" side sessions)
		wait_until 10 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/l0.ctl' counters --json | sed -n 's/.*\"local_delivered\":\([0-9]*\).*/\1/p')\" -ge 1000 ]" || rc=1
		chain_key "$dir/key-0-1.new"
		mv "$dir/key-0-1.new" "$dir/key-0-1"
		kill -HUP "${CHAIN_RELAY_PIDS[0]}" "${CHAIN_RELAY_PIDS[1]}"
		kill -0 "$ppid" 2>/dev/null || { rc=1; why="the conversation ended before the reload: it tests nothing"; }
		if ! wait_for_line "$dir/relay-l1.log" "1 restarted, 0 removed, 1 unchanged" 5 ||
			! wait_for_line "$dir/relay-l0.log" "reloaded .*: 0 links added, 1 restarted" 5; then
			rc=1
			why="the key change did not restart the link: $(grep reload "$dir/relay-l1.log" | tail -n 1)"
		fi
		if ! wait "$ppid"; then
			rc=1
			why="the conversation lost something across the key change: $(tail -n 2 "$dir/ping.log")"
		fi
		if [ $rc -eq 0 ] && [ "$(link_field "$dir/l1.ctl" up sessions)" -le "$s0" ]; then
			rc=1
			why="link up was not restarted ($s0 sessions before, $(link_field "$dir/l1.ctl" up sessions) after)"
		elif [ $rc -eq 0 ] && [ "$(link_field "$dir/l1.ctl" side sessions)" != "$s1" ]; then
			rc=1
			why="link side, unchanged, was restarted too"
		elif [ $rc -eq 0 ] && ! grep -q "link up: configuration reloaded: its key changed; restarting" "$dir/relay-l1.log"; then
			rc=1
			why="l1's log does not say why link up restarted"
		fi
	fi
	# 4. The new link removed again.
	if [ $rc -eq 0 ]; then
		sed -i '/^\[link side\]/,$d' "$dir/l1.conf"
		out=$(relay_say "$dir/l1.ctl" reload)
		if ! grep -q "^reloaded .*: 0 links added, 0 restarted, 1 removed, 1 unchanged" <<<"$out"; then
			rc=1
			why="reload without the link: $out"
		elif relay_say "$dir/l1.ctl" links | grep -q "^  side "; then
			rc=1
			why="the removed link is still listed"
		elif ! wait_until 5 bash -c "'$BIN/argo-relayctl' -s '$dir/kvm.ctl' links | grep -qE '^  up .* (down|connecting) '"; then
			rc=1
			why="kvm's link stayed up after l1 removed its end"
		fi
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $(tail -n 1 "$dir/ping.log" | sed 's/^argo-ping: //')"
	end_case "$name" "$dir" $rc
}

# A link with certificates (TLS 1.3, mutual): a reload that finds its
# certificate files as they were leaves it up; new bytes under the same
# paths restart it with new credentials, which are in use: a certificate
# that names another hvid is refused by the peer (the link stays down,
# saying why), and a good one brings it up again, the conversation going on.
case_reload_certs() {
	local name=reload-new-certificates dir rc=0 why="" epid out s0 s1
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! chain_certs "$dir/pki" 2 || ! CHAIN_CERTS="$dir/pki" \
		CHAIN_EXTRA_RELAY_CONF='reset_backoff_ms = 500' chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	s0=$(link_field "$dir/l1.ctl" up sessions)
	# 1. The same files: nothing restarts.
	out=$(relay_say "$dir/l1.ctl" reload)
	if ! grep -q "^reloaded .*: 0 links added, 0 restarted, 0 removed, 1 unchanged" <<<"$out"; then
		rc=1
		why="reload with the same certificates: $out"
	elif [ "$(link_field "$dir/l1.ctl" up sessions)" != "$s0" ]; then
		rc=1
		why="the unchanged link was restarted"
	fi
	# 2. l1's certificate names another hvid: new credentials, refused.
	if [ $rc -eq 0 ]; then
		chain_cert "$dir/pki" l1 bogus || rc=1
		out=$(relay_say "$dir/l1.ctl" reload)
		if ! grep -q "^reloaded .*: 0 links added, 1 restarted, 0 removed, 0 unchanged" <<<"$out"; then
			rc=1
			why="reload with a new certificate: $out"
		elif ! grep -q "link up: configuration reloaded: its certificates changed; restarting" "$dir/relay-l1.log" ||
			! grep -q "link up: new TLS credentials (certificates)" "$dir/relay-l1.log"; then
			rc=1
			why="l1's log does not say the certificates changed"
		elif ! wait_until 10 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/l0.ctl' links --json 2>/dev/null | grep -oE '\"auth_failures\":[0-9]+' | cut -d: -f2)\" -ge 1 ] 2>/dev/null"; then
			rc=1
			why="l0 did not refuse a certificate naming bogus: $("$BIN/argo-relayctl" -s "$dir/l0.ctl" links 2>&1)"
		elif ! wait_until 10 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/l1.ctl' links --json 2>/dev/null | grep -oE '\"auth_failures\":[0-9]+' | cut -d: -f2)\" -ge 1 ] 2>/dev/null"; then
			# TLS 1.3: l1's handshake is done before l0 checks its
			# certificate; l0's alert is a failed handshake all the same.
			rc=1
			why="l1 does not count l0's refusal as a failed handshake: $("$BIN/argo-relayctl" -s "$dir/l1.ctl" links 2>&1)"
		elif [ "$(link_field "$dir/l1.ctl" up state)" = up ]; then
			rc=1
			why="the link is up with a certificate for another hvid: the old credentials are in use"
		fi
	fi
	# 3. A good one again: up, and the conversation goes through.
	if [ $rc -eq 0 ]; then
		chain_cert "$dir/pki" l1 l1 || rc=1
		out=$(relay_say "$dir/l1.ctl" reload)
		if ! grep -q "^reloaded .*: 0 links added, 1 restarted" <<<"$out"; then
			rc=1
			why="reload with a good certificate again: $out"
		elif ! wait_until 10 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/l1.ctl' links --json 2>/dev/null | grep -o '\"state\":\"up\"')\" ]"; then
			rc=1
			why="the link did not come up with the good certificate: $("$BIN/argo-relayctl" -s "$dir/l1.ctl" links 2>&1)"
		elif ! out=$("$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 100 --timeout 5000 2>&1); then
			rc=1
			why="ping after the new certificate: $out"
		fi
		s1=$(link_field "$dir/l1.ctl" up sessions)
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    sessions $s0 -> $s1 across two certificate changes; $(tail -n 1 <<<"$out" | sed 's/^argo-ping: //')"
	end_case "$name" "$dir" $rc
}

# A reload that cannot be applied changes nothing: a file with an error, a
# change that takes a restart, a listener on an address in use. Each is
# refused with the reason, in argo-relayctl's answer and the log, and the
# running links stay up.
case_reload_refused() {
	local name=reload-refused-keeps-running dir rc=0 why="" out s0 t
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	cp "$dir/l1.conf" "$dir/l1.conf.good"
	s0=$(link_field "$dir/l1.ctl" up sessions)
	chain_key "$dir/key-busy" # one key per link
	for t in "syntax|this is not ini|l1.conf:[0-9]+: syntax error" \
		"restart|queue_bytes = 4M|queue_bytes changed, which takes a restart" \
		"listener|[link busy]\ntransport = unix\nlisten = $dir/l0-down.sock\npeer = x\nkey = $dir/key-busy|link busy: cannot listen on $dir/l0-down.sock"; do
		local what=${t%%|*} rest=${t#*|}
		local line=${rest%%|*} expect=${rest#*|}
		cp "$dir/l1.conf.good" "$dir/l1.conf"
		if [ "$what" = restart ]; then
			sed -i "s/^queue_bytes = .*/$line/" "$dir/l1.conf"
		else
			printf "$line\n" >>"$dir/l1.conf"
		fi
		out=$(relay_say "$dir/l1.ctl" reload)
		if ! grep -qE "^error: reload refused, the running configuration stays: .*$expect" <<<"$out"; then
			rc=1
			why="$what: argo-relayctl reload said: $out"
			break
		fi
		if ! grep -qE "reload refused, the running configuration stays: .*$expect" "$dir/relay-l1.log"; then
			rc=1
			why="$what: not in l1's log"
			break
		fi
	done
	# SIGHUP with a bad file: logged, and the relay goes on.
	if [ $rc -eq 0 ]; then
		echo "garbage" >>"$dir/l1.conf"
		kill -HUP "${CHAIN_RELAY_PIDS[1]}"
		wait_until 5 bash -c "[ \$(grep -c 'reload refused' '$dir/relay-l1.log') -ge 4 ]" ||
			{ rc=1; why="SIGHUP with a bad file: no 'reload refused' line"; }
	fi
	if [ $rc -eq 0 ] && { [ "$(link_field "$dir/l1.ctl" up state)" != up ] ||
		[ "$(link_field "$dir/l1.ctl" up sessions)" != "$s0" ]; }; then
		rc=1
		why="a refused reload touched link up: $(link_field "$dir/l1.ctl" up state), sessions $s0 -> $(link_field "$dir/l1.ctl" up sessions)"
	fi
	if [ $rc -eq 0 ] && ! kill -0 "${CHAIN_RELAY_PIDS[1]}"; then
		rc=1
		why="l1 died"
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# Readiness for the service manager (sd_notify's protocol, argo-relayd@'s
# Type=notify): READY=1 once serving, RELOADING=1 (with MONOTONIC_USEC)
# then READY=1 around a reload, STOPPING=1 on SIGTERM; received here on a
# datagram socket of the test's, named by $NOTIFY_SOCKET as systemd does
# (a path, then an abstract name).
case_sd_notify() {
	local name=sd-notify-ready-reloading-stopping dir rc=0 why="" pid rpid got abstract
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	if ! command -v socat >/dev/null; then
		skipped "$name" "needs socat"
		rm -rf "$dir"
		return
	fi
	one_relay_setup "$dir" || rc=1
	socat -u UNIX-RECV:"$dir/notify.sock" OPEN:"$dir/notify.txt",creat,append &
	rpid=$!
	EXTRA_PIDS+=("$rpid")
	wait_until 5 test -S "$dir/notify.sock" || rc=1
	NOTIFY_SOCKET="$dir/notify.sock" "$BIN/argo-relayd" "$dir/x.conf" 2>>"$dir/relay-x.log" &
	pid=$!
	if ! wait_until 5 grep -q '^READY=1$' "$dir/notify.txt"; then
		rc=1
		why="no READY=1: $(cat "$dir/notify.txt" 2>/dev/null)"
	elif ! "$BIN/argo-relayctl" -s "$dir/x.ctl" status >/dev/null 2>&1; then
		rc=1
		why="READY=1 before the control socket answered"
	elif ! grep -q '^STATUS=serving: domain 0 on ' "$dir/notify.txt"; then
		rc=1
		why="no STATUS with READY: $(cat "$dir/notify.txt")"
	fi
	if [ $rc -eq 0 ]; then
		kill -HUP "$pid"
		if ! wait_until 5 bash -c "[ \$(grep -c '^READY=1\$' '$dir/notify.txt') -ge 2 ]"; then
			rc=1
			why="no READY=1 after the reload: $(cat "$dir/notify.txt")"
		else
			got=$(grep -E '^(READY|RELOADING|STOPPING)=1$' "$dir/notify.txt" | tr '\n' ' ')
			[ "$got" = "READY=1 RELOADING=1 READY=1 " ] ||
				{ rc=1; why="the order was: $got"; }
			grep -qE '^MONOTONIC_USEC=[0-9]+$' "$dir/notify.txt" ||
				{ rc=1; why="RELOADING=1 without MONOTONIC_USEC"; }
			grep -q '^STATUS=reloaded ' "$dir/notify.txt" ||
				{ rc=1; why="no STATUS after the reload: $(cat "$dir/notify.txt")"; }
		fi
	fi
	kill -TERM "$pid"
	wait "$pid"
	if [ $rc -eq 0 ] && ! wait_until 5 grep -q '^STOPPING=1$' "$dir/notify.txt"; then
		rc=1
		why="no STOPPING=1: $(cat "$dir/notify.txt")"
	fi
	# An abstract socket name (@...), as systemd gives it.
	if [ $rc -eq 0 ]; then
		abstract="argo-ops-notify-$$-$RANDOM"
		socat -u ABSTRACT-RECV:"$abstract" OPEN:"$dir/notify2.txt",creat,append &
		EXTRA_PIDS+=("$!")
		wait_until 5 grep -q "@$abstract\$" /proc/net/unix || rc=1
		NOTIFY_SOCKET="@$abstract" "$BIN/argo-relayd" "$dir/x.conf" 2>>"$dir/relay-x.log" &
		pid=$!
		wait_until 5 grep -q '^READY=1$' "$dir/notify2.txt" ||
			{ rc=1; why="no READY=1 on the abstract socket @$abstract"; }
		kill -TERM "$pid"
		wait "$pid"
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# ---- argo-relayctl ----------------------------------------------------------

# expect_ctl NAME CODE STDOUT-PATTERN STDERR-PATTERN ARGS...: argo-relayctl
# exits CODE with PATTERN on each stream ('' for an empty stream). Sets why.
expect_ctl() {
	local what=$1 code=$2 outp=$3 errp=$4 rc
	shift 4
	"$BIN/argo-relayctl" "$@" >"$CTL_TMP/out" 2>"$CTL_TMP/err"
	rc=$?
	if [ $rc -ne "$code" ]; then
		why="$what: exit $rc, not $code ($(head -c 300 "$CTL_TMP/err"))"
		return 1
	fi
	if { [ -z "$outp" ] && [ -s "$CTL_TMP/out" ]; } || { [ -n "$outp" ] && ! grep -qE -- "$outp" "$CTL_TMP/out"; }; then
		why="$what: stdout: $(head -c 300 "$CTL_TMP/out")"
		return 1
	fi
	if { [ -z "$errp" ] && [ -s "$CTL_TMP/err" ]; } || { [ -n "$errp" ] && ! grep -qE -- "$errp" "$CTL_TMP/err"; }; then
		why="$what: stderr: $(head -c 300 "$CTL_TMP/err")"
		return 1
	fi
}

# Issue 13: errors on standard error with a non-zero exit (as JSON with
# --json), one command at a time, unknown commands refused (by argo-relayctl
# and by the relay), a default socket, labelled tx/rx counters, the wildcard
# domain and large ports written as the docs write them, and every JSON
# field documented in docs/relay-control.md.
case_relayctl() {
	local name=relayctl-errors-defaults-fields dir rc=0 why="" epid out k missing=""
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	CTL_TMP=$dir
	if ! chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "topology did not come up (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	EXTRA_PIDS+=("$epid")
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || rc=1
	"$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count 20 >/dev/null 2>&1 || rc=1
	local S=(-s "$dir/l1.ctl")
	[ $rc -eq 0 ] && expect_ctl "unknown command" 2 '' "unknown command 'bogus'" "${S[@]}" bogus || rc=1
	[ $rc -eq 0 ] && expect_ctl "unknown command, --json" 2 '' '^\{"error":"unknown command .bogus' "${S[@]}" --json bogus || rc=1
	[ $rc -eq 0 ] && expect_ctl "status links" 2 '' "one command at a time: 'links' after 'status'" "${S[@]}" status links || rc=1
	[ $rc -eq 0 ] && expect_ctl "unreachable" 1 '' "cannot reach the relay at $dir/none.ctl: No such file" -s "$dir/none.ctl" links || rc=1
	[ $rc -eq 0 ] && expect_ctl "unreachable, --json" 1 '' '^\{"error":"cannot reach the relay' -s "$dir/none.ctl" --json links || rc=1
	[ $rc -eq 0 ] && expect_ctl "links" 0 '^  up +unix .* up +frames tx [0-9]+ rx [0-9]+, bytes tx [0-9]+ rx [0-9]+, messages tx 20 rx 20,' '' "${S[@]}" links || rc=1
	[ $rc -eq 0 ] && expect_ctl "l1's import" 0 '^  import port 7000 +partner any +<-> l0:5:7000 ' '' "${S[@]}" mappings || rc=1
	[ $rc -eq 0 ] && expect_ctl "l1's routed port" 0 '^  routed port 0xa4600000 partner any ' '' "${S[@]}" mappings || rc=1
	[ $rc -eq 0 ] && expect_ctl "l0's proxy port" 0 '^  proxy +port 0xf00[0-9a-f]{5} partner 5 +<-> l1:[0-9]+:40000 ' '' -s "$dir/l0.ctl" mappings || rc=1
	# The relay itself refuses what is not one of its commands.
	if [ $rc -eq 0 ]; then
		out=$(printf 'status links\n' | socat - UNIX-CONNECT:"$dir/l1.ctl" 2>&1)
		grep -q "^error: one command at a time: 'links' after 'status'" <<<"$out" ||
			{ rc=1; why="the relay took 'status links': $(head -n 1 <<<"$out")"; }
		out=$(printf 'bogus json\n' | socat - UNIX-CONNECT:"$dir/l1.ctl" 2>&1)
		grep -q '^{"error":"unknown command' <<<"$out" ||
			{ rc=1; why="the relay on 'bogus json': $out"; }
	fi
	# A refused reload is the relay's error: exit 1, standard error.
	if [ $rc -eq 0 ]; then
		cp "$dir/l1.conf" "$dir/l1.conf.good"
		echo "garbage" >>"$dir/l1.conf"
		expect_ctl "refused reload" 1 '' '^error: reload refused' "${S[@]}" reload &&
			expect_ctl "refused reload, --json" 1 '' '^\{"error":"reload refused' "${S[@]}" --json reload || rc=1
		cp "$dir/l1.conf.good" "$dir/l1.conf"
		expect_ctl "reload" 0 '^reloaded ' '' "${S[@]}" reload || rc=1
	fi
	# The default socket: $ARGO_RELAY_CONTROL, then the one in
	# /run/argo-relay (a tmpfs of a mount namespace of its own here).
	if [ $rc -eq 0 ]; then
		ARGO_RELAY_CONTROL="$dir/l1.ctl" expect_ctl "ARGO_RELAY_CONTROL" 0 '^relay l1:' '' routes || rc=1
	fi
	if [ $rc -eq 0 ] && [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
		out=$(unshare --mount --propagation private sh -c '
			mount -t tmpfs -o size=64k tmpfs /run && mkdir /run/argo-relay &&
			ln -s "$1/l1.ctl" /run/argo-relay/l1.ctl &&
			echo "one: $("$2/argo-relayctl" routes 2>&1 | head -n 1)" &&
			echo "by name: $("$2/argo-relayctl" -n l1 routes 2>&1 | head -n 1)" &&
			ln -s "$1/l0.ctl" /run/argo-relay/l0.ctl &&
			echo "two: $("$2/argo-relayctl" routes 2>&1; echo " exit $?")"' sh "$dir" "$BIN" 2>&1)
		if ! grep -q "^one: relay l1:" <<<"$out" || ! grep -q "^by name: relay l1:" <<<"$out" ||
			! grep -qE "^two: argo-relayctl: 2 relays run here \((l0, l1|l1, l0)\): say which with -n NAME or -s SOCKET" <<<"$out" ||
			! grep -q "^ exit 1" <<<"$out"; then
			rc=1
			why="the default socket in /run/argo-relay: $out"
		fi
	fi
	# Every field of the JSON is in docs/relay-control.md.
	if [ $rc -eq 0 ]; then
		{
			"$BIN/argo-relayctl" -s "$dir/l0.ctl" --json status
			"$BIN/argo-relayctl" -s "$dir/l1.ctl" --json status
			"$BIN/argo-relayctl" -s "$dir/l1.ctl" --json reload
		} | grep -oE '"[a-z_]+":' | tr -d '":' | sort -u >"$dir/fields"
		for k in $(cat "$dir/fields"); do
			grep -qE "[\`.]$k\`" "$HERE/../../docs/relay-control.md" || missing="$missing $k"
		done
		if [ "$(wc -l <"$dir/fields")" -lt 60 ]; then
			rc=1
			why="only $(wc -l <"$dir/fields") JSON fields seen"
		elif [ -n "$missing" ]; then
			rc=1
			why="JSON fields not in docs/relay-control.md:$missing"
		fi
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# ---- Messages ---------------------------------------------------------------

# Issue 13's misleading errors, each now saying what failed and what to do:
# a missing fabric socket ("is argo-simd running on PATH?", not "no such
# ring"), a static domain already taken (not "too many waiters"), an
# unknown user (at --check-config, not "No such file or directory"), a
# wrong key (at the default level, once), a link that cannot connect (why,
# in argo-relayctl and once in the log); --check-config's warnings and
# --syntax-only. Relays run without -v here: what the default level shows.
case_messages() {
	local name=messages-say-what-to-do dir rc=0 why="" out code pid pid2 n
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	one_relay_setup "$dir" || rc=1
	# The fabric socket is missing.
	sed "s|^fabric = .*|fabric = sim:$dir/none.sock|" "$dir/x.conf" >"$dir/nofabric.conf"
	out=$(timeout 10 "$BIN/argo-relayd" "$dir/nofabric.conf" 2>&1)
	code=$?
	if [ $code -ne 1 ] || ! grep -qF "cannot open fabric sim:$dir/none.sock: no fabric socket at $dir/none.sock (ENOENT): is argo-simd running on $dir/none.sock?" <<<"$out"; then
		rc=1
		why="missing fabric: exit $code: $out"
	fi
	out=$("$BIN/argo-ping" --fabric "sim:$dir/none.sock" --to 5:7000 2>&1)
	if [ $rc -eq 0 ] && ! grep -qF "is argo-simd running on $dir/none.sock?" <<<"$out"; then
		rc=1
		why="argo-ping on a missing fabric: $out"
	fi
	# A static domain already taken: a second relay on the first one's socket.
	"$BIN/argo-relayd" "$dir/x.conf" 2>"$dir/relay-x.log" &
	pid=$!
	EXTRA_PIDS+=("$pid")
	wait_until 5 "$BIN/argo-relayctl" -s "$dir/x.ctl" status >/dev/null 2>&1 || rc=1
	sed "s|^control = .*|control = $dir/y.ctl|" "$dir/x.conf" >"$dir/y.conf"
	out=$(timeout 10 "$BIN/argo-relayd" "$dir/y.conf" 2>&1)
	code=$?
	if [ $rc -eq 0 ] && { [ $code -ne 1 ] || ! grep -qF "the static domain of $dir/r.sock is taken (EBUSY)" <<<"$out"; }; then
		rc=1
		why="a second relay on a static domain: exit $code: $out"
	fi
	# An unknown user: the configuration is refused, and says so.
	printf 'user = nosuchuser%s\n' "$$" >"$dir/user.line"
	sed "/^\[relay\]/r $dir/user.line" "$dir/x.conf" >"$dir/user.conf"
	out=$("$BIN/argo-relayd" --check-config "$dir/user.conf" 2>&1)
	code=$?
	if [ $rc -eq 0 ] && { [ $code -ne 2 ] || ! grep -q "user 'nosuchuser$$' does not exist on this system" <<<"$out"; }; then
		rc=1
		why="an unknown user: exit $code: $out"
	fi
	# --check-config: valid, and warned about; --syntax-only without key files.
	out=$("$BIN/argo-relayd" --check-config "$dir/x.conf" 2>"$dir/warn.txt")
	code=$?
	if [ $rc -eq 0 ] && { [ $code -ne 0 ] || ! grep -q ": valid " <<<"$out" ||
		! grep -q "warning: \[policy\] allows nothing" "$dir/warn.txt" ||
		! grep -q "warning: no state_dir" "$dir/warn.txt"; }; then
		rc=1
		why="--check-config without policy and state_dir: exit $code, said: $out / $(cat "$dir/warn.txt")"
	fi
	if [ $rc -eq 0 ] && [ "$(id -u)" = 0 ] && ! grep -q "warning: no user: started by root" "$dir/warn.txt"; then
		rc=1
		why="--check-config as root without user: $(cat "$dir/warn.txt")"
	fi
	printf '[link up]\ntransport = unix\nconnect = %s/nobody.sock\npeer = far\nkey = %s/no-such.key\n[policy]\nrule = allow\n' \
		"$dir" "$dir" >>"$dir/nokey.conf"
	cat "$dir/x.conf" "$dir/nokey.conf" >"$dir/nokey2.conf"
	out=$("$BIN/argo-relayd" --check-config "$dir/nokey2.conf" 2>&1)
	code=$?
	if [ $rc -eq 0 ] && [ $code -ne 2 ]; then
		rc=1
		why="--check-config with a missing key file: exit $code: $out"
	fi
	out=$("$BIN/argo-relayd" --check-config --syntax-only "$dir/nokey2.conf" 2>/dev/null)
	code=$?
	if [ $rc -eq 0 ] && { [ $code -ne 0 ] || ! grep -q "syntax valid .*key files, user and group not checked" <<<"$out"; }; then
		rc=1
		why="--syntax-only with a missing key file: exit $code: $out"
	fi
	# A link that cannot connect says why: in argo-relayctl, and once in the
	# log while the same failure repeats (every 50 ms here).
	kill -TERM "$pid"
	wait "$pid"
	chain_key "$dir/k"
	printf '[link far]\ntransport = unix\nconnect = %s/nobody.sock\npeer = far\nkey = %s/k\n' "$dir" "$dir" >"$dir/link.conf"
	sed 's/^\[relay\]$/[relay]\nreconnect_ms = 50/' "$dir/x.conf" | cat - "$dir/link.conf" >"$dir/down.conf"
	"$BIN/argo-relayd" "$dir/down.conf" 2>"$dir/relay-down.log" &
	pid2=$!
	EXTRA_PIDS+=("$pid2")
	wait_until 5 "$BIN/argo-relayctl" -s "$dir/x.ctl" status >/dev/null 2>&1 || rc=1
	# 20 attempts at least (1 s at 50 ms): the log says it once.
	wait_until 10 bash -c "[ \$(grep -c . '$dir/relay-down.log') -ge 2 ]"
	sleep 1
	out=$("$BIN/argo-relayctl" -s "$dir/x.ctl" links 2>&1)
	n=$(grep -c "cannot connect to $dir/nobody.sock" "$dir/relay-down.log")
	if [ $rc -eq 0 ] && ! grep -qF "not up: cannot connect to $dir/nobody.sock: No such file or directory (trying again every 50 ms)" <<<"$out"; then
		rc=1
		why="argo-relayctl links does not say why link far is down: $out"
	elif [ $rc -eq 0 ] && [ "$n" -ne 1 ]; then
		rc=1
		why="the log said 'cannot connect' $n times at the default level, not once: $(head -n 5 "$dir/relay-down.log")"
	elif [ $rc -eq 0 ] && ! "$BIN/argo-relayctl" -s "$dir/x.ctl" --json links | grep -qF "\"down_reason\":\"cannot connect to $dir/nobody.sock"; then
		rc=1
		why="no down_reason in links --json"
	fi
	result "$name" $rc "$why (logs in $dir)"
	end_case "$name" "$dir" $rc
}

# A wrong key, at the default level: each end says once that the link did
# not authenticate, with what to check, and says it again only with -v,
# however many handshakes fail (max_auth_failures 2: a reset every 2,
# reset_backoff_ms 100).
case_wrong_key_said() {
	local name=wrong-key-said-once dir rc=0 why="" i n0 n1 af
	dir=$(mktemp -d /tmp/argo-relay-ops.XXXXXX)
	chain_key "$dir/wrong-key"
	if ! CHAIN_EXTRA_RELAY_CONF=$'max_auth_failures = 2\nreset_backoff_ms = 100' \
		CHAIN_UP_KEY_1="$dir/wrong-key" CHAIN_NO_WAIT_1=1 chain_up "$dir" "$BIN" 2 unix; then
		result "$name" 1 "relays did not start (logs in $dir)"
		end_case "$name" "$dir" 1
		return
	fi
	# Again without -v: what an operator sees by default.
	for i in 1 0; do
		kill -TERM "${CHAIN_RELAY_PIDS[$i]}"
		wait "${CHAIN_RELAY_PIDS[$i]}"
	done
	: >"$dir/relay-l0.log"
	: >"$dir/relay-l1.log"
	for i in 0 1; do
		"$BIN/argo-relayd" "$dir/l$i.conf" 2>>"$dir/relay-l$i.log" &
		CHAIN_RELAY_PIDS[$i]=$!
	done
	if ! wait_until 20 bash -c "[ \"\$('$BIN/argo-relayctl' -s '$dir/l1.ctl' links --json 2>/dev/null | grep -oE '\"auth_failures\":[0-9]+' | cut -d: -f2)\" -ge 6 ] 2>/dev/null"; then
		rc=1
		why="not 6 authentication failures at l1: $("$BIN/argo-relayctl" -s "$dir/l1.ctl" links 2>&1)"
	fi
	af=$("$BIN/argo-relayctl" -s "$dir/l1.ctl" links --json | grep -oE '"auth_failures":[0-9]+' | cut -d: -f2)
	n1=$(grep -c "link up: authentication failed with .*the two ends do not hold the same key" "$dir/relay-l1.log")
	n0=$(grep -c "link down: authentication failed with .*the two ends do not hold the same key" "$dir/relay-l0.log")
	if [ $rc -eq 0 ] && { [ "$n1" -ne 1 ] || [ "$n0" -ne 1 ]; }; then
		rc=1
		why="'authentication failed ... same key' said $n1 times by l1 and $n0 by l0 after $af failures, not once each: $(head -n 8 "$dir/relay-l1.log")"
	fi
	if [ $rc -eq 0 ] && ! "$BIN/argo-relayctl" -s "$dir/l1.ctl" links | grep -q "not up: "; then
		rc=1
		why="argo-relayctl does not say why l1's link is down"
	fi
	result "$name" $rc "$why (logs in $dir)"
	[ $rc -eq 0 ] && echo "    $af authentication failures at l1, said once by each end"
	end_case "$name" "$dir" $rc
}

cases=("$@")
[ ${#cases[@]} -eq 0 ] && cases=(ping_interval idle_no_flood control_socket_live daemon log_targets sigusr1
	reload_links reload_certs reload_refused sd_notify relayctl messages wrong_key_said)
for c in "${cases[@]}"; do
	t0=$SECONDS
	"case_$c"
	echo "    ($c: $((SECONDS - t0)) s)"
done
results_summary
