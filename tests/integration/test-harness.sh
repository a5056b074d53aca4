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
[ "$out" = "$(printf 'xen-conformance\nrelay-vsock\nvirtio-argo-xen\nvirtio-argo-l1-to-l0\nxen-l1-driver-at-l0')" ]
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
# Channels given as sockets (plain QEMU): no libvirt step. Leaf mode (the
# default): one socket per driver-domain domain.
socks=(--l1-socket "$T/l1.sock" --driver-socket "$T/dd5.sock" --driver-socket "$T/dd6.sock")
two=(--export 7000=5:7000 --export 7001=6:7001)
out=$(dep --dry-run "${socks[@]}" "${two[@]}" 2>&1)
rc=$?
[ $rc = 0 ] && [ ! -e "$T/etc" ] && [ ! -e "$T/run" ] && grep -q '7001 = l0:6:7001' <<<"$out" &&
	grep -q 'rule = allow src l1 dst l0:6:7001' <<<"$out" && grep -q '| \[link dd6\]' <<<"$out" &&
	grep -q "| connect = $T/dd6.sock" <<<"$out" && grep -q "| leaf = sim:$T/run/l0-dom6.sock" <<<"$out" &&
	grep -q -- "-D 6=$T/run/l0-dom6.sock" <<<"$out" &&
	grep -q '| 6 link:serial:/dev/virtio-ports/org.argo.leaf.6?key=/etc/argo-relay/dd6.key&hvid=l0&name=dd6 7001$' <<<"$out"
result deploy-dry-run-changes-nothing $? "rc=$rc, $T/etc made: $([ -e "$T/etc" ] && echo yes || echo no)"

out=$(dep --dry-run --driver-mode relay --l1-socket "$T/l1.sock" --driver-socket "$T/dd.sock" "${two[@]}" 2>&1)
rc=$?
[ $rc = 0 ] && [ ! -e "$T/etc" ] && grep -q '7001 = dd:6:7001' <<<"$out" &&
	grep -q 'rule = allow src l1 dst dd:6:7001' <<<"$out" && grep -q '| \[link dd\]' <<<"$out" &&
	! grep -q 'leaf =' <<<"$out"
result deploy-dry-run-relay-mode $? "rc=$rc: $(tail -n 1 <<<"$out")"

# bad_dep NAME EXPECTED-MESSAGE-PART ARGS...: one error line, exit 1, nothing made.
bad_dep() {
	local name=$1 want=$2
	shift 2
	out=$(dep "$@" 2>&1)
	rc=$?
	[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q -- "$want" <<<"$out" && [ ! -e "$T/etc" ]
	result "$name" $? "rc=$rc: $out"
}
bad_dep deploy-bad-export 'export 70a' "${socks[@]}" --export 70a
bad_dep deploy-bad-mode 'driver-mode hybrid: leaf or relay' "${socks[@]}" --driver-mode hybrid
bad_dep deploy-domid-0 "export 7000=0:7000: a domid is 1 to 32751 (0 is the relay's)" "${socks[@]}" --export 7000=0:7000
bad_dep deploy-leaf-sockets 'leaf mode: 2 leaves (domains 5 6) need 2 --driver-socket' \
	--l1-socket "$T/l1.sock" --driver-socket "$T/dd5.sock" "${two[@]}"
bad_dep deploy-relay-sockets 'relay mode: one --driver-socket, 2 given' --driver-mode relay "${socks[@]}"

out=$(LIBVIRT_DEFAULT_URI="qemu+unix:///system?socket=$T/no-libvirt.sock" dep --l1 a --driver b 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q 'libvirtd does not answer' <<<"$out" && [ ! -e "$T/etc" ]
result deploy-libvirtd-down $? "rc=$rc: $out"

out=$(dep --l1 same --driver same 2>&1)
rc=$?
[ $rc = 1 ] && grep -q 'are the same domain' <<<"$out"
result deploy-same-domain $? "rc=$rc: $out"

# For real, on sockets: what QEMU would serve, a chardev socket (which the
# relay connects to) whose far end is the guest's port (a pty here).
# Configurations valid, keys 0600, the L0 relay up, and each leaf's line of
# DIR/dd/leaves works: argo-echo on domain 5's, argo-stream on domain 6's,
# with their keys, reached from L0's fabric at the domids deployed.
for d in 5 6; do
	socat "UNIX-LISTEN:$T/dd$d.sock" "PTY,link=$T/port$d,raw,echo=0" 2>>"$T/socat.log" &
	PIDS="$PIDS $!"
done
socat "UNIX-LISTEN:$T/l1.sock" "PTY,link=$T/port-l1,raw,echo=0" 2>>"$T/socat.log" &
PIDS="$PIDS $!"
# there PATH...: waits up to 5 s until every PATH exists.
there() {
	local n=50 p
	for p in "$@"; do
		while ! [ -e "$p" ]; do
			n=$((n - 1))
			[ $n -gt 0 ] || return 1
			sleep 0.1
		done
	done
}
there "$T/dd5.sock" "$T/dd6.sock" "$T/l1.sock"
out=$(dep "${socks[@]}" "${two[@]}" 2>&1)
rc=$?
PIDS="$PIDS $(cat "$T/etc/l0/argo-relayd.pid" "$T/etc/l0/argo-simd.pid" 2>/dev/null | tr '\n' ' ')"
modes=$(stat -c '%a' "$T"/etc/*/*.key "$T"/etc/*/*.conf "$T/etc/dd/leaves" | sort -u | tr '\n' ' ')
leaf_uri() { # DOMID: its URI, the port and key as they are here
	sed -n "s/^$1 \([^ ]*\) .*/\1/p" "$T/etc/dd/leaves" |
		sed "s#/dev/virtio-ports/org.argo.leaf.$1#$T/port$1#; s#/etc/argo-relay#$T/etc/dd#; s#\$#\&timeout=10000#"
}
why=""
if [ $rc = 0 ] && [ "$modes" = "600 " ] && "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null &&
	"$BIN/argo-relayd" --check-config "$T/etc/l1/l1.conf" >/dev/null 2>&1 &&
	cmp -s "$T/etc/l0/dd5.key" "$T/etc/dd/dd5.key" && [ "$(stat -c %s "$T/etc/l0/dd6.key")" = 32 ] &&
	! cmp -s "$T/etc/l0/dd5.key" "$T/etc/l0/dd6.key" && there "$T/port5" "$T/port6"; then
	"$BIN/argo-echo" --fabric "$(leaf_uri 5)" --port 7000 >"$T/echo.log" 2>&1 &
	PIDS="$PIDS $!"
	"$BIN/argo-stream" recv --fabric "$(leaf_uri 6)" --port 7001 --count 500 --timeout 10000 >"$T/recv.log" 2>&1 &
	rpid=$!
	wait_line() { local n=100; until grep -q "$2" "$1" 2>/dev/null; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.1; done; }
	if ! wait_line "$T/echo.log" "domain 5 serving port 7000" || ! wait_line "$T/recv.log" "receiving"; then
		why="the leaves did not come up: $(tail -n 1 "$T/echo.log"); $(tail -n 1 "$T/recv.log")"
	elif ! "$BIN/argo-ping" --fabric "sim:$T/run/l0.sock" --to 5:7000 --count 300 --size 16 --max-size 65536 \
		--timeout 10000 >"$T/ping.log" 2>&1; then
		why="ping: $(tail -n 1 "$T/ping.log")"
	elif ! "$BIN/argo-stream" send --fabric "sim:$T/run/l0.sock" --to 6:7001 --count 500 --timeout 10000 \
		>"$T/send.log" 2>&1 || ! wait "$rpid"; then
		why="stream: $(tail -n 1 "$T/send.log"); $(tail -n 1 "$T/recv.log")"
	fi
else
	why="rc=$rc, file modes: $modes; $(tail -n 2 <<<"$out")"
fi
[ -z "$why" ]
result deploy-leaves-on-sockets $? "$why"
[ -n "$why" ] || echo "    $(tail -n 1 "$T/ping.log"); $(tail -n 1 "$T/recv.log")"

out=$(dep "${socks[@]}" "${two[@]}" 2>&1)
rc=$?
[ $rc = 1 ] && grep -q 'already answers' <<<"$out"
result deploy-relay-running $? "rc=$rc: $out"

out=$(l0/argo-deploy stop --dir "$T/etc" 2>&1)
sleep 0.2
! "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null 2>&1 && grep -q 'stopped 2 daemon' <<<"$out"
result deploy-stop $? "$out"

chmod 644 "$T/etc/dd/dd6.key"
out=$(dep "${socks[@]}" "${two[@]}" 2>&1)
rc=$?
[ $rc = 1 ] && [ "$(wc -l <<<"$out")" = 1 ] && grep -q "dd6.key has mode 644" <<<"$out" &&
	! "$BIN/argo-relayctl" -s "$T/run/l0.ctl" status >/dev/null 2>&1
result deploy-loose-key $? "rc=$rc: $out"

# Relay mode for real: its three configurations valid.
out=$(l0/argo-deploy --bin "$BIN" --dir "$T/etc2" --run "$T/run2" --driver-mode relay --no-start \
	--l1-socket "$T/l1.sock" --driver-socket "$T/dd.sock" "${two[@]}" 2>&1)
rc=$?
valid() { local c; for c in "$@"; do "$BIN/argo-relayd" --check-config "$T/etc2/$c" >/dev/null 2>&1 || return 1; done; }
[ $rc = 0 ] && valid l0/l0.conf l1/l1.conf dd/dd.conf && [ "$(stat -c %a "$T/etc2/dd/dd-l0.key")" = 600 ]
result deploy-relay-mode-configs $? "rc=$rc: $(tail -n 1 <<<"$out")"
results_summary
