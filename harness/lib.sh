# Shell helpers shared by the test runner and the demo (sourced, bash).

# Starts argo-simd from folder $1 on socket $2, its stderr to $3, more
# options after; it detaches only once it serves. Prints its pid.
start_simd() {
	local bin=$1 sock=$2 log=$3
	shift 3
	rm -f "$sock"
	if ! "$bin/argo-simd" -s "$sock" -d --pidfile "$sock.pid" "$@" 2>>"$log"; then
		echo "argo-simd did not start (see $log)" >&2
		return 1
	fi
	cat "$sock.pid"
}

# Is process $1 alive (running, not a zombie waiting to be reaped)?
alive() {
	local state
	state=$(sed -n 's/^[0-9]* ([^)]*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null)
	[ -n "$state" ] && [ "$state" != Z ]
}

# Waits up to $2 seconds for process $1 to end.
wait_gone() {
	local pid=$1 tries=$(( $2 * 20 ))
	while [ "$tries" -gt 0 ] && alive "$pid"; do
		sleep 0.05
		tries=$((tries - 1))
	done
	! alive "$pid"
}

# Stops argo-simd $1 and checks it went cleanly: gone within 5 s of
# SIGTERM, and no sanitizer report in its log $2.
stop_simd() {
	local pid=$1 log=$2
	kill -TERM "$pid" 2>/dev/null
	if ! wait_gone "$pid" 5; then
		kill -KILL "$pid" 2>/dev/null
		echo "argo-simd ignored SIGTERM" >&2
		return 1
	fi
	if grep -qE 'Sanitizer|runtime error' "$log" 2>/dev/null; then
		echo "argo-simd: sanitizer report in $log" >&2
		return 1
	fi
}

# Waits up to $3 seconds for a line matching $2 in file $1.
wait_for_line() {
	local file=$1 pattern=$2 tries=$(( $3 * 20 ))
	while [ "$tries" -gt 0 ]; do
		grep -qE "$pattern" "$file" 2>/dev/null && return 0
		sleep 0.05
		tries=$((tries - 1))
	done
	echo "timed out waiting for '$pattern' in $file" >&2
	return 1
}
