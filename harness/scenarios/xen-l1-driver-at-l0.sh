#!/bin/sh
# xen-l1-driver-at-l0, the L1 dom0 part (harness/scenarios.cfg; the whole
# scenario: docs/harness.md). Xen with Argo runs in an L0 libvirt VM; this
# dom0 runs relay l1 on the real Xen fabric (argo.ko) with a `serial` link
# over the virtio-serial port org.argo.relay.0 to relay l0 on the host,
# whose other links reach the driver domain, a second L0 VM (its services
# leaf endpoints of relay l0, domains of L0's fabric, or behind a relay of
# its own: harness/scenarios.cfg `driver`). Its
# configuration and key come from the host's l0/argo-deploy (in
# /etc/argo-e2e/files). A PV domU (headline-domu.sh) runs the unmodified
# clients through argo.ko to import ports of this relay: 10 000 pings of
# 16 B..64 KiB, then three streams, each with a fault: relay l1 SIGKILLed
# and restarted (here), the virtio-serial channel cut and reconnected, the
# driver-domain VM destroyed and started again (both by the host, asked
# over the control port org.argo.e2e.ctl; it answers on that port).
# Lines "HL: ..." tell the host where the run is; "ARGO-E2E: JSON
# counters-l1-WHEN {...}" are this relay's counters.
. /usr/share/argo-e2e/lib.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
CTL=org.argo.e2e.ctl
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/l1
chmod 700 /etc/argo-relay /var/lib/argo-relay/l1
[ -f "$F/phases" ] && . "$F/phases"
PING_COUNT=${PING_COUNT:-10000}
PIDS=""

give_up() {
	for _p in $PIDS; do kill -TERM "$_p" 2>/dev/null; done
	[ ! -s "$D/relay-l1.log" ] || sed 's/^/l1| /' "$D/relay-l1.log"
	e2e_finish
}

if cp "$F/l1.conf" "$F/l1-l0.key" /etc/argo-relay/ &&
	chmod 600 /etc/argo-relay/l1.conf /etc/argo-relay/l1-l0.key; then
	e2e_case l1-config PASS "from l0/argo-deploy: $(grep -c . /etc/argo-relay/l1.conf) lines"
else
	e2e_case l1-config FAIL "no $F/l1.conf or key (the setup's l0/argo-deploy writes them)"
	give_up
fi
if grep -q '^argo ' /proc/modules && [ -c /dev/argo ]; then
	e2e_case argo-ko PASS
else
	e2e_case argo-ko FAIL "argo.ko not loaded or no /dev/argo"
	give_up
fi
if e2e_virtio_ports "$CH" 30 && e2e_virtio_ports "$CTL" 5; then
	e2e_case virtio-serial PASS "$(ls /dev/virtio-ports | tr '\n' ' ')"
else
	e2e_case virtio-serial FAIL "no virtio-serial port $CH and $CTL within 30 s: $(cat /sys/class/virtio-ports/*/name 2>/dev/null | tr '\n' ' ')"
	give_up
fi
# The host's answers come on the control port, a line at a time. A read
# that ends without a line (the port reads as end of file while its host
# side is not connected; a signal) is made again, on the port opened
# again, for up to 10 minutes, and said.
exec 3<"/dev/virtio-ports/$CTL"
ask_host() {
	echo "HL: request $1"
	_tries=0
	while :; do
		_answer=""
		read -r _answer <&3
		_rc=$?
		[ -z "$_answer" ] || break
		_tries=$((_tries + 1))
		if [ "$_tries" -ge 3000 ]; then
			_answer="(no answer in 10 minutes)"
			break
		fi
		[ "$_tries" != 1 ] || echo "HL: the control port gave no line (read rc=$_rc); reading again"
		sleep 0.2
		exec 3<"/dev/virtio-ports/$CTL"
	done
	[ "$_tries" = 0 ] || echo "HL: the control port answered after $_tries empty reads"
	echo "HL: host says $_answer"
	[ "${_answer%% *}" = done ]
}

start_relay() {
	argo-relayd -v /etc/argo-relay/l1.conf 2>>"$D/relay-l1.log" &
	RELAY=$!
	PIDS="$PIDS $RELAY"
	serving() { argo-relayctl -s "$D/l1.ctl" status; }
	e2e_wait 10 serving
}
link_up() { argo-relayctl -s "$D/l1.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
counter() { argo-relayctl -s "$D/l1.ctl" counters --json 2>/dev/null | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" | head -n 1; }

if ! start_relay; then
	e2e_case relay-l1-start FAIL "$(tail -n 1 "$D/relay-l1.log")"
	give_up
fi
e2e_case relay-l1-start PASS "pid $RELAY on xen:/dev/argo"
t0=$(cut -d' ' -f1 /proc/uptime)
if e2e_wait 120 link_up; then
	e2e_case link-up PASS "serial link to l0 up after $(echo "$t0 $(cut -d' ' -f1 /proc/uptime)" | awk '{ printf "%.1f", $2 - $1 }') s"
else
	e2e_case link-up FAIL "$(argo-relayctl -s "$D/l1.ctl" links 2>&1 | sed -n 2p)"
	give_up
fi

if ! e2e_check xen-tools-start xen_tools_start; then
	give_up
fi
cat >/tmp/hl-domu.cfg <<CFG
name = "frontend"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=headline-domu hl.ping=$PING_COUNT hl.stream=${STREAM_COUNT:-3000}"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
if ! e2e_check domu-create xl create /tmp/hl-domu.cfg; then
	give_up
fi
domid=$(xl domid frontend)
glog=/var/log/xen/console/guest-frontend.log
echo "frontend is domain $domid"

# go PHASE: the frontend may start PHASE (its xenstore data/hl-go, which
# it owns so that it can read it).
go() {
	xenstore-write "/local/domain/$domid/data/hl-go" "$1" &&
		xenstore-chmod "/local/domain/$domid/data/hl-go" "n$domid"
}

# kill_relay_during: SIGKILL relay l1 (and start it again at once) each
# time it has read another third of the stream from its import ring.
kill_relay_during() {
	n=0
	base=$(counter local_rx)
	for third in 1 2; do
		want=$((${base:-0} + ${STREAM_COUNT:-3000} / 3))
		past() { [ "$(counter local_rx)" -ge "$1" ]; }
		e2e_wait 300 past "$want" || break
		kill -KILL "$RELAY"
		wait "$RELAY" 2>/dev/null
		echo "--- SIGKILL, restarted" >>"$D/relay-l1.log"
		start_relay || { echo "HL: relay l1 did not come back"; return 1; }
		n=$((n + 1))
		base=$(counter local_rx)
	done
	echo "HL: relay l1 SIGKILLed $n times"
	[ "$n" = 2 ]
}

# The conductor: follow the frontend's console, act on its phases.
seen=0
kills_ok=""
while :; do
	# Whole lines only: the last one may be half written.
	lines=$(head -n "$(wc -l <"$glog" 2>/dev/null || echo 0)" "$glog" 2>/dev/null | tr -d '\r' |
		grep '^HL' | tail -n +$((seen + 1)))
	if [ -z "$lines" ]; then
		if ! xl domid frontend >/dev/null 2>&1; then break; fi
		sleep 0.2
		continue
	fi
	echo "$lines" | while read -r l; do echo "domU| $l"; done
	seen=$((seen + $(echo "$lines" | wc -l)))
	case "$lines" in
	*"HL: ping-done"*)
		e2e_json counters-l1-after-ping argo-relayctl -s "$D/l1.ctl" status --json
		ask_host snapshot-after-ping
		go stream-relay-kill
		;;
	esac
	case "$lines" in
	*"HL: stream-relay-kill begin"*)
		if kill_relay_during; then kills_ok=yes; else kills_ok=no; fi
		;;
	esac
	case "$lines" in
	*"HL: stream-relay-kill end"*)
		go stream-chan-cut
		;;
	esac
	case "$lines" in
	*"HL: stream-chan-cut begin"*)
		ask_host chan-cut
		;;
	esac
	case "$lines" in
	*"HL: stream-chan-cut end"*)
		go stream-dd-restart
		;;
	esac
	case "$lines" in
	*"HL: stream-dd-restart begin"*)
		ask_host dd-restart
		;;
	esac
	case "$lines" in *"HL: all done"*) break ;; esac
done
if [ "$kills_ok" = yes ]; then
	e2e_case relay-l1-sigkill PASS "relay l1 SIGKILLed twice mid-stream and restarted"
else
	e2e_case relay-l1-sigkill FAIL "the kills did not happen (${kills_ok:-stream never began})"
fi
e2e_collect_domu frontend 60 headline-domu
e2e_json counters-l1-final argo-relayctl -s "$D/l1.ctl" status --json
ask_host finished
argo-relayctl -s "$D/l1.ctl" links | sed 's/^/    /'
kill -TERM "$RELAY"
wait "$RELAY"
rc=$?
[ "$rc" = 0 ] && e2e_case relay-l1-stop PASS || e2e_case relay-l1-stop FAIL "exit status $rc"
sed 's/^/l1| /' "$D/relay-l1.log"
e2e_finish
