# Counting for the integration test scripts: PASS/FAIL/SKIP lines, and the
# one summary line tests/run-all.sh reads. Source it; then call
#   result NAME RC WHY   (RC 0: passed; otherwise failed, saying WHY)
#   skipped NAME WHY     (could not run here; never counted as passed)
#   results_summary      (prints the summary; returns 0 only if none failed)
pass=0
fail=0
skip=0
result() {
	if [ "$2" -eq 0 ]; then
		echo "PASS $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1: $3"
		fail=$((fail + 1))
	fi
}
skipped() {
	echo "SKIP $1: $2"
	skip=$((skip + 1))
}
results_summary() {
	if [ "$skip" -gt 0 ]; then
		echo "$pass passed, $fail failed, $skip skipped"
	else
		echo "$pass passed, $fail failed"
	fi
	[ "$fail" -eq 0 ]
}
