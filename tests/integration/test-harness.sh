#!/bin/bash
# The harness's own parts that need no VM: the scenario table (harness/
# scenarios.cfg and its checks), `harness/e2e.sh list` and selection, and
# l0/argo-deploy's refusals and dry run (with channel sockets given, no
# libvirt; a libvirtd that does not answer). Prints PASS/FAIL lines and
# "N passed, N failed".
#
# Usage: tests/integration/test-harness.sh BIN_DIR
set -u
BIN=$(realpath -m "${1:-build/bin}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
. "$HERE/results.sh"
T=$(mktemp -d /tmp/argo-harness.XXXXXX)
PIDS=""
trap 'for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done; rm -rf "$T"' EXIT
cd "$ROOT"

# ---------------------------------------------------------------- table ----
out=$(bash -c '. harness/lib/cfg.sh; cfg_load harness/scenarios.cfg && cfg_select check' 2>&1)
[ "$out" = "$(printf 'xen-conformance\nrelay-vsock\nxen-l1-driver-at-l0')" ]
result cfg-table-check-group $? "group check: $out"

bad_cfg() { # NAME EXPECTED-MESSAGE-PART, the table on stdin
	cat >"$T/$1.cfg"
	out=$(bash -c ". harness/lib/cfg.sh; cfg_load $T/$1.cfg" 2>&1)
	rc=$?
	[ $rc != 0 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$2" <<<"$out"
	result "cfg-$1" $? "rc=$rc: $out"
}
bad_cfg unknown-key "$T/unknown-key.cfg:3: unknown key 'colour'" <<'EOF'
[a]
timeout = 60
colour = blue
EOF
bad_cfg vm-not-listed "no VM 'dd' in vms" <<'EOF'
[a]
vms = l1
dd.mem = 512
EOF
bad_cfg twice "scenario \[a\] given twice" <<'EOF'
[a]
[a]
EOF
bad_cfg bad-timeout "timeout must be a number" <<'EOF'
[a]
timeout = soon
EOF
bad_cfg bad-kind "l1.kind must be xen or linux" <<'EOF'
[a]
l1.kind = kvm
EOF
bad_cfg outside "outside any \[scenario\]" <<'EOF'
timeout = 5
EOF
bad_cfg bad-start "l1.start must be yes or no" <<'EOF'
[a]
l1.start = later
EOF

# A VM with a vhost-user-blk disk (V.vhost_user_blk): shared memory and
# the disk, on the QEMU command line and in libvirt's XML.
vmd=$T/vm-base
mkdir -p "$vmd"
printf 'VM_NAME=base\nVM_KIND=linux\nVM_BACKEND=qemu\nVM_ACCEL=tcg\nVM_DOMAIN=d\nVM_CHANNELS=""\nVM_VHOST_BLK=yes\n' >"$vmd/vm.env"
echo /k >"$vmd/kernel"; echo /i >"$vmd/initrd"; echo c >"$vmd/cmdline"; : >"$vmd/module-cmdline"
echo "512 2 qemu64" >"$vmd/size"
argv=$(bash -c ". harness/lib/vm.sh; vm_qemu_argv $vmd" | tr '\n' ' ')
xml=$(bash -c ". harness/lib/vm.sh; sed -i s/=qemu/=libvirt/ $vmd/vm.env; vm_libvirt_xml $vmd")
grep -q "memory-backend-memfd,id=mem0,size=512M,share=on -machine memory-backend=mem0 .*path=$vmd/vhost-user-blk.sock -device vhost-user-blk-pci" <<<"$argv" &&
	grep -q "<access mode='shared'/>" <<<"$xml" && grep -q "<disk type='vhostuser' device='disk'>" <<<"$xml" &&
	{ ! command -v virt-xml-validate >/dev/null ||
		{ echo "$xml" >"$vmd/domain.xml" && virt-xml-validate "$vmd/domain.xml" domain >/dev/null 2>&1; }; }
result vm-vhost-user-blk $? "argv: $argv"

out=$(harness/e2e.sh list headline 2>&1)
grep -q '^xen-l1-driver-at-l0 .*l1:xen/2048M dd:linux/512M' <<<"$out"
result e2e-list $? "$out"
out=$(harness/e2e.sh run no-such-scenario 2>&1)
rc=$?
[ $rc = 2 ] && grep -q "neither a scenario nor a group" <<<"$out"
result e2e-run-unknown $? "rc=$rc: $out"

# ---------------------------------------------------------- argo-deploy ----
dep() { l0/argo-deploy --bin "$BIN" --dir "$T/etc" --run "$T/run" "$@"; }
# Channels given as sockets (plain QEMU): no libvirt step.
socks=(--l1-socket "$T/l1.sock" --driver-socket "$T/dd.sock")
out=$(dep --dry-run "${socks[@]}" --export 7000=5:7000 --export 7001=6:7001 2>&1)
rc=$?
[ $rc = 0 ] && [ ! -e "$T/etc" ] && [ ! -e "$T/run" ] && grep -q '7001 = dd:6:7001' <<<"$out" &&
	grep -q 'rule = allow src l1 dst dd:6:7001' <<<"$out"
result deploy-dry-run-changes-nothing $? "rc=$rc, $T/etc made: $([ -e "$T/etc" ] && echo yes || echo no)"

out=$(dep "${socks[@]}" --export 70a 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'export 70a' <<<"$out" && [ ! -e "$T/etc" ]
result deploy-bad-export $? "rc=$rc: $out"

out=$(LIBVIRT_DEFAULT_URI="qemu+unix:///system?socket=$T/no-libvirt.sock" dep --l1 a --driver b 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'libvirtd does not answer' <<<"$out" && [ ! -e "$T/etc" ]
result deploy-libvirtd-down $? "rc=$rc: $out"

out=$(dep --l1 same --driver same 2>&1)
rc=$?
[ $rc = 1 ] && grep -q 'are the same domain' <<<"$out"
result deploy-same-domain $? "rc=$rc: $out"

# For real, on sockets: configurations valid, keys 0600, the L0 relay up.
out=$(dep "${socks[@]}" 2>&1)
rc=$?
PIDS="$(cat "$T/etc/l0/argo-relayd.pid" "$T/etc/l0/argo-simd.pid" 2>/dev/null | tr '\n' ' ')"
modes=$(stat -c '%a' "$T"/etc/*/*.key "$T"/etc/*/*.conf | sort -u | tr '\n' ' ')
[ $rc = 0 ] && [ "$modes" = "600 " ] && "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null &&
	"$BIN/argo-relayd" --check-config "$T/etc/l1/l1.conf" >/dev/null 2>&1 &&
	"$BIN/argo-relayd" --check-config "$T/etc/dd/dd.conf" >/dev/null 2>&1 &&
	cmp -s "$T/etc/l0/l1-l0.key" "$T/etc/l1/l1-l0.key" && [ "$(stat -c %s "$T/etc/l0/dd-l0.key")" = 32 ]
result deploy-on-sockets $? "rc=$rc, file modes: $modes; $(tail -n 2 <<<"$out")"

out=$(dep "${socks[@]}" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q 'already answers' <<<"$out"
result deploy-relay-running $? "rc=$rc: $out"

out=$(l0/argo-deploy stop --dir "$T/etc" 2>&1)
sleep 0.2
! "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null 2>&1 && grep -q 'stopped 2 daemon' <<<"$out"
result deploy-stop $? "$out"

chmod 644 "$T/etc/dd/dd-l0.key"
out=$(dep "${socks[@]}" 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "dd-l0.key has mode 644" <<<"$out" &&
	! "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null 2>&1
result deploy-loose-key $? "rc=$rc: $out"
results_summary
