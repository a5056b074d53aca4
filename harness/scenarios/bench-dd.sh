#!/bin/sh
# bench-dd: the driver domain of bench-headline, a plain Linux VM at L0,
# deployed as the headline's (driver-domain.sh): its own sim fabric `dd`
# with relay dd, linked over the virtio-serial port org.argo.relay.0 to
# relay l0 on the host (configuration and key from l0/argo-deploy). Its
# services: argo-bench server as domain 5, port 7000 (the far end of the
# headline path); argo-bench server on the port org.argo.bench.raw (the
# raw virtio-serial round trip, host <-> this VM). Then it answers the
# host on org.argo.bench.ctl (bench-agent.sh) until told to quit, and
# stays up until the VM is destroyed. Its console decides nothing
# (dd.markers = no): a failed step is told to the host ("problem").
. /usr/share/argo-e2e/lib.sh
BENCH_NAME=dd BENCH_RELAY_CTL=/run/argo-relay/dd.ctl
. /scenarios/bench-agent.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/dd
chmod 700 /etc/argo-relay /var/lib/argo-relay/dd
cp "$F/dd.conf" "$F/dd-l0.key" /etc/argo-relay/ && chmod 600 /etc/argo-relay/dd.conf /etc/argo-relay/dd-l0.key ||
	bench_problem "no configuration in $F"
e2e_virtio_ports "$CH" 30 && e2e_virtio_ports "$BENCH_CTL" 5 && e2e_virtio_ports "$BENCH_RAW" 5 ||
	bench_problem "virtio-serial ports: have $(cat /sys/class/virtio-ports/*/name 2>/dev/null | tr '\n' ' ')"

argo-simd -s "$D/dd.sock" -m -D "0=$D/dd-relay.sock" -D "5=$D/dom5.sock" -d --pidfile "$D/simd.pid" ||
	bench_problem "argo-simd did not start"
argo-bench server --fabric "sim:$D/dom5.sock" --port 7000 >"$D/server-argo.log" 2>&1 &
argo-bench server --listen "dev:/dev/virtio-ports/$BENCH_RAW" >"$D/server-raw.log" 2>&1 &
serving() { grep -q serving "$1"; }
e2e_wait 10 serving "$D/server-argo.log" || bench_problem "argo-bench server on dd: $(tail -n 1 "$D/server-argo.log")"
e2e_wait 10 serving "$D/server-raw.log" || bench_problem "raw virtio-serial server: $(tail -n 1 "$D/server-raw.log")"
argo-relayd -v /etc/argo-relay/dd.conf 2>>"$D/relay-dd.log" &
up() { argo-relayctl -s "$D/dd.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
if e2e_wait 120 up; then
	echo "DD: link up"
else
	bench_problem "relay dd: link not up within 120 s: $(tail -n 1 "$D/relay-dd.log")"
fi

facts() {
	bench_facts_common dd
	echo "dd_link $(argo-relayctl -s "$D/dd.ctl" links 2>/dev/null | grep -E '^  up ' | head -n 1 | tr -s ' ')"
}
bench_agent facts
echo "DD: the host is done ($BENCH_RUNS runs, $BENCH_FAILED failed)"
# Until the runner destroys this VM.
while :; do sleep 3600; done
