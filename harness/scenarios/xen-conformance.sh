#!/bin/sh
# xen-conformance: the conformance suite on real Xen, cross-domain cases
# included, for the host to compare case by case with the same suite on sim
# (xen-conformance.host, run by harness/run-scenario.sh after the VM).
#
# dom0 (argo.ko loaded by /init) starts the toolstack and creates PV domUs
# from the image's own kernel and initramfs; each runs xen-conformance-peer:
# an argo-conformance-peer on its /dev/argo, served over a vchan
# (vchan-socket-proxy). As each comes up, dom0 puts its end of the vchan in
# /run/argo-peers/DOMID.sock. Then every case of `argo-conformance --list`
# runs in a process of its own, in list order:
#   argo-conformance --fabric xen: --peer remote:/run/argo-peers --case NAME
# the primary domain being dom0, the others the domUs (a case that needs two
# gets two). A case that closes a peer to see a domain die kills that domU
# with /run/argo-peers/kill (xl destroy), so there are enough domUs for the
# three teardown cases and the later domain of teardown-wildcard-survives.
# Each case is reported as conf-NAME; then the domUs' consoles (a kernel
# oops in one fails the run, as in dom0), and no page leaked by argo.ko.
#
# Kernel options: argo.peers=N domUs (default 4), argo.peer_mem=MiB each
# (default 256), argo.peer_timeout=SECONDS for one to come up (default 240).
. /usr/share/argo-e2e/lib.sh

if [ "$(e2e_role)" != dom0 ]; then
	e2e_case dom0 FAIL "runs in dom0 only (role $(e2e_role))"
	e2e_finish
fi
npeers=$(e2e_cmdline argo.peers) || npeers=4
peer_mem=$(e2e_cmdline argo.peer_mem) || peer_mem=256
peer_timeout=$(e2e_cmdline argo.peer_timeout) || peer_timeout=240
pool=/run/argo-peers
work=/run/argo-e2e/xc
mkdir -p "$pool" "$work"

if grep -q '^argo ' /proc/modules && [ -c /dev/argo ]; then
	e2e_case argo-ko PASS "$(dmesg | grep -i 'argo' | tail -n 1)"
else
	e2e_case argo-ko FAIL "argo.ko not loaded or no /dev/argo"
	e2e_finish
fi
if ! e2e_check xen-tools-start xen_tools_start; then
	e2e_finish
fi

# The kill hook remote_open's handles use when a case ends a domain.
cat >"$pool/kill" <<EOF
#!/bin/sh
# kill DOMID SOCKET: the domain dies (called by argo-conformance), and
# dom0's end of its vchan goes.
echo "xen-conformance: xl destroy \$1 (peer \$2)"
rm -f "\$2"
xl destroy "\$1"
rc=\$?
[ ! -f "$work/proxy-\$1.pid" ] || kill "\$(cat "$work/proxy-\$1.pid")" 2>/dev/null
exit \$rc
EOF
chmod +x "$pool/kill"

# ------------------------------------------------------------- the peers ----
created=""
for i in $(seq 1 "$npeers"); do
	cat >"$work/peer$i.cfg" <<CFG
name = "peer$i"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=xen-conformance-peer"
memory = $peer_mem
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
	if xl create "$work/peer$i.cfg" >"$work/create$i.log" 2>&1; then
		created="$created peer$i"
	else
		sed 's/^/    /' "$work/create$i.log"
	fi
done
if [ "$(echo $created | wc -w)" = "$npeers" ]; then
	e2e_case peers-create PASS "$npeers PV domUs of $peer_mem MiB:$created"
else
	e2e_case peers-create FAIL "created only:$created (of $npeers)"
fi

# Publishes a domU once its peer serves the vchan: dom0's end of it, a
# socket in $pool. In the background, while the cases run.
peer_state() { [ "$(xenstore-read "/local/domain/$1/data/argo-peer-state" 2>/dev/null)" = running ]; }
publish() {
	name=$1
	id=$(xl domid "$name" 2>/dev/null) || return 1
	if ! e2e_wait "$peer_timeout" peer_state "$id"; then
		echo "xen-conformance: $name (domain $id) did not serve within ${peer_timeout}s"
		return 1
	fi
	vchan-socket-proxy -m client "$id" "/local/domain/$id/data/argo-peer" \
		"$pool/$id.sock" >"$work/proxy-$id.log" 2>&1 &
	echo $! >"$work/proxy-$id.pid"
	echo "$name" >"$work/up-$id"
	echo "xen-conformance: $name is domain $id, on $pool/$id.sock"
}
for name in $created; do
	publish "$name" &
done

# ------------------------------------------------------------- the cases ----
for c in $(argo-conformance --list); do
	out=$(argo-conformance --fabric xen: --peer "remote:$pool" --peer-wait "$peer_timeout" \
		--mac-permissive yes --case "$c" 2>&1)
	echo "$out" | sed 's/^/    /'
	line=$(echo "$out" | grep -E "^(PASS|FAIL|SKIP) $c" | head -n 1)
	st=${line%% *}
	msg=${line#"$st $c"}
	case "$st" in
	PASS | FAIL | SKIP) e2e_case "conf-$c" "$st" "${msg#: }" ;;
	*) e2e_case "conf-$c" FAIL "no verdict: $(echo "$out" | tail -n 1)" ;;
	esac
done

# ----------------------------------------------------------- the ending ----
wait # for publish
n_up=$(ls "$work" | grep -c '^up-')
if [ "$n_up" = "$npeers" ]; then
	e2e_case peers-up PASS "$n_up domUs served"
else
	e2e_case peers-up FAIL "$n_up of $npeers domUs served"
fi
xl list
for name in $created; do
	if xl domid "$name" >/dev/null 2>&1; then
		xl destroy "$name"
	fi
done
for f in "$work"/proxy-*.pid; do
	[ -e "$f" ] || continue
	kill "$(cat "$f")" 2>/dev/null
done
# The domUs' consoles, markers renamed so the harness does not take them
# for dom0's (an oops there still matches its fatal patterns).
for name in $created; do
	tr -d '\r' <"/var/log/xen/console/guest-$name.log" 2>/dev/null |
		sed -e 's/^ARGO-E2E: /domU-E2E: /' -e "s/^/$name| /"
done
for f in "$work"/proxy-*.log; do
	[ -e "$f" ] || continue
	sed "s|^|$(basename "$f" .log)| |" "$f"
done
if dmesg | grep -q 'leaking'; then
	e2e_case no-leak FAIL "$(dmesg | grep leaking | head -n 1)"
else
	e2e_case no-leak PASS
fi
e2e_finish
