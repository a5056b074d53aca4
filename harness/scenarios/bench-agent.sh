# bench-agent: the command loop of bench-headline's VMs, sourced by
# bench-headline.sh (the L1 dom0) and bench-dd.sh (the driver domain).
# e2e-helper: sourced, not a scenario of its own
#
# The host (harness/bench-vm.py) drives every measurement: it sends a line
# on the virtio-serial port org.argo.bench.ctl, the VM answers on the same
# port, a line at a time:
#   host: run SEQ WHERE ARG...  argo-bench ARG... in WHERE: this VM
#                               ($BENCH_NAME) or a place bench_remote
#                               reaches ($BENCH_REMOTE: the dom0's domU)
#   host: status SEQ            this VM's relay: argo-relayctl status --json
#   host: stats SEQ             this VM's counters (bench_stats): context
#                               switches, interrupts, VIRQ_ARGO; in a Xen
#                               dom0 each domain's CPU time (xl list)
#   host: quit
#   VM:   ready NAME, fact KEY VALUE, problem TEXT (a set-up step failed),
#         out SEQ LINE (stdout), err SEQ LINE (stderr), end SEQ RC, bye
# Nothing but argo-bench, argo-relayctl and xl list runs on the host's word.
BENCH_CTL=org.argo.bench.ctl
BENCH_RAW=org.argo.bench.raw
BENCH_NAME=${BENCH_NAME:-vm}
BENCH_REMOTE=${BENCH_REMOTE:-}
BENCH_RELAY_CTL=${BENCH_RELAY_CTL:-}
BENCH_PROBLEMS=/run/argo-e2e/bench-problems

bench_say() { printf '%s\n' "$*" >&3; }

# bench_problem TEXT: a set-up step that failed, told to the host with
# "ready" (the VM has no other way to say it: its console decides nothing).
bench_problem() {
	echo "bench: problem: $*"
	echo "$*" >>"$BENCH_PROBLEMS"
}

# bench_reply SEQ RC OUT ERR: the files' lines, then the end.
bench_reply() {
	while IFS= read -r _l; do bench_say "out $1 $_l"; done <"$3"
	while IFS= read -r _l; do bench_say "err $1 $_l"; done <"$4"
	bench_say "end $1 $2"
}

# bench_agent FACTS-FUNCTION: answers the host until it says quit. The
# port reads end-of-file while the host end is closed: then it waits.
bench_agent() {
	exec 3<>"/dev/virtio-ports/$BENCH_CTL" || return 1
	bench_say "ready $BENCH_NAME"
	[ ! -s "$BENCH_PROBLEMS" ] || while IFS= read -r _l; do bench_say "problem $_l"; done <"$BENCH_PROBLEMS"
	"$1" | while IFS= read -r _l; do bench_say "fact $_l"; done
	BENCH_RUNS=0
	BENCH_FAILED=0
	set -f
	while :; do
		if ! IFS= read -r _line <&3; then
			sleep 0.2
			continue
		fi
		# shellcheck disable=SC2086 # words, globbing off
		set -- $_line
		case "${1:-}" in
		run)
			_seq=$2 _where=$3
			shift 3
			BENCH_RUNS=$((BENCH_RUNS + 1))
			if [ "$_where" = "$BENCH_NAME" ]; then
				# On one vCPU: its clock. A PV guest's vCPUs read time
				# from their own copy of Xen's, which under TCG can
				# lag another's by more than a round trip (a 0 ns
				# round trip was seen in dom0).
				taskset -c 0 argo-bench "$@" >/tmp/bench.out 2>/tmp/bench.err
				_rc=$?
				bench_reply "$_seq" "$_rc" /tmp/bench.out /tmp/bench.err
			else
				case " $BENCH_REMOTE " in
				*" $_where "*) bench_remote "$_where" "$_seq" "$@" ;;
				*)
					echo "no place $_where here" >/tmp/bench.err
					: >/tmp/bench.out
					_rc=127
					bench_reply "$_seq" 127 /tmp/bench.out /tmp/bench.err
					;;
				esac
			fi
			[ "${_rc:-1}" = 0 ] || BENCH_FAILED=$((BENCH_FAILED + 1))
			;;
		status)
			argo-relayctl -s "$BENCH_RELAY_CTL" status --json >/tmp/bench.out 2>/tmp/bench.err
			bench_reply "$2" $? /tmp/bench.out /tmp/bench.err
			;;
		stats)
			bench_stats >/tmp/bench.out 2>/tmp/bench.err
			bench_reply "$2" $? /tmp/bench.out /tmp/bench.err
			;;
		quit)
			bench_say "bye"
			break
			;;
		*) bench_say "err 0 unknown request: $_line" ;;
		esac
	done
	set +f
	exec 3>&-
}

# bench_facts_common PREFIX: what every VM says about itself.
bench_facts_common() {
	echo "${1}_kernel $(uname -r)"
	echo "${1}_cpus $(grep -c '^processor' /proc/cpuinfo)"
	echo "${1}_cpu_model $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "${1}_memory_kib $(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
	echo "${1}_cpu_flags_aes $(grep -qw aes /proc/cpuinfo && echo yes || echo no)"
}

# bench_stats: "KEY VALUE" lines of counters that load does not move:
# context switches and interrupts since boot, VIRQ_ARGO's interrupts (the
# argo line of /proc/interrupts, every CPU); in a dom0 with xl, each
# domain's CPU seconds ("xen_cpu NAME SECONDS", 0.1 s steps).
# Then the VM's CPU in clock ticks (/proc/stat: busy, idle, steal: a Xen
# guest's vCPU runnable while Xen ran another), and each program's
# ("proc COMM TICKS", user + system, all its processes, those that ran).
bench_stats() {
	awk '$1 == "cpu" { print "cpu_busy", $2 + $3 + $4 + $7 + $8; print "cpu_idle", $5 + $6;
		print "cpu_steal", $9 }' /proc/stat
	(set +f && cat /proc/[0-9]*/stat 2>/dev/null) | # the agent runs with globbing off
		sed -n 's/^[0-9]* (\(.*\)) [A-Za-z] \([-0-9]* \)\{10\}\([0-9]*\) \([0-9]*\) .*/\1 \3 \4/p' |
		awk '{ t = $(NF - 1) + $NF; NF -= 2; c = $0; gsub(/ /, "_", c); n[c] += t }
			END { for (c in n) if (n[c] > 0) print "proc", c, n[c] }'
	sed -n 's/^ctxt /ctxt /p' /proc/stat
	sed -n 's/^intr \([0-9]*\).*/intr \1/p' /proc/stat
	awk '/argo/ { n = 0; for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) n += $i; print "argo_irq", n; exit }' /proc/interrupts
	if command -v xl >/dev/null 2>&1 && [ "$(e2e_role)" = dom0 ]; then
		xl list 2>/dev/null | awk 'NR > 1 && NF >= 6 { print "xen_cpu", $1, $NF }'
	fi
}
