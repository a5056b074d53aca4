#!/bin/bash
# Runs the end-to-end scenarios in QEMU (harness/run-scenario.sh): every
# NAME.sh of harness/scenarios and l1/test/scenarios (E2E_SCENARIO_DIRS)
# but those marked "# e2e-helper" (run inside another scenario's domUs),
# or only those named in E2E (separated by commas or spaces). Needs the images (make images). Writes each scenario's
# results under $BUILD/harness/NAME/ and all summary lines to
# $BUILD/harness/summary.txt; exits non-zero when any scenario failed.
# Usage: [E2E=smoke,domu-smoke] [BUILD=build] harness/e2e.sh
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
BUILD=${BUILD:-build}
export BUILD

if [ -n "${E2E:-}" ]; then
	names=$(echo "$E2E" | tr ',' ' ')
else
	names=""
	for d in ${E2E_SCENARIO_DIRS:-harness/scenarios l1/test/scenarios}; do
		for f in "$d"/*.sh; do
			[ -e "$f" ] || continue
			# Helpers of another scenario (the domUs it starts) are not run.
			grep -q '^# e2e-helper' "$f" && continue
			names="$names $(basename "$f" .sh)"
		done
	done
fi
[ -n "${names// /}" ] || {
	echo "e2e: no scenarios found" >&2
	exit 2
}

mkdir -p "$BUILD/harness"
all=$BUILD/harness/summary.txt
: >"$all"
passed=0 failed=0
for n in $names; do
	rm -f "$BUILD/harness/$n/summary.txt"
	if harness/run-scenario.sh "$n"; then
		passed=$((passed + 1))
	else
		rc=$?
		failed=$((failed + 1))
		if [ ! -s "$BUILD/harness/$n/summary.txt" ]; then
			mkdir -p "$BUILD/harness/$n"
			echo "e2e $n: ERROR (harness/run-scenario.sh exited $rc before a result)" \
				>"$BUILD/harness/$n/summary.txt"
		fi
	fi
	cat "$BUILD/harness/$n/summary.txt" >>"$all"
done
echo "e2e: $((passed + failed)) scenarios, $passed passed, $failed failed (junit: $BUILD/harness/*/junit.xml)" | tee -a "$all"
[ "$failed" -eq 0 ]
