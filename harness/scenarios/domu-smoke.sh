#!/bin/sh
# domu-smoke: dom0's toolstack works (xenstored, xenconsoled, xl info/list)
# and xl creates a PV domU from the same kernel and initramfs (the image
# carries them as /boot/vmlinuz and /boot/initrd-domu.gz) that runs the
# smoke scenario, whose console dom0 reads from xenconsoled's log.
# The domU's privcmd is unrestricted (Linux refuses arbitrary privcmd
# hypercalls in a domU by default), so smoke can try Argo from there too.
# Kernel options: argo.domu_run=NAME (the domU's scenario, default smoke),
# argo.domu_timeout=SECONDS (default 180).
. /usr/share/argo-e2e/lib.sh

if [ "$(e2e_role)" != dom0 ]; then
	e2e_case dom0 FAIL "runs in dom0 only (role $(e2e_role))"
	e2e_finish
fi
domu_run=$(e2e_cmdline argo.domu_run) || domu_run=smoke
domu_timeout=$(e2e_cmdline argo.domu_timeout) || domu_timeout=180

if ! e2e_check xen-tools-start xen_tools_start; then
	e2e_case domu-create SKIP "no toolstack"
	e2e_finish
fi
e2e_check xl-info xl info || true
e2e_check xl-list xl list || true

cat >/tmp/domu1.cfg <<CFG
name = "domu1"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=$domu_run xen_privcmd.unrestricted=1"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
if ! e2e_check domu-create xl create /tmp/domu1.cfg; then
	e2e_finish
fi
domid=$(xl domid domu1 2>/dev/null)
echo "domu1 is domain ${domid:-?}"

e2e_collect_domu domu1 "$domu_timeout" "$domu_run"
e2e_finish
