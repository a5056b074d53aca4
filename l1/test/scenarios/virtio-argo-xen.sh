#!/bin/sh
# virtio-argo-xen: a PV domU with no vif and no vbd gets /dev/vda and a
# virtiofs mount from a driver-domain domU, through virtio-argo
# (docs/virtio-argo.md): argo-vdevd with qemu-storage-daemon and virtiofsd
# in the driver domain (helper virtio-argo-dd), virtio_argo.ko with the
# unmodified virtio_blk and virtiofs drivers in the guest (helper
# virtio-argo-guest). dom0 only creates the two domains and collects their
# consoles. The guest is created paused so that the driver domain can be
# told its domain id (its devices accept that domain only); the guest
# learns the driver domain's id from xenstore (data/virtio-argo-domid).
. /usr/share/argo-e2e/lib.sh

if [ "$(e2e_role)" != dom0 ]; then
	e2e_case dom0 FAIL "runs in dom0 only (role $(e2e_role))"
	e2e_finish
fi
# The guest's whole run: about 90 s on a quiet 2-core TCG host
# (docs/virtio-argo.md); a machine loaded 4x stays within 600 s.
timeout=$(e2e_cmdline argo.vargo_timeout) || timeout=600
if ! e2e_check xen-tools-start xen_tools_start; then
	e2e_finish
fi

# domU NAME RUN MEMORY EXTRA: an xl configuration, no vif, no vbd.
domu_cfg() {
	cat <<CFG
name = "$1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=$2 $4"
memory = $3
vcpus = 2
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
}
e2e_phase domains
domu_cfg vguest virtio-argo-guest 384 "" >/tmp/vguest.cfg
if ! e2e_check guest-create xl create -p /tmp/vguest.cfg; then
	e2e_finish
fi
gid=$(xl domid vguest)
# The driver domain waits for the guest as long as we do.
domu_cfg vdd virtio-argo-dd 640 "argo.vdev_frontend=$gid argo.vargo_timeout=$timeout" >/tmp/vdd.cfg
if ! e2e_check dd-create xl create /tmp/vdd.cfg; then
	xl destroy vguest
	e2e_finish
fi
did=$(xl domid vdd)
echo "guest is domain $gid, driver domain $did"
# data/ of a domain's home is the domain's own to read.
e2e_check tell-guest xenstore-write "/local/domain/$gid/data/virtio-argo-domid" "$did"
# Both consoles as they come: a hang shows where it is.
E2E_STREAMED=1
e2e_stream_domu vguest guest
e2e_stream_domu vdd dd
e2e_check guest-unpause xl unpause vguest

e2e_phase guest
e2e_collect_domu vguest "$timeout" virtio-argo-guest guest
# The driver domain ends once the guest told it (through virtiofs) it is done.
e2e_phase dd
e2e_collect_domu vdd 300 virtio-argo-dd dd
e2e_phase end
e2e_finish
