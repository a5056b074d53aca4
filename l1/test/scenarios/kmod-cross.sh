#!/bin/sh
# kmod-cross: argo.ko across domains: dom0 serves argo-echo, a PV domU
# (scenario kmod-domu) runs its own checks and pings dom0; a dom0 ring whose
# partner is the domU is unregistered after the domU died, without a leak;
# rings partnered with the domU, one held and one orphaned, are noticed gone
# after it died (ARGO_IOC_REREGISTER says ESRCH) and keep what it sent
# (argo-dev-test --vanish; the domU sends into them).
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
argo-dev-test --vanish "$domid" >/tmp/vanish.out 2>&1 &
vanish_pid=$!
vanish_ready() { grep -q '^READY' /tmp/vanish.out; }
e2e_wait 20 vanish_ready || e2e_case vanish-ready FAIL "argo-dev-test --vanish: $(tail -n 1 /tmp/vanish.out)"

e2e_collect_domu domu1 "$domu_timeout" "$domu_run"
kill $echo_pid $echo2_pid
wait $echo_pid $echo2_pid
cat /tmp/echo.log /tmp/echo2.log | sed 's/^/echo| /'
# The domU is gone: what became of the rings partnered with it.
kill -USR1 $vanish_pid
wait $vanish_pid
sed 's/^/    /' /tmp/vanish.out
grep -E '^(PASS|FAIL) [a-z0-9-]+: ' /tmp/vanish.out | while read -r st name msg; do
	e2e_case "vanish-${name%:}" "$st" "$msg"
done
if dmesg | grep -q 'leaking'; then
	e2e_case no-leak FAIL "$(dmesg | grep leaking | head -n 1)"
else
	e2e_case no-leak PASS
fi
dmesg | grep -i 'argo' | sed 's/^/dmesg| /'
e2e_finish
