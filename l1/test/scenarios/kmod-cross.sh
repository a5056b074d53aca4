#!/bin/sh
# kmod-cross: argo.ko across domains: dom0 serves argo-echo, a PV domU
# (scenario kmod-domu) runs its own checks and pings dom0; a dom0 ring whose
# partner is the domU is unregistered after the domU died, without a leak.
# Based on harness/scenarios/domu-smoke.sh. Kernel options:
# argo.domu_run=NAME (default kmod-domu), argo.domu_timeout=SECONDS (180).
# kmod-pvh runs this same script with KMOD_DOMU_TYPE=pvh.
. /usr/share/argo-e2e/lib.sh
domu_type=${KMOD_DOMU_TYPE:-pv}

if [ "$(e2e_role)" != dom0 ]; then
	e2e_case dom0 FAIL "runs in dom0 only (role $(e2e_role))"
	e2e_finish
fi
domu_run=$(e2e_cmdline argo.domu_run) || domu_run=kmod-domu
domu_timeout=$(e2e_cmdline argo.domu_timeout) || domu_timeout=${KMOD_DOMU_TIMEOUT:-180}

if ! e2e_check xen-tools-start xen_tools_start; then
	e2e_case domu-create SKIP "no toolstack"
	e2e_finish
fi
e2e_check xl-info xl info || true
e2e_check xl-list xl list || true
if [ "$domu_type" != pv ] && ! xl info | grep -q '^virt_caps.* hvm'; then
	e2e_case domu-create SKIP "Xen offers no hvm (virt_caps: $(xl info | sed -n 's/^virt_caps *: //p'))"
	e2e_finish
fi

cat >/tmp/domu1.cfg <<CFG
name = "domu1"
type = "$domu_type"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=$domu_run"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
argo-echo --fabric xen: --port 7000 >/tmp/echo.log 2>&1 &
echo_pid=$!
if ! e2e_check domu-create xl create /tmp/domu1.cfg; then
	e2e_finish
fi
domid=$(xl domid domu1 2>/dev/null)
echo "domu1 is domain ${domid:-?}"
argo-echo --fabric xen: --port 7002 --partner "$domid" >/tmp/echo2.log 2>&1 &
echo2_pid=$!

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
kill $echo_pid $echo2_pid
sleep 1
cat /tmp/echo.log /tmp/echo2.log | sed 's/^/echo| /'
if dmesg | grep -q 'leaking'; then
	e2e_case no-leak FAIL "$(dmesg | grep leaking | head -n 1)"
else
	e2e_case no-leak PASS
fi
dmesg | grep -i 'argo' | sed 's/^/dmesg| /'
e2e_finish
