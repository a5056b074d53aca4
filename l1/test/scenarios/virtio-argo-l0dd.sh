#!/bin/sh
# virtio-argo-l0dd: the driver domain of virtio-argo-l1-to-l0, a plain
# Linux VM at L0 (no Xen). As in xen-l1-driver-at-l0 (driver-domain.sh), it
# is reached as its own level: an argo-simd fabric `dd` whose relay links
# over the virtio-serial port org.argo.relay.0 to relay l0 on the host
# (configuration and key from l0/argo-deploy, in /etc/argo-e2e/files). On
# that fabric argo-vdevd is domain 5 and serves its devices to domain 0,
# the relay, which stands for every remote frontend (an L1 guest's messages
# arrive from its proxy ports); then virtio-argo-dd does the rest, as in a
# driver-domain domU. Each device's ring is 256 KiB: what the guest sends
# (at most half of it) fits the relays' 256 KiB rings.
# e2e-helper: the L0 driver domain of virtio-argo-l1-to-l0
. /usr/share/argo-e2e/lib.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/dd
chmod 700 /etc/argo-relay /var/lib/argo-relay/dd
if cp "$F/dd.conf" "$F/dd-l0.key" /etc/argo-relay/ &&
	chmod 600 /etc/argo-relay/dd.conf /etc/argo-relay/dd-l0.key; then
	e2e_case dd-config PASS "from l0/argo-deploy"
else
	e2e_case dd-config FAIL "no $F/dd.conf or key (the setup's l0/argo-deploy writes them)"
	e2e_finish
fi
e2e_check virtio-serial e2e_virtio_ports "$CH" 30 || e2e_finish
e2e_check dd-fabric argo-simd -s "$D/dd.sock" -m -D "0=$D/dd-relay.sock" -D "5=$D/dom5.sock" \
	-d --pidfile "$D/simd.pid" || e2e_finish
argo-relayd -v /etc/argo-relay/dd.conf 2>>"$D/relay-dd.log" &
up() { argo-relayctl -s "$D/dd.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
if e2e_wait 120 up; then
	e2e_case dd-link-up PASS
else
	e2e_case dd-link-up FAIL "not up within 120 s: $(tail -n 1 "$D/relay-dd.log")"
fi
# The relay's counters at the end (virtio-argo-dd ends by e2e_finish).
trap 'e2e_json counters-dd argo-relayctl -s "$D/dd.ctl" status --json' EXIT
VDEV_FABRIC=sim:$D/dom5.sock VDEV_FRONTEND=0 VDEV_RING_LEN=256K
export VDEV_FABRIC VDEV_FRONTEND VDEV_RING_LEN
. /scenarios/virtio-argo-dd.sh
