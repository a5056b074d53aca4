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

glog=/var/log/xen/console/guest-domu1.log
domu_done() { grep -q '^ARGO-E2E: RESULT' "$glog"; }
if e2e_wait "$domu_timeout" domu_done; then
	finished=1
else
	finished=0
fi
# The domU's console, its markers renamed so the harness does not take
# them for dom0's.
tr -d '\r' <"$glog" 2>/dev/null | sed -e 's/^ARGO-E2E: /domU-E2E: /' -e 's/^/domU| /'

if grep -q '^ARGO-E2E: BEGIN' "$glog" 2>/dev/null; then
	e2e_case domu-boot PASS "domain $domid reached /init"
else
	e2e_case domu-boot FAIL "no BEGIN on the domU console within ${domu_timeout}s"
fi
# Each of the domU scenario's cases, as a case of this scenario.
tr -d '\r' <"$glog" 2>/dev/null | grep '^ARGO-E2E: CASE ' | while read -r _ _ n st msg; do
	e2e_case "domu-$n" "$st" "$msg"
done
if [ "$finished" = 1 ]; then
	rc=$(tr -d '\r' <"$glog" | sed -n 's/^ARGO-E2E: RESULT rc=\([0-9]*\).*/\1/p' | head -n 1)
	if [ "$rc" = 0 ]; then
		e2e_case domu-result PASS
	else
		e2e_case domu-result FAIL "domU scenario $domu_run: rc=$rc"
	fi
	gone() { ! xl domid domu1 >/dev/null 2>&1; }
	if e2e_wait 30 gone; then
		e2e_case domu-shutdown PASS
	else
		e2e_case domu-shutdown FAIL "domu1 still exists 30s after its RESULT"
		xl list
		xl destroy domu1
	fi
else
	e2e_case domu-result FAIL "no RESULT within ${domu_timeout}s"
	xl list
	xl destroy domu1
fi
e2e_finish
