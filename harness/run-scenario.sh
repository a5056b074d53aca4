#!/bin/bash
# Runs one end-to-end scenario of harness/scenarios.cfg: defines its L0 VMs
# (libvirt, or plain QEMU with --no-libvirt), runs its setup hook, starts
# the VMs, runs its host hook while they run, watches every console, and
# writes under $BUILD/harness/NAME/:
#   console.log, console.txt   the deciding VM's console (raw / without CRs)
#   vm/VM/console.log          every VM's console; vm/VM/domain.xml or qemu.cmd
#   setup.log, host.log, host-after.log   the hooks' output
#   junit.xml                  one testsuite: boot, every CASE, result,
#                              console, shutdown, the hooks' cases
#   summary.txt                one line, also printed
# Parts: harness/lib/cfg.sh (the table), accel.sh (KVM probe), vm.sh and
# libvirtd.sh (boot), console.sh (console watch), junit.sh (results).
# Every domain it defined is destroyed and undefined, every QEMU it started
# stopped, and the libvirt daemons it started stopped, on every exit
# (Ctrl-C and time-out included).
#
# Usage: harness/run-scenario.sh [--no-libvirt] [--accel kvm|tcg] NAME
# Exit: 0 pass, 1 fail, 77 skipped, 124 time-out, 2 usage or set-up error.
# Environment: BUILD (default build), E2E_TIMEOUT (overrides the table's),
# E2E_ACCEL, E2E_PROBE_TIMEOUT, E2E_LIBVIRT=0 (as --no-libvirt), E2E_CPU
# (every VM's CPU, QEMU's MODEL[,+feat,-feat] form),
# E2E_XEN_ARGS, E2E_DOM0_ARGS, E2E_QUIET=1 (no progress lines).
set -u

die() {
	echo "run-scenario: $*" >&2
	exit 2
}

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
backend=libvirt
[ "${E2E_LIBVIRT:-1}" != 0 ] || backend=qemu
while [ $# -gt 0 ]; do
	case "$1" in
	--no-libvirt) backend=qemu ;;
	--accel) E2E_ACCEL=${2:?--accel kvm|tcg}; shift ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
	shift
done
[ $# -eq 1 ] || die "usage: harness/run-scenario.sh [--no-libvirt] [--accel kvm|tcg] NAME"
name=$1

. harness/lib/cfg.sh
. harness/lib/accel.sh
. harness/lib/vm.sh
. harness/lib/libvirtd.sh
. harness/lib/console.sh
. harness/lib/junit.sh

cfg_load "${E2E_CFG:-harness/scenarios.cfg}" || exit 2
[ -n "${CFG[$name.__line]:-}" ] || die "no scenario [$name] in harness/scenarios.cfg (make e2e-list)"

BUILD=${BUILD:-build}
build=$(realpath -m "$BUILD")
img=$build/images
out=$build/harness/$name
timeout=${E2E_TIMEOUT:-$(cfg_get "$name" timeout 300)}
vms=$(cfg_get "$name" vms l1)
scenario_dirs="harness/scenarios l1/test/scenarios"

for f in xen vmlinuz initrd.gz; do
	[ -f "$img/$f" ] || die "missing $img/$f: run 'make images' first"
done
for vm in $vms; do
	run=$(cfg_vm_get "$name" "$vm" run)
	[ -n "$run" ] || continue
	s=""
	for d in $scenario_dirs; do [ -f "$d/$run.sh" ] && s=$d/$run.sh; done
	[ -n "$s" ] || die "[$name] $vm.run: no $run.sh in $scenario_dirs"
	[ "$s" -nt "$img/initrd.gz" ] && die "$s is newer than $img/initrd.gz: run 'make images'"
done

rm -rf "$out"
mkdir -p "$out/vm"
now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f", a - b }'; }
progress() { [ "${E2E_QUIET:-0}" = 1 ] || echo "e2e $name: $(elapsed "$t0")s $*"; }
t0=$(now)
deadline=$(awk -v a="$t0" -v t="$timeout" 'BEGIN { printf "%.3f", a + t }')
# Without a process (bash's clock; its decimal point follows the locale):
# the console watch asks every second, and on a 2-core TCG host every
# process it starts takes CPU from the VMs.
past_deadline() { ((${EPOCHREALTIME%[.,]*} >= ${deadline%.*})); }
left() { awk -v d="$deadline" -v n="$(now)" 'BEGIN { l = d - n; printf "%d", l > 1 ? l : 1 }'; }

# ------------------------------------------------------------- clean-up ----
hook_pid=""
stop_hook() {
	[ -n "$hook_pid" ] || return 0
	kill -TERM -- "-$hook_pid" 2>/dev/null
	local n=30
	while [ $n -gt 0 ] && kill -0 "$hook_pid" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
	kill -KILL -- "-$hook_pid" 2>/dev/null
	wait "$hook_pid" 2>/dev/null
	hook_pid=""
}
cleaned=0
cleanup() {
	[ $cleaned = 1 ] && return
	cleaned=1
	stop_hook
	local vm
	for vm in $vms; do
		vm_undefine "$out/vm/$vm" || echo "run-scenario: could not remove VM $vm" >&2
	done
	# The hooks' own clean-up (the L0 relay and fabric), if they left one.
	if [ -x "$out/teardown" ]; then
		"$out/teardown" >>"$out/teardown.log" 2>&1
	fi
	[ "$backend" != libvirt ] || libvirtd_down
}
trap cleanup EXIT
trap 'echo "run-scenario: interrupted; stopping the VMs" >&2; exit 130' INT TERM

accel=$(accel_pick "$build" "$img")
progress "accelerator $accel, VMs through $([ "$backend" = libvirt ] && echo "libvirt ($LIBVIRT_URI)" || echo "plain QEMU")"
export BUILD=$build E2E_NAME=$name E2E_OUT=$out E2E_BACKEND=$backend E2E_ACCEL=$accel
export E2E_DRIVER=$(cfg_get "$name" driver) E2E_LINKS=$(cfg_get "$name" links) E2E_ROOT=$root E2E_VMS=$vms
export E2E_VMCTL=$root/harness/vmctl

junit_begin "$name" "$out/junit.xml"
state=""    # result | timeout | fatal | exited | error
why=""
skipped=0

if [ "$backend" = libvirt ]; then
	# Not in a subshell: libvirtd_up records the daemons it starts.
	if ! libvirtd_up "$out" >"$out/libvirtd-up.log"; then
		state=error why="libvirt: $(tail -n 1 "$out/libvirtd-up.log")"
	elif [ -n "$LIBVIRTD_STARTED" ]; then
		progress "started virtlogd and libvirtd (pids$LIBVIRTD_STARTED)"
	fi
fi

# ---------------------------------------------------------- define VMs ----
marker_vm=""
if [ -z "$state" ]; then
	for vm in $vms; do
		vmdir=$out/vm/$vm
		kind=$(cfg_vm_get "$name" "$vm" kind)
		run=$(cfg_vm_get "$name" "$vm" run)
		[ "$(cfg_vm_get "$name" "$vm" markers)" = yes ] && [ -z "$marker_vm" ] && marker_vm=$vm
		VM_MEM=$(cfg_vm_get "$name" "$vm" mem) VM_SMP=$(cfg_vm_get "$name" "$vm" smp)
		VM_CPU=${E2E_CPU:-$(cfg_vm_get "$name" "$vm" cpu)}
		VM_CHANNELS=$(cfg_vm_get "$name" "$vm" channels)
		VM_VHOST_BLK=$(cfg_vm_get "$name" "$vm" vhost_user_blk)
		VM_DOMAIN=argo-e2e-$name-$vm
		kargs="${run:+argo.run=$run} $(cfg_vm_get "$name" "$vm" kernel_args) ${E2E_DOM0_ARGS:-}"
		if [ "$kind" = xen ]; then
			d0=$(cfg_vm_get "$name" "$vm" dom0_mem)
			VM_KERNEL=$img/xen VM_DOM0_KERNEL=$img/vmlinuz
			VM_CMDLINE="console=com1 dom0_mem=$d0,max:$d0 noreboot argo=1,mac-permissive=1 $(cfg_vm_get "$name" "$vm" xen_args) ${E2E_XEN_ARGS:-}"
			VM_MODULE_CMDLINE="console=hvc0 $kargs"
			case "$VM_MODULE_CMDLINE" in *,*) die "[$name] $vm: dom0's command line may not hold a comma (QEMU splits Xen's modules on commas)" ;; esac
		else
			VM_KERNEL=$img/vmlinuz VM_DOM0_KERNEL=""
			VM_CMDLINE="console=ttyS0 panic=-1 $kargs" VM_MODULE_CMDLINE=""
		fi
		VM_INITRD=$img/initrd.gz
		[ -z "$(cfg_vm_get "$name" "$vm" files)" ] || VM_INITRD=$vmdir/initrd.gz
		VM_CMDLINE=$(tr -s ' ' <<<"$VM_CMDLINE" | sed 's/ $//')
		VM_MODULE_CMDLINE=$(tr -s ' ' <<<"$VM_MODULE_CMDLINE" | sed 's/ $//')
		if ! err=$(vm_define "$vmdir" "$vm" "$kind" "$backend" "$accel"); then
			state=error why="VM $vm: $err"
			break
		fi
	done
fi
console=$out/vm/$marker_vm/console.log
ln -sf "vm/$marker_vm/console.log" "$out/console.log"

# run_hook KEY LOGNAME [background]: a host hook of the table, in its own
# process group, with the run's environment; its exit status in hook_rc.
run_hook() {
	local file
	file=$(cfg_get "$name" "$1")
	[ -n "$file" ] || return 0
	[ -f "$file" ] || { echo "no hook $file" >"$out/$2"; hook_rc=2; return 0; }
	case "$file" in /*) ;; *) file=$root/$file ;; esac
	setsid bash "$file" >"$out/$2" 2>&1 </dev/null &
	hook_pid=$!
	[ "${3:-}" = background ] && return 0
	while kill -0 "$hook_pid" 2>/dev/null && ! past_deadline; do sleep 0.5; done
	if kill -0 "$hook_pid" 2>/dev/null; then
		stop_hook
		hook_rc=124
	else
		wait "$hook_pid"
		hook_rc=$?
		hook_pid=""
	fi
}

# ------------------------------------------------------------- set-up ----
t_setup=""
if [ -z "$state" ] && [ -n "$(cfg_get "$name" setup)" ]; then
	progress "setup: $(cfg_get "$name" setup)"
	t1=$(now)
	hook_rc=0
	run_hook setup setup.log
	t_setup=$(elapsed "$t1")
	fails=$(junit_cases_from "$out/setup.log" setup-)
	case "$hook_rc" in
	0) [ "$fails" = 0 ] || { state=error why="setup: $fails case(s) failed"; } ;;
	77) state=skip why="setup: $(grep -v '^ARGO-E2E: ' "$out/setup.log" | tail -n 1)" ;;
	124) state=timeout why="time-out during setup" ;;
	*) state=error why="setup exited $hook_rc: $(grep -v '^ARGO-E2E: ' "$out/setup.log" | tail -n 1)" ;;
	esac
fi

# The files a VM gets (V.files): a second cpio after the image's, unpacked
# over it by the kernel, as /etc/argo-e2e/files.
if [ -z "$state" ]; then
	for vm in $vms; do
		files=$(cfg_vm_get "$name" "$vm" files)
		[ -n "$files" ] || continue
		vmdir=$out/vm/$vm
		stage=$(mktemp -d "$out/stage.XXXXXX")
		mkdir -p "$stage/etc/argo-e2e/files"
		[ ! -d "$out/$files" ] || cp -a "$out/$files/." "$stage/etc/argo-e2e/files/"
		(umask 077 && cp "$img/initrd.gz" "$vmdir/initrd.gz" &&
			(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -1n) \
				>>"$vmdir/initrd.gz")
		rm -rf "$stage"
		[ "$backend" != libvirt ] || { chgrp libvirt-qemu "$vmdir/initrd.gz" && chmod 0640 "$vmdir/initrd.gz"; }
	done
fi

# ----------------------------------------------------------------- boot ----
t_boot=$(now)
if [ -z "$state" ]; then
	for vm in $vms; do
		# V.start = no: a hook starts it (harness/vmctl V start).
		[ "$(cfg_vm_get "$name" "$vm" start)" = yes ] || continue
		if ! err=$(vm_start "$out/vm/$vm"); then
			state=error why="VM $vm: $err"
			break
		fi
	done
	progress "started: $(for vm in $vms; do [ "$(cfg_vm_get "$name" "$vm" start)" = no ] || printf '%s ' "$vm"; done)"
fi
if [ -z "$state" ] && [ -n "$(cfg_get "$name" host)" ]; then
	run_hook host host.log background
	host_pid=$hook_pid
fi

# ------------------------------------------------------- console watch ----
# Once a second: BEGIN, RESULT, a fatal line (one grep per console), the
# deadline; every 5 s: whether the deciding VM still runs (virsh) and the
# progress line. Each look costs forks, and forks here are CPU the VMs'
# TCG threads need (at 5 looks a second with the progress line computed
# each time, this loop took about a fifth of this 2-core machine).
t_begin="" last_note="" last_beat=$SECONDS fatal_vm="" look=0
while [ -z "$state" ]; do
	if [ -z "$t_begin" ] && console_has "$console" BEGIN; then
		t_begin=$(elapsed "$t_boot")
	fi
	for vm in $vms; do
		if console_fatal_seen "$out/vm/$vm/console.log"; then
			fatal_vm=$vm
			state=fatal
		fi
	done
	[ -z "$state" ] || break
	if console_has "$console" RESULT; then
		# The host hook may still be checking what the VMs did.
		if [ -z "$hook_pid" ] || ! kill -0 "$hook_pid" 2>/dev/null; then
			state=result
			break
		fi
	elif [ $((look % 5)) = 0 ] && ! vm_running "$out/vm/$marker_vm"; then
		# RESULT may have come since the look above.
		console_has "$console" RESULT && continue
		state=exited
		break
	fi
	if past_deadline; then
		state=timeout
		break
	fi
	if [ $((look % 5)) = 0 ]; then
		note=""
		for vm in $vms; do
			note="$note $vm: $(console_milestone "$out/vm/$vm/console.log");"
		done
		read -r cp cf cs < <(console_cases "$console")
		note="$note cases $cp passed, $cf failed, $cs skipped"
		if [ "$note" != "$last_note" ] || [ $((SECONDS - last_beat)) -ge 30 ]; then
			progress "${note# }"
			last_note=$note last_beat=$SECONDS
		fi
	fi
	look=$((look + 1))
	sleep 1
done
t_result=$(elapsed "$t_boot")
# BEGIN and RESULT may have come between two looks.
[ -n "$t_begin" ] || ! console_has "$console" BEGIN || t_begin=$t_result

# After RESULT the deciding VM powers off by itself; give it 30 s.
shutdown_ok=0
if [ "$state" = result ]; then
	n=$((SECONDS + 30))
	while [ $SECONDS -lt $n ] && vm_running "$out/vm/$marker_vm"; do sleep 0.5; done
	vm_running "$out/vm/$marker_vm" || shutdown_ok=1
elif [ "$state" = fatal ]; then
	sleep 2 # the rest of the trace
fi
# The host hook, if it still runs (after a fatal line, a time-out, an exit).
if [ -n "$hook_pid" ]; then
	if kill -0 "$hook_pid" 2>/dev/null; then
		stop_hook
		echo "ARGO-E2E: CASE host-hook FAIL stopped: the run ended ($state) before it did" >>"$out/host.log"
	else
		wait "$hook_pid"
		host_rc=$?
		hook_pid=""
		[ "$host_rc" = 0 ] || [ "$host_rc" = 77 ] ||
			grep -q '^ARGO-E2E: CASE .* FAIL' "$out/host.log" ||
			echo "ARGO-E2E: CASE host-hook FAIL exited $host_rc: $(grep -v '^ARGO-E2E: ' "$out/host.log" | tail -n 1)" >>"$out/host.log"
	fi
fi
for vm in $vms; do
	vm_destroy "$out/vm/$vm" >/dev/null 2>&1
	tr -d '\r' <"$out/vm/$vm/console.log" >"$out/vm/$vm/console.txt"
	# "ARGO-E2E: JSON NAME {...}" lines (relay counters...): NAME.json, the last wins.
	while read -r _ _ jname json; do
		[[ "$jname" =~ ^[A-Za-z0-9._-]+$ ]] && printf '%s\n' "$json" >"$out/$jname.json"
	done < <(grep '^ARGO-E2E: JSON ' "$out/vm/$vm/console.txt" || true)
done
cp "$out/vm/$marker_vm/console.txt" "$out/console.txt" 2>/dev/null

# -------------------------------------------------------------- results ----
clean=$out/console.txt
last_line=$(grep -v '^[[:space:]]*$' "$clean" 2>/dev/null | tail -n 1 | cut -c1-200)
case "$state" in
timeout) why="time-out after ${timeout}s; last console line: $last_line" ;;
fatal) why="fatal console line ($fatal_vm): $(console_fatal "$out/vm/$fatal_vm/console.log")" ;;
exited) why="$marker_vm stopped before the scenario ended; last console line: $last_line" ;;
esac

if [ "$state" = error ] || [ "$state" = skip ]; then
	[ "$state" = skip ] && junit_case setup SKIP "$why" || junit_case setup FAIL "$why"
else
	# 1. Boot: the deciding VM reached /init and the scenario began.
	if [ -n "$t_begin" ]; then
		junit_case boot PASS "" "$t_begin"
	else
		junit_case boot FAIL "$marker_vm never reached the scenario: $why" "$t_result"
	fi
	# 2. The scenario's own cases.
	junit_cases_from "$clean" >/dev/null
	# 3. Its exit status.
	rc=$(console_result "$clean")
	if [ -n "$t_begin" ]; then
		if [ -z "$rc" ]; then
			junit_case result FAIL "no RESULT marker: $why" "$t_result"
		elif [ "$rc" != 0 ]; then
			junit_case result FAIL "scenario exited with rc=$rc" "$t_result"
		else
			junit_case result PASS "" "$t_result"
		fi
	fi
	# 4. No panic, oops or BUG on any console.
	if [ "$state" = fatal ]; then
		junit_case console FAIL "${why#fatal console line }"
	else
		junit_case console PASS ""
	fi
	# 5. The deciding VM powered off by itself after the scenario.
	if [ "$state" = result ]; then
		if [ "$shutdown_ok" = 1 ]; then
			junit_case shutdown PASS ""
		else
			junit_case shutdown FAIL "$marker_vm still ran 30s after RESULT (power-off failed); destroyed"
		fi
	fi
	# 6. The host hook's cases.
	[ ! -f "$out/host.log" ] || junit_cases_from "$out/host.log" >/dev/null
fi

# 7. The host side after the VMs.
t_host=""
if [ "$state" != error ] && [ "$state" != skip ] && [ -n "$(cfg_get "$name" host_after)" ]; then
	t2=$(now)
	E2E_CONSOLE=$clean E2E_STATE=$state
	export E2E_CONSOLE E2E_STATE
	hook_rc=0
	deadline=$(awk -v n="$(now)" 'BEGIN { printf "%.3f", n + 600 }')
	run_hook host_after host-after.log
	t_host=$(elapsed "$t2")
	fails=$(junit_cases_from "$out/host-after.log")
	if [ "$hook_rc" != 0 ] && [ "$fails" = 0 ]; then
		junit_case host-check FAIL "$(cfg_get "$name" host_after) exited $hook_rc: $(grep -v '^ARGO-E2E: ' "$out/host-after.log" | tail -n 1)" "$t_host"
	fi
fi
cleanup
t_total=$(elapsed "$t0")
junit_end "$t_total" accel="$accel" backend="$backend" console="$out/console.log" state="$state"

if [ "$state" = skip ]; then
	verdict=SKIP
elif [ "$JUNIT_FAIL" -eq 0 ] && [ "$state" = result ]; then
	verdict=PASS
elif [ "$state" = timeout ]; then
	verdict=TIMEOUT
else
	verdict=FAIL
fi
summary="e2e $name: $verdict ($JUNIT_PASS passed, $JUNIT_FAIL failed, $JUNIT_SKIP skipped) accel=$accel backend=$backend"
[ -z "$t_setup" ] || summary="$summary setup=${t_setup}s"
summary="$summary begin=${t_begin:-none}${t_begin:+s} end=${t_result}s"
[ -z "$t_host" ] || summary="$summary host=${t_host}s"
summary="$summary total=${t_total}s"
[ -z "$why" ] || summary="$summary; $why"
echo "$summary" >"$out/summary.txt"
echo "$summary"
case "$verdict" in
PASS) exit 0 ;;
SKIP) exit 77 ;;
TIMEOUT) exit 124 ;;
*) exit 1 ;;
esac
