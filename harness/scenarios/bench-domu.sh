#!/bin/sh
# bench-domu: the PV domU of bench-headline (as the headline's frontend:
# unmodified clients through argo.ko). Runs argo-bench each time dom0
# writes "SEQ ARG..." to its xenstore data/bench-cmd (a watch wakes it: no
# polling while the host measures), prints the output on its console as
# "BENCH SEQ LINE" (stderr "BENCH-ERR SEQ LINE") and "BENCH-END SEQ RC",
# which xenconsoled logs in dom0, then writes SEQ to data/bench-done.
# "SEQ quit" ends it.
# e2e-helper: a domU of bench-headline
. /usr/share/argo-e2e/lib.sh
. /scenarios/bench-agent.sh # bench_stats

dmesg -n 1 # nothing of the kernel's between the lines dom0 reads
domid=$(xenstore-read domid)
K=/local/domain/$domid/data
mkfifo /run/bench-cmd.fifo
xenstore-watch "$K/bench-cmd" >/run/bench-cmd.fifo &
WATCH=$!
exec 4</run/bench-cmd.fifo
if xenstore-write "$K/bench-ready" 1; then
	e2e_case ready PASS "domain $domid, watching $K/bench-cmd"
else
	e2e_case ready FAIL "cannot write $K/bench-ready"
	e2e_finish
fi
last=0
runs=0
failed=0
set -f
while IFS= read -r _ <&4; do
	cmd=$(xenstore-read "$K/bench-cmd" 2>/dev/null) || continue
	seq=${cmd%% *}
	[ "$seq" != "$last" ] && [ "$seq" != 0 ] || continue
	last=$seq
	args=${cmd#"$seq"}
	[ "$args" != " quit" ] || break
	# Its counters around the run (bench-agent.sh's bench_stats) go with
	# its stderr, as "stat-before KEY VALUE" and "stat-after KEY VALUE".
	bench_stats | sed 's/^/stat-before /' >/tmp/bench.stat
	# shellcheck disable=SC2086 # words, globbing off
	argo-bench $args >/tmp/bench.out 2>/tmp/bench.err
	rc=$?
	bench_stats | sed 's/^/stat-after /' >>/tmp/bench.stat
	cat /tmp/bench.stat >>/tmp/bench.err
	runs=$((runs + 1))
	[ "$rc" = 0 ] || failed=$((failed + 1))
	sed "s/^/BENCH $seq /" /tmp/bench.out
	sed "s/^/BENCH-ERR $seq /" /tmp/bench.err
	echo "BENCH-END $seq $rc"
	xenstore-write "$K/bench-done" "$seq"
done
set +f
kill "$WATCH" 2>/dev/null
if [ "$runs" -gt 0 ] && [ "$failed" = 0 ]; then
	e2e_case runs PASS "$runs runs of argo-bench"
else
	e2e_case runs FAIL "$runs runs of argo-bench, $failed failed"
fi
e2e_finish
