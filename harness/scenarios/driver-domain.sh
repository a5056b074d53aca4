#!/bin/sh
# driver-domain: the driver domain of xen-l1-driver-at-l0, a plain Linux VM
# at L0 (no Xen). Its services: argo-echo as domain 5 port 7000, argo-stream
# receivers as domains 6, 7, 8 on ports 7001, 7002, 7003. What it gets from
# l0/argo-deploy (in /etc/argo-e2e/files) says how it is reached:
# - leaves (driver = leaf): each service is a leaf endpoint, one process
#   on libargo's link: backend over its own virtio-serial port
#   (org.argo.leaf.DOMID) to relay l0 on the host, which holds its domain
#   in L0's fabric. No fabric, no relay here.
# - dd.conf (driver = relay): its own argo-simd fabric `dd` with a relay,
#   linked over the port org.argo.relay.0 to relay l0; the services are
#   started before the relay so that their rings exist when traffic comes.
# Lines "DD: ..." (and, with a relay, "DD-JSON WHEN {...}", its counters)
# are for the host. Runs until the VM is destroyed (the host destroys and
# starts it once mid-stream).
. /usr/share/argo-e2e/lib.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
[ -f "$F/phases" ] && . "$F/phases"
PING_COUNT=${PING_COUNT:-10000}
STREAM_COUNT=${STREAM_COUNT:-3000}
boot=$(cut -c1-8 /proc/sys/kernel/random/boot_id)
mkdir -p /etc/argo-relay "$D"
chmod 700 /etc/argo-relay

# service PORT FABRIC: the echo (7000) or a stream receiver, on FABRIC.
# The stream of 7003 goes on while this VM is destroyed and started again:
# its receiver in the new boot starts at the first message it gets.
service() {
	if [ "$1" = 7000 ]; then
		(
			argo-echo --fabric "$2" --port 7000 --count "$PING_COUNT" >"$D/echo.log" 2>&1
			echo "DD: echo rc=$? $(tail -n 1 "$D/echo.log")"
			[ -z "$RELAY" ] || relay_counters after-ping
		) &
		return
	fi
	_more=""
	[ "$1" != 7003 ] || _more=--from-first
	(
		argo-stream recv --fabric "$2" --port "$1" --count "$STREAM_COUNT" \
			--timeout 1800000 --linger-ms 1000 --progress-ms 100 $_more 2>&1 | while read -r l; do
			echo "DD: recv $1 $boot $l"
		done
		[ -z "$RELAY" ] || echo "DD-JSON after-$1 $boot $(argo-relayctl -s "$D/dd.ctl" status --json | tr -d '\n')"
	) &
}

if [ -f "$F/leaves" ]; then
	RELAY=""
	# One line per leaf: DOMID URI PORT...
	grep -v '^#' "$F/leaves" | while read -r domid uri port _rest; do
		[ -n "$domid" ] || continue
		key=${uri#*key=}
		key=${key%%&*}
		ch=${uri#link:serial:/dev/virtio-ports/}
		ch=${ch%%\?*}
		cp "$F/${key##*/}" "$key" && chmod 600 "$key" || echo "DD: no key ${key##*/} in $F"
		e2e_virtio_ports "$ch" 30 || echo "DD: no virtio-serial port $ch"
		service "$port" "$uri"
	done
	echo "DD: leaves started $boot: $(grep -cv '^#' "$F/leaves")"
	while :; do sleep 3600; done
fi

# ---- driver = relay: a fabric and a relay of its own ----
RELAY=yes
CH=org.argo.relay.0
mkdir -p /var/lib/argo-relay/dd
chmod 700 /var/lib/argo-relay/dd
cp "$F/dd.conf" "$F/dd-l0.key" /etc/argo-relay/ && chmod 600 /etc/argo-relay/dd.conf /etc/argo-relay/dd-l0.key ||
	echo "DD: no configuration in $F"
e2e_virtio_ports "$CH" 30 || echo "DD: no virtio-serial port $CH"

argo-simd -s "$D/dd.sock" -m -D "0=$D/dd-relay.sock" -D "5=$D/dom5.sock" -D "6=$D/dom6.sock" \
	-D "7=$D/dom7.sock" -D "8=$D/dom8.sock" -d --pidfile "$D/simd.pid" || echo "DD: argo-simd failed"

# The echo is done when it has sent its last reply; the relay, once it has
# read it from its ring.
relay_counters() {
	read_all() { [ "$(argo-relayctl -s "$D/dd.ctl" counters --json | sed -n 's/.*"local_rx":\([0-9]*\).*/\1/p')" -ge "$PING_COUNT" ]; }
	e2e_wait 30 read_all
	echo "DD-JSON $1 $boot $(argo-relayctl -s "$D/dd.ctl" status --json | tr -d '\n')"
}
for port in 7000 7001 7002 7003; do
	service "$port" "sim:$D/dom$((port - 6995)).sock"
done
argo-relayd -v /etc/argo-relay/dd.conf 2>>"$D/relay-dd.log" &
up() { argo-relayctl -s "$D/dd.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
if e2e_wait 120 up; then
	echo "DD: link up $boot"
else
	echo "DD: link not up within 120 s $boot: $(tail -n 1 "$D/relay-dd.log")"
fi
# Until the host destroys this VM.
while :; do sleep 3600; done
