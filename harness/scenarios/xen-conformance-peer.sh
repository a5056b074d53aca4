#!/bin/sh
# xen-conformance-peer: a domU of the xen-conformance scenario. Serves its
# Argo domain to dom0's conformance suite: argo-conformance-peer on
# /dev/argo, listening on a UNIX socket that vchan-socket-proxy (server
# side) carries over a vchan at data/argo-peer in this domain's xenstore
# folder; data/argo-peer-state says "running" once it serves. Runs until
# dom0 destroys the domain; ends (and the domain powers off) only if the
# proxy does. Not a scenario of its own: `make e2e` leaves it out.
# e2e-helper: a domU of xen-conformance
. /usr/share/argo-e2e/lib.sh

if [ "$(e2e_role)" != domU ]; then
	e2e_case domU SKIP "a domU of xen-conformance: nothing to do as $(e2e_role)"
	e2e_finish
fi
if ! [ -c /dev/argo ]; then
	e2e_case argo-ko FAIL "no /dev/argo"
	e2e_finish
fi
sock=/run/argo-peer.sock
if ! argo-conformance-peer --fabric xen: --listen "$sock" -d --pidfile /run/argo-peer.pid; then
	e2e_case peer FAIL "argo-conformance-peer did not start"
	e2e_finish
fi
e2e_case peer PASS "domain $(xenstore-read domid 2>/dev/null), on $sock"
vchan-socket-proxy -m server -s data/argo-peer-state 0 data/argo-peer "$sock"
e2e_case vchan FAIL "vchan-socket-proxy ended (rc=$?)"
e2e_finish
