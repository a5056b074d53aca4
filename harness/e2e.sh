#!/bin/bash
# The end-to-end scenarios of harness/scenarios.cfg (docs/harness.md).
#
#   harness/e2e.sh list [GROUP|NAME...]     the scenarios, their groups, VMs
#                                           and time-outs
#   harness/e2e.sh run [--no-libvirt] [--accel kvm|tcg] [NAME|GROUP...]
#                                           runs them (default: group `all`),
#                                           one at a time
#
# `make e2e E2E=NAME|GROUP[,...]` and `make e2e-list` call this. Results per
# scenario in $BUILD/harness/NAME/, the summary lines in
# $BUILD/harness/summary.txt. Exit: 0 all passed, 1 one failed, 124 none
# failed but one timed out (a time-out is also a failure in the count),
# 77 every one was skipped, 2 usage.
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
. harness/lib/cfg.sh
cfg_load "${E2E_CFG:-harness/scenarios.cfg}" || exit 2
BUILD=${BUILD:-build}
export BUILD

cmd=${1:-run}
[ $# -eq 0 ] || shift

words() { echo "$*" | tr ',' ' '; }

case "$cmd" in
list)
	# shellcheck disable=SC2046
	sel=$(cfg_select $(words "${@:-all}")) || exit 2
	printf '%-26s %-20s %-9s %-26s %s\n' SCENARIO GROUPS TIMEOUT VMS DESCRIPTION
	for s in $sel; do
		v=""
		for vm in $(cfg_get "$s" vms l1); do
			v="$v $vm:$(cfg_vm_get "$s" "$vm" kind)/$(cfg_vm_get "$s" "$vm" mem)M"
		done
		printf '%-26s %-20s %-9s %-26s %s\n' "$s" "$(cfg_get "$s" groups)" \
			"$(cfg_get "$s" timeout 300)s" "${v# }" "$(cfg_get "$s" description)"
	done
	groups=$(for s in "${CFG_NAMES[@]}"; do cfg_get "$s" groups; done | tr ' ' '\n' | sort -u | tr '\n' ' ')
	echo "groups: all $groups(make e2e E2E=NAME|GROUP[,...])"
	exit 0
	;;
run) ;;
-h | --help)
	sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
*)
	echo "usage: harness/e2e.sh list|run [options] [NAME|GROUP...]" >&2
	exit 2
	;;
esac

opts=()
while [ $# -gt 0 ]; do
	case "$1" in
	--no-libvirt) opts+=("$1") ;;
	--accel) opts+=("$1" "${2:?}"); shift ;;
	-*) echo "e2e: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
	shift
done
if [ $# -gt 0 ]; then
	# shellcheck disable=SC2046
	names=$(cfg_select $(words "$@")) || exit 2
else
	names=$(cfg_select all)
fi

mkdir -p "$BUILD/harness"
all=$BUILD/harness/summary.txt
: >"$all"
passed=0 failed=0 timedout=0 skipped=0
for n in $names; do
	rm -f "$BUILD/harness/$n/summary.txt"
	harness/run-scenario.sh "${opts[@]}" "$n"
	rc=$?
	case $rc in
	0) passed=$((passed + 1)) ;;
	77) skipped=$((skipped + 1)) ;;
	124) timedout=$((timedout + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	if [ ! -s "$BUILD/harness/$n/summary.txt" ]; then
		mkdir -p "$BUILD/harness/$n"
		echo "e2e $n: ERROR (harness/run-scenario.sh exited $rc before a result)" \
			>"$BUILD/harness/$n/summary.txt"
	fi
	cat "$BUILD/harness/$n/summary.txt" >>"$all"
done
total=$((passed + failed + timedout + skipped))
echo "e2e: $total scenarios, $passed passed, $((failed + timedout)) failed ($timedout timed out), $skipped skipped (junit: $BUILD/harness/*/junit.xml)" | tee -a "$all"
[ "$failed" -eq 0 ] || exit 1
[ "$timedout" -eq 0 ] || exit 124
[ "$total" -eq 0 ] || [ "$skipped" -lt "$total" ] || exit 77
exit 0
