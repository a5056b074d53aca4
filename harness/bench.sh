#!/bin/bash
# `make bench`: what each path costs, beside baselines measured in the same
# run. Writes build/bench/report.json, build/bench/results.txt and the plots
# build/bench/*.png (harness/bench-report.py); docs/benchmarks.md explains
# the method and how to read them.
#
#   BENCH=quick   sim paths, a few interleaved turns: under a minute (CI)
#   BENCH=full    more turns and sizes, instructions of every relay and
#                 socat hop; and the VM paths once harness/bench-vm.sh exists
#
# Paths (every one measured with argo-bench, the same client and server):
#   unix, tcp          a plain socket ping-pong: the baselines
#   socat-N            unix through N socat forwarders: what a plain byte
#                      hop costs
#   sim                one sim fabric (argo-simd): client -> server
#   relay-T-N          N relay hops over transport T (unix, tcp, serial on a
#                      pty, argo): N + 1 fabrics joined by relays
#                      (harness/sim-chain.sh); the server at l0 is imported
#                      as port 7000 of the innermost fabric
#
# Latency: the paths take turns (the order rotates from turn to turn) so
# that the machine's drift lands on all alike; ratios are medians of
# per-turn ratios. Costs per one-way message (system calls and context
# switches from perf's tracepoints, instructions from callgrind) come from
# separate runs, since counting slows processes down.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
OUT="$BUILD/bench"
RAW="$OUT/raw"
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/sim-chain.sh"

BENCH=${BENCH:-quick}
case "$BENCH" in
quick)
	TURNS=${BENCH_TURNS:-5}      # latency turns
	PER=${BENCH_PER:-300}        # round trips per path and turn
	LAT_SIZES=${BENCH_LAT_SIZES:-64}
	TPUT_SECS=${BENCH_TPUT_SECS:-0.15} # seconds per size
	COST_N=${BENCH_COST_N:-500} # round trips of a cost run (and 3x that)
	CALLGRIND_ROLES="simd relay-mid socat-mid"
	;;
full)
	TURNS=${BENCH_TURNS:-27}
	PER=${BENCH_PER:-500}
	LAT_SIZES=${BENCH_LAT_SIZES:-64,1K,16K,64K}
	TPUT_SECS=${BENCH_TPUT_SECS:-1}
	COST_N=${BENCH_COST_N:-2000}
	CALLGRIND_ROLES="simd relay-mid socat-mid"
	;;
*)
	echo "bench: BENCH is quick or full, not '$BENCH'" >&2
	exit 2
	;;
esac

for tool in perf valgrind callgrind_control socat gnuplot python3; do
	command -v "$tool" >/dev/null || {
		echo "bench: $tool is missing (harness/install-deps.sh bench)" >&2
		exit 1
	}
done

RUN=$(mktemp -d /tmp/argo-bench.XXXXXX)
STARTED=$(date +%s)
rm -rf "$RAW"
mkdir -p "$RAW/lat" "$RAW/tput" "$RAW/cost"
PIDS=() # everything started here outside the chains, stopped at exit

cleanup() {
	local p
	for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
	chain_down >/dev/null 2>&1
	rm -rf "$RUN"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '[%3ds] %s\n' $(($(date +%s) - STARTED)) "$*"; }
fail() {
	echo "bench: $*" >&2
	exit 1
}

# ---- Servers and paths ---------------------------------------------------

# bg LOG CMD...: starts CMD in the background (its output to LOG); $! kept.
bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	PIDS+=($!)
	LAST_PID=$!
}

# A path: its id, how a client reaches it (argo-bench target options), a
# label, its kind and its hop count. paths.tsv feeds the report.
declare -A TARGET RELAY_PID SERVER_OF
PATH_IDS=()
add_path() { # ID KIND HOPS TRANSPORT LABEL TARGET...
	local id=$1 kind=$2 hops=$3 transport=$4 label=$5
	shift 5
	TARGET[$id]="$*"
	PATH_IDS+=("$id")
	printf '%s\t%s\t%s\t%s\t%s\n' "$id" "$kind" "$hops" "$transport" "$label" >>"$RAW/paths.tsv"
}

server_argo() { # DIR SOCKET: argo-bench server as domain 5 of that fabric
	bg "$1/server.log" "$BIN/argo-bench" server --fabric "sim:$2" --port 7000
	wait_for_line "$1/server.log" "serving port 7000" 10 || fail "server on $2 did not start"
	SERVER_PID=$LAST_PID
	SERVER_OF[$1]=$LAST_PID
}

# socat_chain DIR HOPS [once]: HOPS forwarders in a row, from DIR/in.sock to
# the server at DIR/s0.sock. "once": each forwarder serves one connection
# in its own process (the cost runs attach to it); else one child per
# connection (fork).
socat_chain() {
	local dir=$1 hops=$2 fork=,fork i
	[ "${3:-}" = once ] && fork=""
	mkdir -p "$dir"
	bg "$dir/server.log" "$BIN/argo-bench" server --listen "unix:$dir/s0.sock"
	wait_for_line "$dir/server.log" listening 10 || fail "socat chain server did not start"
	SOCAT_SERVER_PID=$LAST_PID
	SOCAT_PIDS=()
	for ((i = 1; i <= hops; i++)); do
		local from="$dir/s$i.sock" to="$dir/s$((i - 1)).sock"
		[ "$i" -eq "$hops" ] && from="$dir/in.sock"
		bg "$dir/socat$i.log" socat "UNIX-LISTEN:$from,unlink-early$fork" "UNIX-CONNECT:$to"
		SOCAT_PIDS+=("$LAST_PID")
		local tries=100
		while [ ! -S "$from" ] && [ $tries -gt 0 ]; do sleep 0.02; tries=$((tries - 1)); done
		[ -S "$from" ] || fail "socat $i did not listen"
	done
}

# relay_chain DIR LEVELS TRANSPORT: a chain (harness/sim-chain.sh) with the
# server at l0; the client of the innermost level reaches it as (0, 7000).
relay_chain() {
	local dir=$1 levels=$2 transport=$3
	mkdir -p "$dir"
	case "$transport" in
	unix | tcp)
		chain_up "$dir" "$BIN" "$levels" "$transport" || fail "chain $dir did not come up"
		;;
	serial)
		# relay l1 opens a pty whose master socat joins to relay l0's
		# socket, as QEMU's chardev joins a guest's serial port to the host.
		bg "$dir/socat-pty.log" socat "PTY,link=$dir/pty,raw,echo=0" \
			"UNIX-CONNECT:$dir/serial.sock,retry=200,interval=0.05"
		local tries=100
		while [ ! -e "$dir/pty" ] && [ $tries -gt 0 ]; do sleep 0.02; tries=$((tries - 1)); done
		CHAIN_DOWN_LISTEN_0="$dir/serial.sock" CHAIN_UP_CONNECT_1="$dir/pty" \
			chain_up "$dir" "$BIN" "$levels" serial || fail "serial chain did not come up"
		;;
	argo)
		# The link is a ring pair on a third fabric (tests/integration/
		# test-relay-argo.sh): relay l0 is its domain 1.
		local pid
		pid=$(start_simd "$BIN" "$dir/links.sock" "$dir/simd-links.log" -m \
			-D "1=$dir/links-l0.sock") || fail "links fabric did not start"
		CHAIN_PIDS+=("$pid")
		CHAIN_DOWN_LISTEN_0="sim:$dir/links-l0.sock@7100" \
			CHAIN_UP_CONNECT_1="sim:$dir/links.sock@1:7100" \
			chain_up "$dir" "$BIN" "$levels" argo || fail "argo chain did not come up"
		;;
	esac
	# chain_up numbers relays by level: keep each chain's before the next.
	local i
	for i in "${!CHAIN_RELAY_PIDS[@]}"; do
		RELAY_PID["$dir/$i"]=${CHAIN_RELAY_PIDS[$i]}
		PIDS+=("${CHAIN_RELAY_PIDS[$i]}")
	done
	CHAIN_RELAY_PIDS=()
	server_argo "$dir" "$dir/l0-dom5.sock"
}

echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)" >"$RAW/meta"
step "bench $BENCH: $TURNS turns of $PER round trips per path, sizes $LAT_SIZES"
: >"$RAW/paths.tsv"

step "baselines: unix and TCP servers, socat chains"
mkdir -p "$RUN/unix" "$RUN/tcp"
bg "$RUN/unix/server.log" "$BIN/argo-bench" server --listen "unix:$RUN/unix/s.sock"
TCP_PORT=$((20000 + $$ % 20000))
bg "$RUN/tcp/server.log" "$BIN/argo-bench" server --listen "tcp:127.0.0.1:$TCP_PORT"
wait_for_line "$RUN/unix/server.log" listening 10 || fail "unix server"
wait_for_line "$RUN/tcp/server.log" listening 10 || fail "tcp server"
add_path unix baseline 0 unix "unix socket" --connect "unix:$RUN/unix/s.sock"
add_path tcp baseline 0 tcp "TCP loopback" --connect "tcp:127.0.0.1:$TCP_PORT"
socat_chain "$RUN/socat1" 1
add_path socat-1 socat 1 unix "socat, 1 hop" --connect "unix:$RUN/socat1/in.sock"
socat_chain "$RUN/socat2" 2
add_path socat-2 socat 2 unix "socat, 2 hops" --connect "unix:$RUN/socat2/in.sock"

step "one sim fabric"
mkdir -p "$RUN/sim"
SIMD_PID=$(start_simd "$BIN" "$RUN/sim/s.sock" "$RUN/sim/simd.log" -v -m -D "5=$RUN/sim/d5.sock") ||
	fail "argo-simd did not start"
CHAIN_PIDS+=("$SIMD_PID")
server_argo "$RUN/sim" "$RUN/sim/d5.sock"
SIM_SERVER_PID=$SERVER_PID
add_path sim sim 0 none "sim fabric" --fabric "sim:$RUN/sim/s.sock" --to 5:7000

step "relay chains: unix (1 and 2 hops), tcp, serial, argo (1 hop)"
relay_chain "$RUN/r-unix-1" 2 unix
add_path relay-unix-1 relay 1 unix "relays, 1 hop over unix" --fabric "sim:$RUN/r-unix-1/l1.sock" --to 0:7000
relay_chain "$RUN/r-unix-2" 3 unix
add_path relay-unix-2 relay 2 unix "relays, 2 hops over unix" --fabric "sim:$RUN/r-unix-2/l2.sock" --to 0:7000
relay_chain "$RUN/r-tcp-1" 2 tcp
add_path relay-tcp-1 relay 1 tcp "relays, 1 hop over TCP" --fabric "sim:$RUN/r-tcp-1/l1.sock" --to 0:7000
relay_chain "$RUN/r-serial-1" 2 serial
add_path relay-serial-1 relay 1 serial "relays, 1 hop over a pty" --fabric "sim:$RUN/r-serial-1/l1.sock" --to 0:7000
relay_chain "$RUN/r-argo-1" 2 argo
add_path relay-argo-1 relay 1 argo "relays, 1 hop over an argo link" --fabric "sim:$RUN/r-argo-1/l1.sock" --to 0:7000

# ---- Latency: interleaved turns --------------------------------------------

n=${#PATH_IDS[@]}
step "latency: $TURNS turns x $n paths"
for ((t = 0; t < TURNS; t++)); do
	for ((k = 0; k < n; k++)); do
		id=${PATH_IDS[$(((t + k) % n))]}
		mkdir -p "$RAW/lat/$id"
		# shellcheck disable=SC2086 # the target is words on purpose
		"$BIN/argo-bench" latency ${TARGET[$id]} --sizes "$LAT_SIZES" --count "$PER" \
			--warmup 50 --json --label "$id" >"$RAW/lat/$id/turn-$t.json" 2>"$RUN/lat.err" ||
			fail "latency of $id, turn $t: $(cat "$RUN/lat.err")"
	done
	step "latency: turn $((t + 1)) of $TURNS done"
done

# ---- Throughput --------------------------------------------------------------

for id in unix tcp sim relay-unix-1 socat-1; do
	step "throughput: $id, 16 B to 64 KiB, $TPUT_SECS s per size"
	# shellcheck disable=SC2086
	"$BIN/argo-bench" throughput ${TARGET[$id]} --sizes all --duration "$TPUT_SECS" \
		--warmup 100 --json --label "$id" >"$RAW/tput/$id.json" 2>"$RUN/tput.err" ||
		fail "throughput of $id: $(cat "$RUN/tput.err")"
done

# ---- Costs per message -------------------------------------------------------

# perf_run DIR RUN ROLE=PID...: system calls and context switches of each
# process (and of the client, role "client") during one client run on
# $COST_PATH: COST_N round trips for run 1, 3 * COST_N for run 2. The
# report takes the difference of the two runs, which cancels the client's
# set-up and tear-down.
perf_run() {
	local dir=$1 run=$2 n r pid perfs=()
	shift 2
	n=$((run == 1 ? COST_N : 3 * COST_N))
	mkdir -p "$dir/run$run"
	echo "$n" >"$dir/run$run/round_trips"
	for r in "$@"; do
		perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "${r#*=}" \
			-o "$dir/run$run/${r%%=*}.perf" 2>/dev/null &
		perfs+=($!)
	done
	sleep 0.3 # attached
	# shellcheck disable=SC2086 # the target is words on purpose
	perf stat -x, -e raw_syscalls:sys_enter,context-switches -o "$dir/run$run/client.perf" \
		"$BIN/argo-bench" latency ${TARGET[$COST_PATH]} --count "$n" --warmup 0 \
		>/dev/null 2>"$RUN/cost.err" || fail "cost run on $COST_PATH: $(cat "$RUN/cost.err")"
	for pid in "${perfs[@]}"; do kill -INT "$pid" 2>/dev/null; done
	for pid in "${perfs[@]}"; do wait "$pid"; done
}
perf_costs() { # ID ROLE=PID...: both runs on path ID
	local id=$1
	shift
	COST_PATH=$id perf_run "$RAW/cost/$id" 1 "$@"
	COST_PATH=$id perf_run "$RAW/cost/$id" 2 "$@"
}
chain_roles() { # DIR LEVELS: role=pid of every daemon of a chain
	local dir=$1 levels=$2 i
	for ((i = levels - 1; i >= 0; i--)); do
		printf 'argo-simd-l%d=%s relay-l%d=%s ' "$i" "$(cat "$dir/l$i.sock.pid")" "$i" \
			"${RELAY_PID[$dir/$i]}"
	done
	printf 'server=%s' "${SERVER_OF[$dir]}"
}

step "costs: system calls and context switches per message (perf), $COST_N and $((3 * COST_N)) round trips"
perf_costs unix server="${PIDS[0]}"
perf_costs sim argo-simd="$SIMD_PID" server="$SIM_SERVER_PID"
# shellcheck disable=SC2046 # role=pid words
perf_costs relay-unix-1 $(chain_roles "$RUN/r-unix-1" 2)
# shellcheck disable=SC2046
perf_costs relay-unix-2 $(chain_roles "$RUN/r-unix-2" 3)
# socat: forwarders that serve one connection, in their own process (the
# ones above fork a child per connection), started again for each run.
for hops in 1 2; do
	for run in 1 2; do
		socat_chain "$RUN/sc$hops-$run" "$hops" once
		TARGET[socat-cost]="--connect unix:$RUN/sc$hops-$run/in.sock"
		roles=("server=$SOCAT_SERVER_PID")
		for ((i = hops; i >= 1; i--)); do roles+=("socat-$i=${SOCAT_PIDS[$((i - 1))]}"); done
		COST_PATH=socat-cost perf_run "$RAW/cost/socat-$hops" "$run" "${roles[@]}"
	done
done

# callgrind_run NAME PID N: instructions of process PID (running under
# callgrind) during N round trips on $COST_PATH, after a warm-up: zeroed
# before, dumped after (callgrind_control), so nothing else is counted.
callgrind_run() {
	local name=$1 pid=$2 n=$3 dump
	# shellcheck disable=SC2086
	"$BIN/argo-bench" latency ${TARGET[$COST_PATH]} --count 200 --warmup 0 --timeout 60000 \
		>/dev/null 2>&1 || fail "callgrind warm-up on $COST_PATH"
	callgrind_control -z "$pid" >/dev/null 2>&1 || fail "callgrind_control -z $pid"
	# shellcheck disable=SC2086
	"$BIN/argo-bench" latency ${TARGET[$COST_PATH]} --count "$n" --warmup 0 --timeout 60000 \
		>/dev/null 2>"$RUN/cg.err" || fail "callgrind run on $COST_PATH: $(cat "$RUN/cg.err")"
	callgrind_control -d "$pid" >/dev/null 2>&1 || fail "callgrind_control -d $pid"
	dump=$(ls -t "$RUN/cg/$name".* 2>/dev/null | head -n 1)
	[ -n "$dump" ] || fail "no callgrind dump for $name"
	mkdir -p "$RAW/cost/callgrind"
	printf '%s %s %s\n' "$name" "$n" "$(sed -n 's/^summary: //p' "$dump")" >>"$RAW/cost/callgrind/instructions"
}
CG="valgrind --tool=callgrind --callgrind-out-file"
mkdir -p "$RUN/cg"
for role in $CALLGRIND_ROLES; do
	step "costs: instructions per message of $role (callgrind)"
	case "$role" in
	simd)
		d="$RUN/cg-sim"
		mkdir -p "$d"
		bg "$d/simd.log" $CG="$RUN/cg/simd.%p" "$BIN/argo-simd" -v -m -s "$d/s.sock" -D "5=$d/d5.sock"
		pid=$LAST_PID
		wait_for_line "$d/simd.log" "serving" 30 || fail "argo-simd under callgrind"
		grep -o 'engine [a-z_]*' "$d/simd.log" | head -n 1 | sed 's/^/simd_callgrind_/;s/ /=/' >>"$RAW/meta"
		server_argo "$d" "$d/d5.sock"
		TARGET[cg-sim]="--fabric sim:$d/s.sock --to 5:7000"
		COST_PATH=cg-sim callgrind_run simd "$pid" "$COST_N"
		;;
	relay-mid)
		d="$RUN/cg-relay"
		mkdir -p "$d"
		CHAIN_RELAY_WRAP_1="$CG=$RUN/cg/relay-mid.%p" CHAIN_NO_WAIT_1=1 CHAIN_NO_WAIT_2=1 \
			chain_up "$d" "$BIN" 3 unix || fail "chain for callgrind"
		chain_wait_link "$d" "$BIN" 1 up 60 && chain_wait_link "$d" "$BIN" 2 up 60 ||
			fail "chain for callgrind: links"
		for i in "${!CHAIN_RELAY_PIDS[@]}"; do
			RELAY_PID["$d/$i"]=${CHAIN_RELAY_PIDS[$i]}
			PIDS+=("${CHAIN_RELAY_PIDS[$i]}")
		done
		CHAIN_RELAY_PIDS=()
		server_argo "$d" "$d/l0-dom5.sock"
		TARGET[cg-relay]="--fabric sim:$d/l2.sock --to 0:7000"
		COST_PATH=cg-relay callgrind_run relay-mid "${RELAY_PID[$d/1]}" "$COST_N"
		;;
	socat-mid)
		# socat serves one connection without fork and leaves; callgrind
		# cannot be zeroed before its connection starts, so two fresh
		# forwarders, COST_N and 3 * COST_N round trips, and the
		# difference of their totals (which cancels start-up).
		d="$RUN/cg-socat"
		mkdir -p "$d"
		bg "$d/server.log" "$BIN/argo-bench" server --listen "unix:$d/s0.sock"
		wait_for_line "$d/server.log" listening 10 || fail "socat callgrind server"
		totals=()
		for n in "$COST_N" "$((3 * COST_N))"; do
			rm -f "$d/in.sock"
			bg "$d/socat-$n.log" $CG="$RUN/cg/socat-$n.%p" socat \
				"UNIX-LISTEN:$d/in.sock,unlink-early" "UNIX-CONNECT:$d/s0.sock"
			pid=$LAST_PID
			tries=300
			while [ ! -S "$d/in.sock" ] && [ $tries -gt 0 ]; do sleep 0.05; tries=$((tries - 1)); done
			"$BIN/argo-bench" latency --connect "unix:$d/in.sock" --count "$n" --warmup 0 \
				--timeout 60000 >/dev/null 2>"$RUN/cg.err" ||
				fail "socat callgrind run: $(cat "$RUN/cg.err")"
			wait "$pid" 2>/dev/null
			totals+=("$(sed -n 's/^summary: //p' "$RUN/cg/socat-$n.$pid")")
		done
		printf '%s %s %s\n' socat-mid "$((2 * COST_N))" "$((totals[1] - totals[0]))" \
			>>"$RAW/cost/callgrind/instructions"
		;;
	esac
done

# ---- The VM paths (BENCH=full) -----------------------------------------------

# Xen under QEMU (domU to dom0, a raw virtio-serial echo, the headline path
# through both relays) needs the nested harness of issue 9; its script plugs
# in here and writes more paths into $RAW in the same formats.
if [ "$BENCH" = full ]; then
	if [ -x "$HERE/bench-vm.sh" ]; then
		step "VM paths (harness/bench-vm.sh)"
		BUILD=$BUILD RAW=$RAW "$HERE/bench-vm.sh" || fail "VM paths"
		echo "vm_paths=measured" >>"$RAW/meta"
	else
		step "VM paths: not measured (harness/bench-vm.sh does not exist yet)"
		echo "vm_paths=not measured: harness/bench-vm.sh, which needs the nested Xen harness, does not exist yet" >>"$RAW/meta"
	fi
else
	echo "vm_paths=not measured: BENCH=quick measures the sim paths only" >>"$RAW/meta"
fi

# Leaf endpoints against a sim domain (harness/bench-leaf.sh), in the same
# run; not in the quick variant that make check runs.
if [ "$BENCH" != quick ]; then
	step "leaf endpoints (bench-leaf.sh)"
	BUILD="$BUILD" "$HERE/bench-leaf.sh" >"$OUT/leaf.log" 2>&1 || fail "bench-leaf failed (see $OUT/leaf.log)"
fi

# ---- Machine facts, then the report ------------------------------------------

{
	echo "bench=$BENCH"
	echo "turns=$TURNS"
	echo "round_trips_per_turn=$PER"
	echo "latency_sizes=$LAT_SIZES"
	echo "throughput_seconds_per_size=$TPUT_SECS"
	echo "cost_round_trips=$COST_N"
	echo "date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	echo "commit=$(git -C "$HERE/.." describe --always --dirty 2>/dev/null || echo unknown)"
	echo "argo_bench=$("$BIN/argo-bench" --version)"
	echo "simd_engine=$(grep -o 'engine [a-z_]*' "$RUN/sim/simd.log" | head -n 1 | cut -d' ' -f2)"
	echo "cpus=$(nproc)"
	echo "cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
	echo "memory_kib=$(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo)"
	echo "kernel=$(uname -r)"
	echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)"
	echo "socat=$(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -n 1)"
	echo "seconds=$(($(date +%s) - STARTED))"
} >>"$RAW/meta"

step "report: $OUT/report.json, plots, $OUT/results.txt"
python3 "$HERE/bench-report.py" "$RAW" "$OUT" || fail "the report could not be made"
cat "$OUT/results.txt"
if [ "$BENCH" != quick ]; then
	tail -n 5 "$OUT/leaf.txt"
fi
