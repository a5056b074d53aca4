#!/bin/sh
# smoke: the image boots and Xen with Argo is reachable from user space.
# Runs in dom0 or in a domU (domu-smoke boots a domU with it); as a plain
# VM without Xen, the Xen cases fail.
. /usr/share/argo-e2e/lib.sh

role=$(e2e_role)
echo "kernel $(uname -r), role $role, Xen tools $XEN_TOOLS_VERSION"
e2e_case kernel PASS "$(uname -r)"

if [ -e /proc/xen/capabilities ] || [ -d /dev/xen ]; then
	e2e_case xen-present PASS "role $role"
else
	e2e_case xen-present FAIL "neither /proc/xen/capabilities nor /dev/xen"
fi

# Linux (since the 2025 "restrict usage in unprivileged domU" fix, in
# Debian's 6.1 too) refuses arbitrary privcmd hypercalls in a domU with
# EPERM: there only the Argo module can make them.
restricted=""
if [ "$role" = domU ] && [ "$(argo-hcall version)" = "error 1 (Operation not permitted)" ]; then
	restricted="privcmd hypercalls are refused (EPERM) in an unprivileged domU"
fi

if [ -c /dev/xen/privcmd ]; then
	e2e_case privcmd-device PASS
	if [ -n "$restricted" ]; then
		e2e_case xen-version SKIP "$restricted"
		e2e_case argo-hypercall SKIP "$restricted"
	elif v=$(argo-hcall version); then
		e2e_case xen-version PASS "Xen $v (xen_version hypercall through privcmd)"
	else
		e2e_case xen-version FAIL "$v"
	fi
	# Argo's notify with no arguments: 0 when Argo is on, EOPNOTSUPP (95)
	# when Xen runs without argo=1 or was built without CONFIG_ARGO.
	if [ -z "$restricted" ]; then
		r=$(argo-hcall argo-notify)
		case "$r" in
		0) e2e_case argo-hypercall PASS "argo_op notify returned 0" ;;
		"error 95 "*) e2e_case argo-hypercall FAIL "Argo is off in Xen: $r" ;;
		*) e2e_case argo-hypercall FAIL "$r" ;;
		esac
	fi
else
	e2e_case privcmd-device FAIL "no /dev/xen/privcmd (xen-privcmd not loaded?)"
	e2e_case xen-version SKIP "no privcmd"
	e2e_case argo-hypercall SKIP "no privcmd"
fi

if [ -f /etc/argo-e2e/argo-ko ]; then
	if grep -q '^argo ' /proc/modules; then
		e2e_case argo-ko PASS "argo.ko loaded"
	else
		e2e_case argo-ko FAIL "argo.ko is in the image but not loaded"
	fi
else
	e2e_case argo-ko SKIP "image built without argo.ko"
fi
e2e_finish
