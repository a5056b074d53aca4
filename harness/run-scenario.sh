#!/bin/bash
# Boots Xen (with Argo) and a PV dom0 in QEMU and runs one end-to-end
# scenario, NAME.sh, inside dom0 (the initramfs's /init
# runs it from `argo.run=NAME`). Reads the console for the markers
#   ARGO-E2E: BEGIN ... / ARGO-E2E: CASE name PASS|FAIL|SKIP [msg] /
#   ARGO-E2E: RESULT rc=N
# fails on a Xen panic, a kernel oops/panic/BUG, a time-out, or a failed
# case, and writes, under $BUILD/harness/NAME/:
#   console.log  the serial console (Xen and dom0)
#   junit.xml    one testsuite: boot, every CASE, result, console, shutdown
#   summary.txt  one line, also printed
# QEMU is always stopped (by its pid) when this script ends.
#
# Usage: harness/run-scenario.sh NAME
# NAME.sh is looked for in E2E_SCENARIO_DIRS (default: harness/scenarios
# l1/test/scenarios), the folders images/images.mk puts in the initramfs.
# A scenario may set defaults for the variables below with lines
#   # e2e-default: E2E_VAR=VALUE
# (the environment still wins). If NAME.host sits next to NAME.sh, it runs
# on the host after the VM (bash, with BUILD, E2E_NAME, E2E_OUT, E2E_CONSOLE
# = console.txt, E2E_STATE = result|timeout|fatal|exited), its output in
# host.log; its "ARGO-E2E: CASE name STATUS [msg]" lines are cases of the
# scenario, and a non-zero exit without a failed case is one (host-check).
# Environment:
#   BUILD            build folder (default build)
#   E2E_TIMEOUT      seconds for the whole boot + scenario (default 300)
#   E2E_ACCEL        kvm or tcg: skip the probe
#   E2E_PROBE_TIMEOUT seconds the KVM probe may take (default 15)
#   E2E_CPU          QEMU -cpu (default qemu64)
#   E2E_MEM, E2E_SMP QEMU memory (MiB, default 2048) and CPUs (default 2)
#   E2E_DOM0_MEM     dom0_mem (default 1024M)
#   E2E_XEN_ARGS     extra Xen command line options
#   E2E_DOM0_ARGS    extra dom0 kernel command line options
#   E2E_QEMU_ARGS    extra QEMU options (word-split)
set -eu

die() {
	echo "run-scenario: $*" >&2
	exit 2
}

[ $# -eq 1 ] || die "usage: harness/run-scenario.sh NAME (a NAME.sh in harness/scenarios or l1/test/scenarios)"
name=$1
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}

scenario=""
for d in ${E2E_SCENARIO_DIRS:-harness/scenarios l1/test/scenarios}; do
	if [ -f "$d/$name.sh" ]; then
		scenario=$d/$name.sh
		break
	fi
done
[ -n "$scenario" ] || die "no scenario $name.sh in ${E2E_SCENARIO_DIRS:-harness/scenarios l1/test/scenarios}"
host_hook=${scenario%.sh}.host
# The scenario's own defaults (# e2e-default: E2E_VAR=VALUE), unless set.
while read -r var value; do
	case "$var" in
	E2E_[A-Z0-9_]*)
		if [ -z "${!var+set}" ]; then
			printf -v "$var" '%s' "$value"
			export "${var?}"
		fi
		;;
	*) die "$scenario: bad e2e-default line: $var=$value" ;;
	esac
done < <(sed -n 's/^# e2e-default: *\([^=]*\)=\(.*\)$/\1 \2/p' "$scenario")
build=$(realpath -m "$BUILD")
img=$build/images
out=$build/harness/$name
timeout=${E2E_TIMEOUT:-300}
probe_timeout=${E2E_PROBE_TIMEOUT:-15}
cpu=${E2E_CPU:-qemu64}
mem=${E2E_MEM:-2048}
smp=${E2E_SMP:-2}
dom0_mem=${E2E_DOM0_MEM:-1024M}
qemu=${QEMU:-qemu-system-x86_64}

command -v "$qemu" >/dev/null || die "$qemu not found (harness/install-deps.sh images)"
for f in xen vmlinuz initrd.gz; do
	[ -f "$img/$f" ] || die "missing $img/$f: run 'make images' first"
done
if [ "$scenario" -nt "$img/initrd.gz" ]; then
	die "$scenario is newer than $img/initrd.gz: run 'make images'"
fi

qpid=""
stop_qemu() {
	[ -n "$qpid" ] || return 0
	if kill -0 "$qpid" 2>/dev/null; then
		kill -TERM "$qpid" 2>/dev/null || true
		local n=50
		while [ $n -gt 0 ] && kill -0 "$qpid" 2>/dev/null; do
			sleep 0.1
			n=$((n - 1))
		done
		kill -KILL "$qpid" 2>/dev/null || true
	fi
	wait "$qpid" 2>/dev/null || true
	qpid=""
}
trap stop_qemu EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { echo "$(now) $1" | awk '{ printf "%.1f", $1 - $2 }'; }

# ---------------------------------------------------------- accelerator ----
# KVM when /dev/kvm runs Xen's dom0 (it prints "Linux version" within the
# probe time), TCG otherwise. The answer is cached per machine boot.
probe_kvm() {
	local dir=$build/harness/probe log pid n
	mkdir -p "$dir"
	log=$dir/console.log
	: >"$log"
	"$qemu" -accel kvm -cpu "$cpu" -m 1024 -smp 1 -nodefaults -display none -vga none \
		-no-reboot -serial "file:$log" -kernel "$img/xen" \
		-initrd "$img/vmlinuz console=hvc0" \
		-append "console=com1 dom0_mem=512M noreboot" >"$dir/qemu.out" 2>&1 &
	pid=$!
	n=$((probe_timeout * 10))
	local ok=1
	while [ $n -gt 0 ]; do
		if grep -q 'Linux version' "$log"; then
			ok=0
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		# A KVM that cannot run the guest stops it and waits: no use waiting.
		grep -q 'KVM internal error' "$dir/qemu.out" && break
		sleep 0.1
		n=$((n - 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	return $ok
}

pick_accel() {
	if [ -n "${E2E_ACCEL:-}" ]; then
		echo "$E2E_ACCEL"
		return
	fi
	local cache=$build/harness/accel boot_id cached
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	if [ -f "$cache" ]; then
		read -r cached_id cached <"$cache" || true
		if [ "${cached_id:-}" = "$boot_id" ] && [ -n "${cached:-}" ]; then
			echo "$cached"
			return
		fi
	fi
	local accel=tcg why="/dev/kvm is not usable"
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		if probe_kvm; then
			accel=kvm why="KVM probe booted Xen's dom0"
		else
			why="KVM probe failed: no dom0 within ${probe_timeout}s or a KVM internal error (see $build/harness/probe)"
		fi
	fi
	mkdir -p "$(dirname "$cache")"
	echo "$boot_id $accel" >"$cache"
	echo "run-scenario: accelerator $accel: $why" >&2
	echo "$accel"
}

# ----------------------------------------------------------------- boot ----
rm -rf "$out"
mkdir -p "$out"
log=$out/console.log
: >"$log"

t0=$(now)
accel=$(pick_accel)
t_probe=$(elapsed "$t0")

xen_args="console=com1 dom0_mem=$dom0_mem,max:$dom0_mem noreboot argo=1,mac-permissive=1 ${E2E_XEN_ARGS:-}"
dom0_args="console=hvc0 argo.run=$name ${E2E_DOM0_ARGS:-}"
case "$dom0_args" in *,*) die "E2E_DOM0_ARGS may not contain a comma (QEMU splits -initrd on commas)" ;; esac

# shellcheck disable=SC2086
set -- "$qemu" -accel "$accel" -cpu "$cpu" -m "$mem" -smp "$smp" \
	-nodefaults -display none -vga none -no-reboot -serial "file:$log" \
	-kernel "$img/xen" -initrd "$img/vmlinuz $dom0_args,$img/initrd.gz" \
	-append "$xen_args" ${E2E_QEMU_ARGS:-}
printf '%q ' "$@" >"$out/qemu.cmd"
echo >>"$out/qemu.cmd"

t1=$(now)
"$@" >"$out/qemu.out" 2>&1 </dev/null &
qpid=$!

# Fatal console lines: Xen panics, Linux panics, oopses and BUGs.
fatal_re='Panic on CPU|Kernel panic|Oops: |BUG: |kernel BUG at|general protection fault|Unable to handle kernel|FATAL TRAP|Xen BUG at'

state=timeout
t_begin=""
deadline=$(echo "$t1 $timeout" | awk '{ printf "%.3f", $1 + $2 }')
while :; do
	if [ -z "$t_begin" ] && grep -q '^ARGO-E2E: BEGIN' "$log"; then
		t_begin=$(elapsed "$t1")
	fi
	if grep -q '^ARGO-E2E: RESULT' "$log"; then
		state=result
		break
	fi
	if grep -Eq "$fatal_re" "$log"; then
		state=fatal
		break
	fi
	if ! kill -0 "$qpid" 2>/dev/null; then
		state=exited
		break
	fi
	if awk -v d="$deadline" -v n="$(now)" 'BEGIN { exit !(n > d) }'; then
		break
	fi
	sleep 0.2
done
t_result=$(elapsed "$t1")

# After RESULT the image powers off: QEMU should end by itself. After a
# fatal line, give the trace a moment to reach the log, then stop QEMU.
shutdown_ok=0
case "$state" in
result | fatal)
	[ "$state" = result ] && grace=30 || grace=3
	n=$((grace * 10))
	while [ $n -gt 0 ] && kill -0 "$qpid" 2>/dev/null; do
		sleep 0.1
		n=$((n - 1))
	done
	if ! kill -0 "$qpid" 2>/dev/null; then
		shutdown_ok=1
	fi
	;;
esac
qemu_rc=""
if [ "$shutdown_ok" = 1 ] || [ "$state" = exited ]; then
	wait "$qpid" && qemu_rc=0 || qemu_rc=$?
	qpid=""
fi
stop_qemu
t_total=$(elapsed "$t0")

# -------------------------------------------------------------- results ----
clean=$out/console.txt
tr -d '\r' <"$log" >"$clean"

xml_escape() {
	sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g' \
		-e "s/'/\&apos;/g" -e 's/[^[:print:]\t]//g'
}

cases=$out/cases.xml
: >"$cases"
n_pass=0 n_fail=0 n_skip=0
# add_case NAME PASS|FAIL|SKIP MESSAGE [TIME]
add_case() {
	local cname msg
	cname=$(printf '%s' "$1" | xml_escape)
	msg=$(printf '%s' "$3" | xml_escape)
	printf '    <testcase classname="e2e.%s" name="%s" time="%s">' "$name" "$cname" "${4:-0}" >>"$cases"
	case "$2" in
	PASS) n_pass=$((n_pass + 1)) ;;
	SKIP)
		n_skip=$((n_skip + 1))
		printf '<skipped message="%s"/>' "$msg" >>"$cases"
		;;
	*)
		n_fail=$((n_fail + 1))
		printf '<failure message="%s"/>' "$msg" >>"$cases"
		;;
	esac
	printf '</testcase>\n' >>"$cases"
}

last_line=$(grep -v '^[[:space:]]*$' "$clean" | tail -n 1 | cut -c1-200)
fatal_line=$(grep -Em1 "$fatal_re" "$clean" | cut -c1-200 || true)
why=""
case "$state" in
timeout) why="time-out after ${timeout}s; last console line: $last_line" ;;
fatal) why="fatal console line: $fatal_line" ;;
exited) why="QEMU exited (rc=$qemu_rc) before the scenario ended; last console line: $last_line" ;;
esac

# 1. Boot: Xen and dom0 reached /init and the scenario began.
if [ -n "$t_begin" ]; then
	add_case boot PASS "" "$t_begin"
else
	add_case boot FAIL "dom0 never reached the scenario: $why" "$t_result"
fi
# 2. The scenario's own cases.
while read -r _ _ cname status msg; do
	case "$status" in
	PASS | FAIL | SKIP) add_case "$cname" "$status" "$msg" ;;
	*) add_case "$cname" FAIL "bad CASE line status '$status' $msg" ;;
	esac
done < <(grep '^ARGO-E2E: CASE ' "$clean" || true)
# 3. The scenario's exit status.
rc=$(sed -n 's/^ARGO-E2E: RESULT rc=\([0-9]*\).*/\1/p' "$clean" | head -n 1)
if [ -n "$t_begin" ]; then
	if [ -z "$rc" ]; then
		add_case result FAIL "no RESULT marker: $why" "$t_result"
	elif [ "$rc" != 0 ]; then
		add_case result FAIL "scenario exited with rc=$rc" "$t_result"
	else
		add_case result PASS "" "$t_result"
	fi
fi
# 4. No panic, oops or BUG anywhere on the console.
if [ -n "$fatal_line" ]; then
	add_case console FAIL "$fatal_line"
else
	add_case console PASS ""
fi
# 5. The machine powered off by itself after the scenario.
if [ "$state" = result ]; then
	if [ "$shutdown_ok" = 1 ]; then
		add_case shutdown PASS ""
	else
		add_case shutdown FAIL "QEMU still ran 30s after RESULT (power-off failed); killed"
	fi
fi
# 6. The scenario's host side, if it has one.
t_host=""
if [ -f "$host_hook" ]; then
	t2=$(now)
	host_rc=0
	BUILD=$build E2E_NAME=$name E2E_OUT=$out E2E_CONSOLE=$clean E2E_STATE=$state \
		bash "$host_hook" >"$out/host.log" 2>&1 </dev/null || host_rc=$?
	t_host=$(elapsed "$t2")
	host_fails=0
	while read -r _ _ cname status msg; do
		case "$status" in
		PASS | SKIP) add_case "$cname" "$status" "$msg" ;;
		FAIL)
			add_case "$cname" FAIL "$msg"
			host_fails=$((host_fails + 1))
			;;
		*)
			add_case "$cname" FAIL "bad CASE line status '$status' $msg"
			host_fails=$((host_fails + 1))
			;;
		esac
	done < <(grep '^ARGO-E2E: CASE ' "$out/host.log" || true)
	if [ "$host_rc" != 0 ] && [ "$host_fails" = 0 ]; then
		add_case host-check FAIL "$host_hook exited $host_rc: $(grep -v '^ARGO-E2E: ' "$out/host.log" | tail -n 1)" "$t_host"
	fi
fi
t_total=$(elapsed "$t0")

total_cases=$((n_pass + n_fail + n_skip))
{
	echo '<?xml version="1.0" encoding="UTF-8"?>'
	printf '<testsuites>\n  <testsuite name="e2e.%s" tests="%d" failures="%d" errors="0" skipped="%d" time="%s">\n' \
		"$name" "$total_cases" "$n_fail" "$n_skip" "$t_total"
	printf '    <properties><property name="accel" value="%s"/><property name="console" value="%s"/></properties>\n' \
		"$accel" "$(printf '%s' "$log" | xml_escape)"
	cat "$cases"
	printf '  </testsuite>\n</testsuites>\n'
} >"$out/junit.xml"
rm -f "$cases"

if [ "$n_fail" -eq 0 ] && [ "$state" = result ]; then
	verdict=PASS
else
	verdict=FAIL
fi
summary="e2e $name: $verdict ($n_pass passed, $n_fail failed, $n_skip skipped) accel=$accel"
begin_s=none
[ -z "$t_begin" ] || begin_s=${t_begin}s
summary="$summary probe=${t_probe}s begin=$begin_s end=${t_result}s"
[ -z "$t_host" ] || summary="$summary host=${t_host}s"
summary="$summary total=${t_total}s"
[ -z "$why" ] || summary="$summary; $why"
echo "$summary" >"$out/summary.txt"
echo "$summary"
[ "$verdict" = PASS ]
