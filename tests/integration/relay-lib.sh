# Shell helpers of the relay integration tests (sourced, bash; after
# harness/lib.sh and harness/sim-chain.sh, with BIN set): reading the
# relays' counters, waiting for conditions, a man in the middle, a case's
# end, a stream through a chain.

# Peak resident memory of a process, in KiB.
peak_kib() {
	sed -n 's/^VmHWM:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0
}

# A receiver at L0 (domain 5, port 7000) and a sender at the innermost level.
# stream_through DIR LEVELS COUNT [recv options...]: 0 when all arrived.
stream_through() {
	local dir=$1 levels=$2 count=$3 inner=$(( $2 - 1 )) rpid rc
	shift 3
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$count" \
		--timeout 20000 "$@" >"$dir/recv.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/recv.log" "receiving on port 7000" 5 || return 1
	"$BIN/argo-stream" send --fabric "sim:$dir/l$inner.sock" --to 0:7000 --count "$count" \
		--timeout 20000 >"$dir/send.log" 2>&1
	rc=$?
	wait "$rpid" || rc=1
	return $rc
}

# A link's field from argo-relayctl links --json: LINK's "FIELD" (numbers,
# or the state; the drops are "mac", "seq", "malformed", "spoofed").
link_field() {
	"$BIN/argo-relayctl" -s "$1" links --json 2>/dev/null | sed 's/{"name":"/\n/g' |
		grep "^$2\"" | sed -n "s/.*\"$3\":\"\{0,1\}\([^,\"}]*\).*/\1/p" | head -n 1
}

# A relay's counter from argo-relayctl counters --json ("policy", "no_ring",
# "reports_sent", "local_delivered", ...).
relay_counter() {
	"$BIN/argo-relayctl" -s "$1" counters --json 2>/dev/null |
		sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" | head -n 1
}

# counter_is CTL NAME VALUE: the relay's counter NAME is VALUE now.
counter_is() {
	[ "$(relay_counter "$1" "$2")" = "$3" ]
}

# wait_until SECONDS COMMAND...: 0 as soon as COMMAND succeeds, 1 if it
# never did.
wait_until() {
	local tries=$(( $1 * 20 ))
	shift
	while [ $tries -gt 0 ]; do
		"$@" && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	return 1
}

# field_is CTL LINK FIELD VALUE
field_is() {
	[ "$(link_field "$1" "$2" "$3")" = "$4" ]
}

# start_mitm DIR LISTEN CONNECT OPTIONS...: test-mitm in the background,
# its stderr in DIR/mitm.log; MITM_PID.
start_mitm() {
	local dir=$1 listen=$2 connect=$3
	shift 3
	"$BIN/test-mitm" --listen "$listen" --connect "$connect" --seed "$RANDOM$RANDOM" "$@" \
		2>"$dir/mitm.log" &
	MITM_PID=$!
	EXTRA_PIDS+=("$MITM_PID")
	wait_for_line "$dir/mitm.log" "listening on" 5
}

stop_mitm() {
	kill -TERM "$MITM_PID" 2>/dev/null
	wait "$MITM_PID" 2>/dev/null
}

# end_case NAME DIR RC: stops the topology. A daemon that does not stop
# cleanly (a relay's exit status, a sanitizer report in a log of DIR) fails
# NAME-clean-exit. DIR is removed when all went well, kept otherwise.
end_case() {
	local name=$1 dir=$2 rc=$3 bad="" logs
	chain_down || bad="a daemon did not stop cleanly"
	logs=$(grep -lE 'Sanitizer|runtime error' "$dir"/*.log 2>/dev/null | tr '\n' ' ')
	[ -n "$logs" ] && bad="sanitizer report in $logs"
	if [ -n "$bad" ]; then
		result "$name-clean-exit" 1 "$bad (logs in $dir)"
	elif [ "$rc" -eq 0 ]; then
		rm -rf "$dir"
	fi
}


# rogue_link NAME PATH PEER KEY [MORE-LINES]: a [link] section listening on
# unix socket PATH for a neighbour PEER (test-rogue) holding KEY.
rogue_link() {
	printf '[link %s]\ntransport = unix\nlisten = %s\npeer = %s\nkey = %s\n' "$1" "$2" "$3" "$4"
	[ -n "${5:-}" ] && printf '%s\n' "$5"
	return 0
}

# A process's resident memory now (VmRSS), in KiB.
rss_kib() {
	sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$1/status" 2>/dev/null || echo 0
}

# ---- A link through a proxy that can be cut ----

# proxy_start LISTEN CONNECT: a socat proxy from unix socket LISTEN to
# CONNECT, in a process group of its own (so that a cut takes the
# connections it forked too); PROXY_PID.
proxy_start() {
	setsid socat UNIX-LISTEN:"$1",fork,unlink-early UNIX-CONNECT:"$2" 2>/dev/null &
	PROXY_PID=$!
}

# proxy_cut PID: kills the proxy and its connections. The process too, in
# case it has not made its group yet (killed just after proxy_start).
proxy_cut() {
	kill -KILL -- -"$1" 2>/dev/null
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	return 0
}

# chain_up_proxied DIR BIN LEVELS [custody]: a chain of LEVELS unix links
# whose l1->l0 link runs through a proxy that can be cut (PROXY_PID); with
# "custody", each relay keeps its state in DIR/state-l<i>, so that it can be
# SIGKILLed and restarted without loss. Returns 1 if the link did not come
# up; the caller still cuts the proxy and takes the chain down.
chain_up_proxied() {
	local dir=$1 bin=$2 levels=$3 i rc=0
	if [ "${4:-}" = custody ]; then
		for ((i = 0; i < levels; i++)); do
			mkdir -p "$dir/state-l$i"
			printf -v "CHAIN_EXTRA_RELAY_CONF_$i" 'state_dir = %s' "$dir/state-l$i"
			export "CHAIN_EXTRA_RELAY_CONF_$i"
		done
	fi
	CHAIN_UP_CONNECT_1="$dir/proxy.sock" CHAIN_NO_WAIT_1=1 chain_up "$dir" "$bin" "$levels" unix || rc=1
	for ((i = 0; i < levels; i++)); do
		unset "CHAIN_EXTRA_RELAY_CONF_$i"
	done
	proxy_start "$dir/proxy.sock" "$dir/l0-down.sock"
	[ $rc -eq 0 ] && chain_wait_link "$dir" "$bin" 1 up 10
}

# ---- Accounting (issue 11; harness/accounting.py says what is summed) ----

ACCOUNTING=${ACCOUNTING:-$(dirname "${BASH_SOURCE[0]}")/../../harness/accounting.py}
# Debian's python3 (install-deps.sh) when it is there: a version manager's
# shim in front of it can take seconds to start on a loaded machine.
PYTHON=${PYTHON:-$(command -v /usr/bin/python3 || command -v python3)}

# simd_snapshot DIR LEVEL: argo-simd of that level prints its counters
# (SIGUSR1) into DIR/simd-l<LEVEL>.log; returns once the new lines are there.
simd_snapshot() {
	local log="$1/simd-l$2.log" before tries=100
	before=$(grep -c 'argo-simd: domain 0:' "$log" 2>/dev/null)
	kill -USR1 "${CHAIN_SIMD_PIDS[$2]}" || return 1
	while [ $tries -gt 0 ]; do
		[ "$(grep -c 'argo-simd: domain 0:' "$log")" -gt "${before:-0}" ] && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "argo-simd of l$2 printed no counters" >&2
	return 1
}

# relay_snapshot DIR LEVEL FILE: relay LEVEL's status --json into FILE.
relay_snapshot() {
	"$BIN/argo-relayctl" -s "$1/l$2.ctl" status --json >"$3"
}

# accounting_relays DIR LEVELS [TAG]: every relay's sum (taken = passed on
# + held), now; the lines into DIR/accounting.log. 0 when all hold.
accounting_relays() {
	local dir=$1 levels=$2 tag=${3:-now} i files=()
	echo "--- relays, $tag" >>"$dir/accounting.log"
	for ((i = 0; i < levels; i++)); do
		if ! relay_snapshot "$dir" "$i" "$dir/acct-l$i.json"; then
			echo "FAIL l$i: no answer on its control socket" >>"$dir/accounting.log"
			return 1
		fi
		files+=("$dir/acct-l$i.json")
	done
	"$PYTHON" "$ACCOUNTING" relay "${files[@]}" >>"$dir/accounting.log" 2>&1
}

# at_rest DIR LEVELS: every relay holds nothing and has read and finished
# everything in its rings (for wait_until).
at_rest() {
	local i
	for ((i = 0; i < $2; i++)); do
		"$BIN/argo-relayctl" -s "$1/l$i.ctl" status --json 2>/dev/null |
			grep -qE '"held_messages":0,' || return 1
		"$BIN/argo-relayctl" -s "$1/l$i.ctl" status --json 2>/dev/null |
			grep -qE '"(queued|unfinished)":[1-9]' && return 1
	done
	return 0
}

# accounting_system DIR LEVELS: the end-to-end sums, the system at rest
# (sent = delivered + undeliverable, per level delivered as the fabric saw
# it); lines into DIR/accounting.log. 0 when all hold.
accounting_system() {
	local dir=$1 levels=$2 i args=()
	echo "--- end to end" >>"$dir/accounting.log"
	for ((i = 0; i < levels; i++)); do
		if ! simd_snapshot "$dir" "$i" || ! relay_snapshot "$dir" "$i" "$dir/acct-l$i.json"; then
			echo "FAIL l$i: no counters from its argo-simd or its relay" >>"$dir/accounting.log"
			return 1
		fi
		args+=("l$i=$dir/acct-l$i.json,$dir/simd-l$i.log")
	done
	"$PYTHON" "$ACCOUNTING" system "${args[@]}" >>"$dir/accounting.log" 2>&1
}
