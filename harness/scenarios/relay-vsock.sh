#!/bin/sh
# relay-vsock: two relays in dom0 joined by a `vsock` link over the guest
# kernel's vsock_loopback (CID 1, VMADDR_CID_LOCAL; the host is never
# involved): relay l1 on the real Xen fabric (argo.ko, xen:/dev/argo),
# relay l0 on a sim fabric (an argo-simd in dom0, the relay as domain 0
# and a driver domain 5 on static sockets). l1 imports port 7000 as
# l0:5:7000. Through it: 1000 argo-ping requests from dom0 on Xen to an
# argo-echo as domain 5 on sim, then a 5000-message argo-stream of mixed
# sizes (16 B .. 64 KiB) to an argo-stream receiver there. The link must
# be up over vsock at both ends, and stay up; its counters are reported.
# Then custody across SIGKILL: a 20000-message stream the same way while
# relay l1 (on Xen: its rings are persistent in argo.ko, its send tags
# recorded there) and later relay l0 are SIGKILLed and restarted at once,
# with their state_dir: nothing missing, duplicated or reordered. The
# relays must stop cleanly on SIGTERM and log no error. Without
# vsock_loopback in the kernel it FAILs.
# About 60-85 s under TCG on an idle 2-core host (boot 10 s, scenario
# 50-70 s, of which the kill stream 30-40 s).
. /usr/share/argo-e2e/lib.sh

D=/run/relay-vsock
VPORT=5000      # the vsock port l0 listens on (CID 1)
PING_PORT=40000 # dom0's ports on Xen for the ping and the stream senders
STREAM_PORT=41000
KILL_STREAM_PORT=42000
KILL_COUNT=20000
mkdir -p "$D"
mkdir -m 700 -p "$D/l0-state" "$D/l1-state"
PIDS=""

# Every process this scenario started, stopped (TERM) at the end.
stop_all() {
	for _p in $PIDS; do kill -TERM "$_p" 2>/dev/null; done
	PIDS=""
}

# The relays' and fabric's logs, on the console (prefixed), after a failure.
dump_logs() {
	for _f in relay-l1.log relay-l0.log simd.log echo.log recv.log send.log ping.log; do
		[ -s "$D/$_f" ] || continue
		echo "---- $_f"
		sed "s/^/${_f%.log}| /" "$D/$_f"
	done
}

# The early end: what is there, the logs, stop everything, the verdict.
give_up() {
	dump_logs
	stop_all
	e2e_finish
}

# link_up CTL LINK: that link is up over vsock.
link_up() {
	argo-relayctl -s "$1" links 2>/dev/null | grep -qE "^  $2 +vsock +.* up +frames"
}

# relay_field CTL NAME: a number from `argo-relayctl links --json`.
relay_field() {
	argo-relayctl -s "$1" links --json 2>/dev/null | sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" | head -n 1
}

# ------------------------------------------------------- vsock loopback ----
# Real AF_VSOCK between processes of this guest, needs the vsock_loopback
# module (IMAGES_MODULES puts it, with vsock and the virtio transport
# common code, in the image; /init loads it).
if out=$(modprobe vsock_loopback 2>&1) && [ -d /sys/module/vsock_loopback ]; then
	e2e_case vsock-loopback PASS "$(cut -d' ' -f1 /proc/modules | grep -E 'vsock' | tr '\n' ' ')"
else
	e2e_case vsock-loopback FAIL "kernel $(uname -r) has no vsock_loopback module" \
		"(${out:-modprobe said nothing, but there is no /sys/module/vsock_loopback});" \
		"add vsock_loopback to IMAGES_MODULES in images/images.mk"
	give_up
fi

# ------------------------------------------------------------ Xen fabric ----
if grep -q '^argo ' /proc/modules && [ -c /dev/argo ]; then
	e2e_case argo-ko PASS "$(ls -l /dev/argo)"
else
	e2e_case argo-ko FAIL "argo.ko not loaded or no /dev/argo (image built without ARGO_KO?)"
	give_up
fi

# ------------------------------------------------------------- sim fabric ----
rm -f "$D/l0.sock"
if argo-simd -s "$D/l0.sock" -d --pidfile "$D/l0.pid" -m \
	-D "0=$D/l0-relay.sock" -D "5=$D/l0-dom5.sock" 2>>"$D/simd.log"; then
	PIDS="$PIDS $(cat "$D/l0.pid")"
	e2e_case sim-fabric PASS "argo-simd $(cat "$D/l0.pid"): relay domain 0, driver domain 5"
else
	e2e_case sim-fabric FAIL "argo-simd did not start: $(tail -n 1 "$D/simd.log")"
	give_up
fi

# -------------------------------------------------------------- relays ----
# One key for both ends of the link: 32 random bytes, mode 0600.
(umask 077 && head -c 32 /dev/urandom >"$D/l1-l0.key")

cat >"$D/l0.conf" <<EOF
[relay]
hvid = l0
fabric = sim:$D/l0-relay.sock
control = $D/l0.ctl
state_dir = $D/l0-state
reconnect_ms = 50
ping_ms = 500

[link down]
transport = vsock
listen = 1:$VPORT
peer = l1
key = $D/l1-l0.key

[policy]
default = deny
rule = allow src l1 dst l0:5:7000
rule = allow src l0:5:7000 dst l1
EOF

cat >"$D/l1.conf" <<EOF
[relay]
hvid = l1
fabric = xen:/dev/argo
control = $D/l1.ctl
state_dir = $D/l1-state
reconnect_ms = 50
ping_ms = 500

[link up]
transport = vsock
connect = 1:$VPORT
peer = l0
key = $D/l1-l0.key

[routes]
l0 = up

[imports]
7000 = l0:5:7000

[policy]
default = deny
rule = allow src l1 dst l0:5:7000
rule = allow src l0:5:7000 dst l1
EOF

# start_relay NAME [quiet]: argo-relayd -v on $D/NAME.conf (its pid in
# _pid); serving once its control socket answers. A case relay-NAME-start,
# unless quiet (then only a failure is one).
start_relay() {
	argo-relayd -v "$D/$1.conf" 2>>"$D/relay-$1.log" &
	_pid=$!
	PIDS="$PIDS $_pid"
	serving() { argo-relayctl -s "$D/$1.ctl" status; }
	if e2e_wait 10 serving "$1"; then
		[ -n "${2:-}" ] ||
			e2e_case "relay-$1-start" PASS "pid $_pid: $(argo-relayctl -s "$D/$1.ctl" status | head -n 1)"
		return 0
	fi
	if kill -0 "$_pid" 2>/dev/null; then
		e2e_case "relay-$1-start" FAIL "no answer on $D/$1.ctl within 10 s: $(tail -n 1 "$D/relay-$1.log")"
	else
		e2e_case "relay-$1-start" FAIL "exited: $(tail -n 1 "$D/relay-$1.log")"
	fi
	return 1
}

start_relay l0 || give_up
PID_L0=$_pid
start_relay l1 || give_up
PID_L1=$_pid

# link_line CTL LINK: that link's first line in `argo-relayctl links`.
link_line() {
	argo-relayctl -s "$1" links 2>&1 | grep -E "^  $2 " | tr -s ' ' | sed 's/^ //'
}
if e2e_wait 10 link_up "$D/l1.ctl" up && e2e_wait 5 link_up "$D/l0.ctl" down; then
	e2e_case link-up PASS "l1: $(link_line "$D/l1.ctl" up | cut -d' ' -f1-6)"
else
	e2e_case link-up FAIL "vsock link not up within 10 s: l1: $(link_line "$D/l1.ctl" up);" \
		"l0: $(link_line "$D/l0.ctl" down)"
	give_up
fi
echo "    relay l1 (Xen fabric) so far:"
sed 's/^/    l1| /' "$D/relay-l1.log"

# ----------------------------------------------------------- ping / echo ----
argo-echo --fabric "sim:$D/l0-dom5.sock" --port 7000 >"$D/echo.log" 2>&1 &
ECHO=$!
PIDS="$PIDS $ECHO"
echo_ready() { grep -q 'serving port 7000' "$D/echo.log"; }
if ! e2e_wait 5 echo_ready; then
	e2e_case echo-start FAIL "argo-echo did not serve within 5 s: $(tail -n 1 "$D/echo.log")"
	give_up
fi

t0=$(cut -d' ' -f1 /proc/uptime)
argo-ping --fabric xen:/dev/argo --to 0:7000 --port "$PING_PORT" --count 1000 --size 256 \
	--timeout 10000 >"$D/ping.log" 2>&1
rc=$?
t1=$(cut -d' ' -f1 /proc/uptime)
sed 's/^/    /' "$D/ping.log"
summary=$(grep '^argo-ping: .* sent' "$D/ping.log" | tail -n 1)
if [ "$rc" = 0 ] && echo "$summary" |
	grep -q '^argo-ping: 1000 sent, 1000 ok, 0 wrong, 0 lost, 0 duplicated'; then
	e2e_case ping-1000 PASS "${summary#argo-ping: } ($(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s)"
else
	e2e_case ping-1000 FAIL "rc=$rc: ${summary:-$(tail -n 1 "$D/ping.log")}"
fi

# The echo goes; the stream's receiver takes domain 5's port 7000.
kill -TERM "$ECHO" 2>/dev/null
wait "$ECHO" 2>/dev/null
sed 's/^/    /' "$D/echo.log"

# ---------------------------------------------------------------- stream ----
argo-stream recv --fabric "sim:$D/l0-dom5.sock" --port 7000 --count 5000 --timeout 20000 \
	>"$D/recv.log" 2>&1 &
RECV=$!
PIDS="$PIDS $RECV"
recv_ready() { grep -q 'receiving on port 7000' "$D/recv.log"; }
if e2e_wait 5 recv_ready; then
	t0=$(cut -d' ' -f1 /proc/uptime)
	argo-stream send --fabric xen:/dev/argo --to 0:7000 --port "$STREAM_PORT" --count 5000 \
		--timeout 20000 >"$D/send.log" 2>&1
	src=$?
	wait "$RECV"
	rrc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	sed 's/^/    /' "$D/send.log" "$D/recv.log"
	got=$(grep '^argo-stream: received' "$D/recv.log" | tail -n 1)
	if [ "$src" = 0 ] && [ "$rrc" = 0 ] && echo "$got" |
		grep -q '^argo-stream: received 5000 of 5000, 0 missing, 0 duplicated, 0 reordered, 0 corrupted'; then
		e2e_case stream-5000 PASS "${got#argo-stream: } ($(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s)"
	else
		e2e_case stream-5000 FAIL "send rc=$src, recv rc=$rrc: ${got:-$(tail -n 1 "$D/recv.log")}; $(tail -n 1 "$D/send.log")"
	fi
else
	e2e_case stream-5000 FAIL "argo-stream recv did not start: $(tail -n 1 "$D/recv.log")"
fi

# ------------------------------------------------------ the link, after ----
echo "    relay l1 links:"
argo-relayctl -s "$D/l1.ctl" links | sed 's/^/    /'
echo "    relay l0 links:"
argo-relayctl -s "$D/l0.ctl" links | sed 's/^/    /'
argo-relayctl -s "$D/l1.ctl" counters | sed 's/^/    l1 /'
if link_up "$D/l1.ctl" up && link_up "$D/l0.ctl" down; then
	e2e_case link-counters PASS "l1 up over vsock 1:$VPORT:" \
		"frames $(relay_field "$D/l1.ctl" frames_tx)/$(relay_field "$D/l1.ctl" frames_rx)" \
		"bytes $(relay_field "$D/l1.ctl" bytes_tx)/$(relay_field "$D/l1.ctl" bytes_rx) (tx/rx)," \
		"data $(relay_field "$D/l1.ctl" data_tx)/$(relay_field "$D/l1.ctl" data_rx)," \
		"sessions $(relay_field "$D/l1.ctl" sessions)," \
		"retransmits $(relay_field "$D/l1.ctl" retransmits)"
else
	e2e_case link-counters FAIL "the vsock link is no longer up: l1: $(link_line "$D/l1.ctl" up);" \
		"l0: $(link_line "$D/l0.ctl" down)"
fi

# ------------------------------------------------- custody across SIGKILL ----
# The relays' logs so far, for the strict check at the end; what the kills
# make them say is checked on its own.
cp "$D/relay-l1.log" "$D/relay-l1.before-kills"
cp "$D/relay-l0.log" "$D/relay-l0.before-kills"

# kill_relay NAME: SIGKILL relay NAME (l0 or l1), reap it, start it again
# at once with the same configuration (and state_dir); its pid in PID_L0 or
# PID_L1.
kill_relay() {
	_var=PID_$(echo "$1" | tr a-z A-Z)
	eval "_old=\$$_var"
	kill -KILL "$_old" 2>/dev/null
	wait "$_old" 2>/dev/null
	echo "--- SIGKILL, restarted" >>"$D/relay-$1.log"
	start_relay "$1" quiet || return 1
	eval "$_var=$_pid"
}

# counter CTL NAME: a value from `argo-relayctl counters --json`.
counter() {
	argo-relayctl -s "$1" counters --json 2>/dev/null | sed -n "s/.*\"$2\":\([a-z0-9]*\).*/\1/p" | head -n 1
}

argo-stream recv --fabric "sim:$D/l0-dom5.sock" --port 7000 --count "$KILL_COUNT" \
	--timeout 60000 --linger-ms 1000 >"$D/kill-recv.log" 2>&1 &
RECV=$!
PIDS="$PIDS $RECV"
kill_recv_ready() { grep -q 'receiving on port 7000' "$D/kill-recv.log"; }
kills="" nkills=0 why=""
if e2e_wait 5 kill_recv_ready; then
	t0=$(cut -d' ' -f1 /proc/uptime)
	argo-stream send --fabric xen:/dev/argo --to 0:7000 --port "$KILL_STREAM_PORT" \
		--count "$KILL_COUNT" --timeout 60000 >"$D/kill-send.log" 2>&1 &
	SENDER=$!
	PIDS="$PIDS $SENDER"
	# l1 (the Xen side) three times, then l0 twice, 1.5 s apart, while the
	# sender runs.
	for victim in l1 l1 l1 l0 l0; do
		sleep 1.5
		kill -0 "$SENDER" 2>/dev/null || break
		if ! kill_relay "$victim"; then
			why="relay $victim did not come back after its SIGKILL"
			break
		fi
		kills="$kills $victim"
		nkills=$((nkills + 1))
	done
	wait "$SENDER"
	src=$?
	wait "$RECV"
	rrc=$?
	t1=$(cut -d' ' -f1 /proc/uptime)
	sed 's/^/    /' "$D/kill-send.log" "$D/kill-recv.log"
	got=$(grep '^argo-stream: received' "$D/kill-recv.log" | tail -n 1)
	case "$kills" in
	*l1*l0*) ;;
	*) why=${why:-"the stream ended before both relays were killed (kills:${kills:- none})"} ;;
	esac
	if [ -z "$why" ] && [ "$src" = 0 ] && [ "$rrc" = 0 ] && echo "$got" | grep -q \
		"^argo-stream: received $KILL_COUNT of $KILL_COUNT, 0 missing, 0 duplicated, 0 reordered, 0 corrupted"; then
		e2e_case relay-kills PASS "$nkills SIGKILLs ($(echo $kills | tr ' ' ',')):" \
			"${got#argo-stream: } ($(echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }') s)"
	else
		e2e_case relay-kills FAIL "${why:+$why; }kills:${kills:- none}; send rc=$src, recv rc=$rrc:" \
			"${got:-$(tail -n 1 "$D/kill-recv.log")}; $(tail -n 1 "$D/kill-send.log")"
	fi
else
	e2e_case relay-kills FAIL "argo-stream recv did not start: $(tail -n 1 "$D/kill-recv.log")"
fi

# The Xen fabric now keeps rings and records send tags: relay l1 says
# nothing of those limits, and its last run took rings over. l0 (sim) too.
for r in l1 l0; do
	tags=$(counter "$D/$r.ctl" send_tags)
	adopted=$(counter "$D/$r.ctl" rings_adopted)
	limit=$(grep -E 'cannot keep rings across restarts|does not record send tags' "$D/relay-$r.log" | head -n 1)
	if [ -z "$limit" ] && [ "$tags" = true ] && [ "${adopted:-0}" -gt 0 ]; then
		e2e_case "relay-$r-durable" PASS "send_tags $tags, rings_adopted $adopted in the last run"
	else
		e2e_case "relay-$r-durable" FAIL "send_tags ${tags:-?}, rings_adopted ${adopted:-?}${limit:+; log: $limit}"
	fi
done
argo-relayctl -s "$D/l1.ctl" counters | sed 's/^/    l1 /'

# ---------------------------------------------------------------- the end ----
# Both relays' counters, as JSON, for the harness (counters-l1.json, counters-l0.json).
for r in l1 l0; do
	e2e_json "counters-$r" argo-relayctl -s "$D/$r.ctl" status --json
done
# The relays stop on SIGTERM and exit 0.
stopped=""
for r in "l1 $PID_L1" "l0 $PID_L0"; do
	kill -TERM "${r#* }" 2>/dev/null
	wait "${r#* }"
	rrc=$?
	[ "$rrc" = 0 ] || stopped="$stopped relay ${r% *} exited $rrc;"
done
if [ -z "$stopped" ]; then
	e2e_case relays-stop PASS
else
	e2e_case relays-stop FAIL "$stopped"
fi
echo "    relay l1 (Xen fabric) log:"
sed 's/^/    l1| /' "$D/relay-l1.log"
echo "    relay l0 (sim fabric) log, from the kills on:"
tail -n +"$(($(wc -l <"$D/relay-l0.before-kills") + 1))" "$D/relay-l0.log" | sed 's/^/    l0| /'
# Nothing went wrong in either relay before the kills (without
# mac-permissive there would be no routed port: fine); after them, nothing
# but the link trouble a SIGKILLed peer causes.
for r in l1 l0; do
	bad=$(grep -iE 'cannot|fail|error|corrupt|undeliverable|malformed|refused|denied|reset|timed out' \
		"$D/relay-$r.before-kills" | grep -vE 'no routed mode' | head -n 1)
	if [ -z "$bad" ]; then
		e2e_case "relay-$r-log" PASS
	else
		e2e_case "relay-$r-log" FAIL "$bad"
	fi
	bad=$(tail -n +"$(($(wc -l <"$D/relay-$r.before-kills") + 1))" "$D/relay-$r.log" |
		grep -iE 'cannot|fail|error|corrupt|undeliverable|malformed|refused|denied|reset|timed out' |
		grep -vE 'link (up|down): ((session ended: |handshake with .* ended: )?(connection closed( during the TLS handshake)?|Connection reset by peer|Broken pipe|Connection refused)|(cannot )?connect .*)$' |
		head -n 1)
	if [ -z "$bad" ]; then
		e2e_case "relay-$r-log-kills" PASS
	else
		e2e_case "relay-$r-log-kills" FAIL "$bad"
	fi
done
if [ -s "$E2E_FAILS" ]; then
	dump_logs
fi
stop_all
e2e_finish
