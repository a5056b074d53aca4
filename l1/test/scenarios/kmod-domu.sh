#!/bin/sh
# kmod-domu: argo.ko inside a PV or PVH domU: its domid from xenstore, the
# conformance suite on itself, the device test, a ping to dom0's echo.
# e2e-helper: a domU of kmod-cross and kmod-pvh (it pings dom0, so it needs that dom0)
. /usr/share/argo-e2e/lib.sh

# Every conformance case as a case of this scenario, each in a process of
# its own. register-too-many goes first: Xen counts a same-size
# re-registration as one more ring and never gives it back (argo.c
# ring_count++ on re-register), so once register-reregister-same-size has
# run in this domain, only 127 rings remain.
conformance_cases() {
	for c in register-too-many $(argo-conformance --list | grep -vx register-too-many); do
		out=$(argo-conformance --fabric xen: --peer xen: --mac-permissive yes --case "$c" 2>&1)
		line=$(echo "$out" | grep -E "^(PASS|FAIL|SKIP) $c" | head -n 1)
		st=${line%% *}
		msg=${line#"$st $c"}
		case "$st" in
		PASS | FAIL | SKIP) e2e_case "conf-$c" "$st" "${msg#: }" ;;
		*) e2e_case "conf-$c" FAIL "no verdict: $(echo "$out" | tail -n 1)" ;;
		esac
	done
}
echo "role $(e2e_role)"
if grep -q '^argo ' /proc/modules && [ -c /dev/argo ]; then
	e2e_case argo-ko PASS
else
	e2e_case argo-ko FAIL "no module or no /dev/argo"
fi
dmesg | grep -i argo | sed 's/^/    /'
conformance_cases
e2e_check dev-test argo-dev-test
e2e_check dev-test-durable argo-dev-test --durable
e2e_check ping-dom0 argo-ping --fabric xen: --to 0:7000 --count 100 --size 1000 --timeout 10000
# One message each into two dom0 rings partnered with this domain (kmod-cross
# checks them once we are gone: argo-dev-test --vanish).
e2e_check send-vanish-held argo-stream send --fabric xen: --to 0:8200 --count 1 \
	--min-size 16 --max-size 16
e2e_check send-vanish-orphan argo-stream send --fabric xen: --to 0:8201 --count 1 \
	--min-size 16 --max-size 16
e2e_finish
