#!/bin/sh
# kmod: argo.ko in dom0: /dev/argo, the conformance suite over xen:, the
# device's own hostile-input test, persistent rings and send tags across
# SIGKILLed processes, unload (with an orphaned ring left) and reload.
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

# argo-dev-test --durable: persistent rings, adopt and send tags, with
# processes SIGKILLed while they hold rings; each of its named checks
# ("PASS NAME: ...") as a case durable-NAME.
durable_cases() {
	out=/run/argo-e2e/durable.out
	argo-dev-test --durable >"$out" 2>&1
	rc=$?
	sed 's/^/    /' "$out"
	grep -E '^(PASS|FAIL) [a-z0-9-]+: ' "$out" | while read -r st name msg; do
		e2e_case "durable-${name%:}" "$st" "$msg"
	done
	if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$out"; then
		e2e_case durable-run FAIL "rc=$rc: $(tail -n 1 "$out")"
	fi
}

if grep -q '^argo ' /proc/modules; then
	e2e_case argo-ko-loaded PASS
else
	e2e_case argo-ko-loaded FAIL "not loaded"
fi
dmesg | grep -i argo | sed 's/^/    /'
if [ -c /dev/argo ]; then
	e2e_case dev-argo PASS "$(ls -l /dev/argo)"
else
	e2e_case dev-argo FAIL "no /dev/argo"
fi
grep -i argo /proc/interrupts | sed 's/^/    /'
conformance_cases
e2e_check dev-test argo-dev-test
durable_cases
grep -i argo /proc/interrupts | sed 's/^/    /'
# The unload must unregister a ring left orphaned by a killed process.
e2e_check orphan-left argo-dev-test --leave-orphan
e2e_check rmmod rmmod argo
e2e_check insmod insmod "$(cat /etc/argo-e2e/argo-ko)"
e2e_check orphan-gone-after-reload argo-dev-test --orphan-gone
if dmesg | grep -qE 'leaking|WARNING'; then
	e2e_case unload-no-leak FAIL "$(dmesg | grep -E 'leaking|WARNING' | head -n 1)"
else
	e2e_case unload-no-leak PASS
fi
e2e_check dev-test-again argo-dev-test
e2e_check ping-self sh -c 'argo-echo --fabric xen: --port 7000 & p=$!; sleep 1; argo-ping --fabric xen: --to 0:7000 --count 200 --size 100 --timeout 5000; r=$?; kill $p; exit $r'
dmesg | tail -n 20 | sed 's/^/dmesg| /'
e2e_finish
