#!/bin/sh
# kmod-off: Xen booted with argo=0: argo.ko loads, says so, and every
# operation answers EOPNOTSUPP. (Xen's last argo= option wins.)
. /usr/share/argo-e2e/lib.sh
if dmesg | grep -q 'Argo disabled'; then
	e2e_case load-warns PASS "$(dmesg | grep 'Argo disabled')"
else
	e2e_case load-warns FAIL "$(dmesg | grep argo | tail -n 1)"
fi
out=$(argo-conformance --fabric xen: --case register-basic 2>&1)
echo "$out"
case "$out" in
*EOPNOTSUPP*|*"Operation not supported"*) e2e_case eopnotsupp PASS ;;
*) e2e_case eopnotsupp FAIL "$out" ;;
esac
e2e_finish
