#!/bin/sh
# bench-headline, the L1 dom0 part: the headline's VMs and deployment
# (xen-l1-driver-at-l0) set up for latency benchmarks, which the host
# (harness/bench-vm.py, docs/benchmarks.md) drives over the port
# org.argo.bench.ctl (bench-agent.sh). Here:
#   relay l1 on xen:/dev/argo, its serial link to relay l0 on the host
#     (configuration and key from l0/argo-deploy, as in the headline);
#   argo-bench server --fabric xen: --port 7100: intra-Xen Argo, the
#     server of a domU's round trips to dom0 (no relay);
#   argo-bench server --listen dev:/dev/virtio-ports/org.argo.bench.raw:
#     the raw virtio-serial round trip, host <-> this VM, no Argo;
#   a PV domU "bench" (bench-domu.sh, as the headline's frontend: 256 MiB,
#     1 vCPU) running argo-bench when told, through xenstore
#     (data/bench-cmd; it says data/bench-done and prints its output on its
#     console, which xenconsoled logs here).
. /usr/share/argo-e2e/lib.sh
BENCH_NAME=dom0 BENCH_REMOTE=domu BENCH_RELAY_CTL=/run/argo-relay/l1.ctl
. /scenarios/bench-agent.sh

F=/etc/argo-e2e/files
D=/run/argo-relay
CH=org.argo.relay.0
mkdir -p /etc/argo-relay "$D" /var/lib/argo-relay/l1
chmod 700 /etc/argo-relay /var/lib/argo-relay/l1
PIDS=""
since() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" | awk '{ printf "%.1f", $2 - $1 }'; }

give_up() {
	for _p in $PIDS; do kill -TERM "$_p" 2>/dev/null; done
	[ ! -s "$D/relay-l1.log" ] || sed 's/^/l1| /' "$D/relay-l1.log"
	e2e_finish
}
# started NAME LOG PATTERN CMD...: CMD in the background, up when LOG says
# PATTERN (10 s).
started() {
	_n=$1 _log=$2 _pat=$3
	shift 3
	"$@" >"$_log" 2>&1 &
	_pid=$!
	PIDS="$PIDS $_pid"
	says() { grep -q "$_pat" "$_log"; }
	if e2e_wait 10 says; then
		e2e_case "$_n" PASS "pid $_pid: $(grep "$_pat" "$_log" | head -n 1)"
	else
		e2e_case "$_n" FAIL "$(tail -n 1 "$_log")"
		return 1
	fi
}

if cp "$F/l1.conf" "$F/l1-l0.key" /etc/argo-relay/ && chmod 600 /etc/argo-relay/l1.conf /etc/argo-relay/l1-l0.key; then
	e2e_case l1-config PASS "from l0/argo-deploy"
else
	e2e_case l1-config FAIL "no $F/l1.conf or key (the set-up's l0/argo-deploy writes them)"
	give_up
fi
if grep -q '^argo ' /proc/modules && [ -c /dev/argo ]; then
	e2e_case argo-ko PASS
else
	e2e_case argo-ko FAIL "argo.ko not loaded or no /dev/argo"
	give_up
fi
if e2e_virtio_ports "$CH" 30 && e2e_virtio_ports "$BENCH_CTL" 5 && e2e_virtio_ports "$BENCH_RAW" 5; then
	e2e_case virtio-serial PASS "$(ls /dev/virtio-ports | tr '\n' ' ')"
else
	e2e_case virtio-serial FAIL "ports $CH, $BENCH_CTL, $BENCH_RAW: have $(cat /sys/class/virtio-ports/*/name 2>/dev/null | tr '\n' ' ')"
	give_up
fi

argo-relayd -v /etc/argo-relay/l1.conf 2>>"$D/relay-l1.log" &
RELAY=$!
PIDS="$PIDS $RELAY"
link_up() { argo-relayctl -s "$D/l1.ctl" links 2>/dev/null | grep -qE "^  up +serial +.* up +frames"; }
t0=$(cut -d' ' -f1 /proc/uptime)
if e2e_wait 120 link_up; then
	e2e_case link-up PASS "relay l1 (pid $RELAY): serial link to l0 up after $(since "$t0") s"
else
	e2e_case link-up FAIL "$(argo-relayctl -s "$D/l1.ctl" links 2>&1 | sed -n 2p)"
	give_up
fi
started server-xen "$D/server-xen.log" "serving port" argo-bench server --fabric xen: --port 7100 ||
	bench_problem "the intra-Xen server did not start: $(tail -n 1 "$D/server-xen.log")"
started server-raw "$D/server-raw.log" "serving" argo-bench server --listen "dev:/dev/virtio-ports/$BENCH_RAW" ||
	bench_problem "the raw virtio-serial server did not start: $(tail -n 1 "$D/server-raw.log")"

e2e_check xen-tools-start xen_tools_start || give_up
cat >/tmp/bench-domu.cfg <<CFG
name = "bench"
type = "pv"
kernel = "/boot/vmlinuz"
ramdisk = "/boot/initrd-domu.gz"
extra = "console=hvc0 argo.run=bench-domu"
memory = 256
vcpus = 1
on_poweroff = "destroy"
on_reboot = "destroy"
on_crash = "preserve"
CFG
e2e_check domu-create xl create /tmp/bench-domu.cfg || give_up
domid=$(xl domid bench)
K=/local/domain/$domid/data
glog=/var/log/xen/console/guest-bench.log
# The domU's command: written here, owned by the domU so that it can read it.
xenstore-write "$K/bench-cmd" "0" && xenstore-chmod "$K/bench-cmd" "n$domid"
domu_ready() { [ "$(xenstore-read "$K/bench-ready" 2>/dev/null)" = 1 ]; }
t0=$(cut -d' ' -f1 /proc/uptime)
if e2e_wait 180 domu_ready; then
	e2e_case domu-ready PASS "domain $domid ready after $(since "$t0") s"
else
	e2e_case domu-ready FAIL "domain $domid did not say data/bench-ready within 180 s"
	bench_problem "the domU did not come up"
fi
# Its answers: a watch on data/bench-done, read as events come.
mkfifo /run/bench-done.fifo
xenstore-watch "$K/bench-done" >/run/bench-done.fifo &
WATCH=$!
exec 4</run/bench-done.fifo

# bench_remote domu SEQ ARG...: argo-bench ARG... in the domU, its output
# from its console; sets _rc.
bench_remote() {
	_seq=$2
	shift 2
	xenstore-write "$K/bench-cmd" "$_seq $*"
	_rc=124
	while IFS= read -r -t 1800 _ <&4; do
		[ "$(xenstore-read "$K/bench-done" 2>/dev/null)" = "$_seq" ] || continue
		# xenconsoled may write the console a moment after.
		ended() { tr -d '\r' <"$glog" | grep -q "^BENCH-END $_seq "; }
		e2e_wait 30 ended
		_rc=$(tr -d '\r' <"$glog" | sed -n "s/^BENCH-END $_seq \([0-9]*\).*/\1/p" | tail -n 1)
		break
	done
	tr -d '\r' <"$glog" | sed -n "s/^BENCH $_seq //p" >/tmp/bench.out
	tr -d '\r' <"$glog" | sed -n "s/^BENCH-ERR $_seq //p" >/tmp/bench.err
	[ "$_rc" != 124 ] || echo "the domU did not answer request $_seq within 1800 s" >>/tmp/bench.err
	bench_reply "$_seq" "${_rc:-1}" /tmp/bench.out /tmp/bench.err
}

facts() {
	bench_facts_common l1_dom0
	xl info | sed -n 's/^\(xen_version\|nr_cpus\|total_memory\|xen_scheduler\|virt_caps\) *: */l1_xen_\1 /p'
	echo "l1_domu_kind pv"
	echo "l1_domu_memory_mib 256"
	echo "l1_domu_vcpus 1"
	echo "l1_link $(argo-relayctl -s "$D/l1.ctl" links 2>/dev/null | grep -E '^  up ' | head -n 1 | tr -s ' ')"
}
bench_agent facts
e2e_case bench-runs "$([ "$BENCH_FAILED" = 0 ] && [ "$BENCH_RUNS" -gt 0 ] && echo PASS || echo FAIL)" \
	"$BENCH_RUNS runs of argo-bench asked by the host, $BENCH_FAILED failed"

# The domU leaves on "quit"; its cases become ours.
xenstore-write "$K/bench-cmd" "$(($(date +%s))) quit"
kill "$WATCH" 2>/dev/null
E2E_STREAMED=1 e2e_collect_domu bench 60 bench-domu
tr -d '\r' <"$glog" | grep -v '^BENCH' | sed -e 's/^ARGO-E2E: /domU-E2E: /' -e 's/^/domU| /'
for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
wait "$RELAY"
rc=$?
[ "$rc" = 0 ] && e2e_case relay-l1-stop PASS || e2e_case relay-l1-stop FAIL "exit status $rc"
sed 's/^/l1| /' "$D/relay-l1.log" | tail -n 40
e2e_finish
