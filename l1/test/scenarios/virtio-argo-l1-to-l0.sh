#!/bin/sh
# virtio-argo-l1-to-l0, the L1 dom0 part (harness/scenarios.cfg): the
# virtio-argo-xen guest again, now a domU of an L1 Xen whose driver domain
# is an L0 VM (virtio-argo-l0dd), reached through the relays as in the
# headline: relay l1 here on Xen's Argo (argo.ko) =serial=> relay l0 on the
# host =serial=> relay dd in the driver domain. Relay l1 imports the
# driver domain's bus port and device ports at the same port numbers of
# dom0, so the guest loads virtio_argo.ko with domid=0 and knows nothing
# else of the path. Configuration and key from the host's l0/argo-deploy
# (in /etc/argo-e2e/files). "ARGO-E2E: JSON counters-l1" is this relay's
# counters at the end.
. /usr/share/argo-e2e/lib.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/l1
chmod 700 /etc/argo-relay /var/lib/argo-relay/l1
# The guest's whole run: about 2 minutes on a quiet 2-core TCG host
# (docs/virtio-argo.md); a machine loaded 4x stays within 600 s.
timeout=$(e2e_cmdline argo.vargo_timeout) || timeout=600

if cp "$F/l1.conf" "$F/l1-l0.key" /etc/argo-relay/ &&
	chmod 600 /etc/argo-relay/l1.conf /etc/argo-relay/l1-l0.key; then
	e2e_case l1-config PASS "from l0/argo-deploy: $(grep -c . /etc/argo-relay/l1.conf) lines"
else
	e2e_case l1-config FAIL "no $F/l1.conf or key (the setup's l0/argo-deploy writes them)"
	e2e_finish
fi
e2e_check virtio-serial e2e_virtio_ports "$CH" 30 || e2e_finish
e2e_phase relay
argo-relayd -v /etc/argo-relay/l1.conf 2>>"$D/relay-l1.log" &
relay=$!
up() { argo-relayctl -s "$D/l1.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
if e2e_wait 180 up; then
	e2e_case link-up PASS "relay l1 (pid $relay) linked to l0"
else
	e2e_case link-up FAIL "$(tail -n 1 "$D/relay-l1.log")"
	e2e_finish
fi
e2e_check xen-tools-start xen_tools_start || e2e_finish

# The guest: no vif, no vbd; its virtio devices are the driver domain's,
# behind this dom0's import ports. Messages it sends and gets must fit the
# relays' 256 KiB rings: at most 128 KiB each way.
cat >/tmp/vguest.cfg <<CFG
name = "vguest"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=virtio-argo-guest argo.vdev_domid=0 virtio_argo.max_rx=131072 virtio_argo.ring_kb=1024"
memory = 384
vcpus = 2
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
e2e_phase guest
e2e_check guest-create xl create /tmp/vguest.cfg || e2e_finish
E2E_STREAMED=1
e2e_stream_domu vguest guest
e2e_collect_domu vguest "$timeout" virtio-argo-guest guest
e2e_json counters-l1 argo-relayctl -s "$D/l1.ctl" status --json
kill "$relay" 2>/dev/null
e2e_phase end
e2e_finish
