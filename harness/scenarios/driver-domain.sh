#!/bin/sh
# driver-domain: the driver domain of xen-l1-driver-at-l0, a plain Linux VM
# at L0 (no Xen). Until the leaf endpoint (libargo's link: backend) exists,
# it is reached as its own level: an argo-simd fabric `dd` with its relay,
# linked over the virtio-serial port org.argo.relay.0 to relay l0 on the
# host (configuration and key from l0/argo-deploy, in /etc/argo-e2e/files).
# Its services, started before the relay so that their rings exist when
# traffic comes: argo-echo as domain 5 port 7000, argo-stream receivers as
# domains 6, 7, 8 on ports 7001, 7002, 7003. Lines "DD: ..." and
# "DD-JSON WHEN {...}" (the relay's counters) are for the host. Runs until
# the VM is destroyed (the host destroys and starts it once mid-stream).
. /usr/share/argo-e2e/lib.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
[ -f "$F/phases" ] && . "$F/phases"
PING_COUNT=${PING_COUNT:-10000}
STREAM_COUNT=${STREAM_COUNT:-3000}
boot=$(cat /proc/sys/kernel/random/boot_id | cut -c1-8)
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/dd
chmod 700 /etc/argo-relay /var/lib/argo-relay/dd
cp "$F/dd.conf" "$F/dd-l0.key" /etc/argo-relay/ && chmod 600 /etc/argo-relay/dd.conf /etc/argo-relay/dd-l0.key ||
	echo "DD: no configuration in $F"
e2e_virtio_ports "$CH" 30 || echo "DD: no virtio-serial port $CH"

argo-simd -s "$D/dd.sock" -m -D "0=$D/dd-relay.sock" -D "5=$D/dom5.sock" -D "6=$D/dom6.sock" \
	-D "7=$D/dom7.sock" -D "8=$D/dom8.sock" -d --pidfile "$D/simd.pid" || echo "DD: argo-simd failed"

(
	argo-echo --fabric "sim:$D/dom5.sock" --port 7000 --count "$PING_COUNT" >"$D/echo.log" 2>&1
	echo "DD: echo rc=$? $(tail -n 1 "$D/echo.log")"
	# The echo is done when it has sent its last reply; the relay, once it
	# has read it from its ring.
	read_all() { [ "$(argo-relayctl -s "$D/dd.ctl" counters --json | sed -n 's/.*"local_rx":\([0-9]*\).*/\1/p')" -ge "$PING_COUNT" ]; }
	e2e_wait 30 read_all
	echo "DD-JSON after-ping $boot $(argo-relayctl -s "$D/dd.ctl" status --json | tr -d '\n')"
) &
# The stream of 7003 goes on while this VM is destroyed and started again:
# its receiver in the new boot starts at the first message it gets.
for port in 7001 7002 7003; do
	more=""
	[ "$port" != 7003 ] || more=--from-first
	(
		argo-stream recv --fabric "sim:$D/dom$((port - 6995)).sock" --port "$port" --count "$STREAM_COUNT" \
			--timeout 1800000 --linger-ms 1000 --progress-ms 100 $more 2>&1 | while read -r l; do
			echo "DD: recv $port $boot $l"
		done
		echo "DD-JSON after-$port $boot $(argo-relayctl -s "$D/dd.ctl" status --json | tr -d '\n')"
	) &
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
