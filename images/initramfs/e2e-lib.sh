# Helpers for the end-to-end scenarios (harness/scenarios/*.sh), which
# source this file: . /usr/share/argo-e2e/lib.sh
# busybox sh; every wait polls for a condition with a time-out.

E2E_FAILS=/run/argo-e2e/failures
mkdir -p /run/argo-e2e

# e2e_case NAME PASS|FAIL|SKIP [MESSAGE...]: one test case for the harness.
e2e_case() {
	_name=$1 _status=$2
	shift 2
	echo "ARGO-E2E: CASE $_name $_status${*:+ $*}"
	[ "$_status" != FAIL ] || echo "$_name" >>"$E2E_FAILS"
}

# e2e_json NAME COMMAND...: COMMAND's output (JSON) on one console line,
# which the harness writes to NAME.json in the run's folder.
e2e_json() {
	_jn=$1
	shift
	echo "ARGO-E2E: JSON $_jn $("$@" 2>/dev/null | tr -d '\n')"
}

# e2e_check NAME COMMAND...: PASS when COMMAND exits 0, else FAIL with the
# last line of its output. The output goes to the console, indented.
e2e_check() {
	_name=$1
	shift
	_out=/run/argo-e2e/$_name.out
	"$@" >"$_out" 2>&1
	_rc=$?
	sed 's/^/    /' "$_out"
	if [ "$_rc" = 0 ]; then
		e2e_case "$_name" PASS
	else
		e2e_case "$_name" FAIL "rc=$_rc: $(tail -n 1 "$_out")"
	fi
	return "$_rc"
}

# e2e_finish: the scenario's exit status (1 when a case failed).
e2e_finish() {
	if [ -s "$E2E_FAILS" ]; then
		echo "failed cases: $(tr '\n' ' ' <"$E2E_FAILS")"
		exit 1
	fi
	exit 0
}

e2e_role() { cat /run/argo-e2e/role 2>/dev/null || echo unknown; }

# e2e_cmdline KEY: the value of KEY=VALUE on the kernel command line.
e2e_cmdline() {
	for _w in $(cat /proc/cmdline); do
		case "$_w" in "$1"=*) echo "${_w#*=}"; return 0 ;; esac
	done
	return 1
}

# e2e_uptime: whole seconds since boot.
e2e_uptime() {
	read -r _up _ </proc/uptime
	echo "${_up%.*}"
}

# e2e_phase NAME: how long the phase before took (since the last
# e2e_phase, or boot), as "phase PREV: N s (at uptime U s)"; then NAME
# begins. Where a scenario's time goes, on its console.
e2e_phase() {
	local now
	read -r now _ </proc/uptime
	now=${now%.*}
	echo "phase ${_e2e_phase:-boot}: $((now - ${_e2e_phase_t:-0})) s (at uptime $now s)"
	_e2e_phase=$1 _e2e_phase_t=$now
}

# e2e_wait SECONDS COMMAND...: polls COMMAND until it succeeds (0) or
# SECONDS of uptime have passed (1; a count of looks would stretch with
# the load). A look every 0.2 s for the first 5 s, then every second: each
# look forks (sleep, most COMMANDs), and a long wait's forks take CPU from
# the work it waits for.
e2e_wait() {
	local end now looks=0
	# /proc/uptime: seconds with two decimals; in hundredths here.
	read -r now _ </proc/uptime
	end=$((${now%.*}${now#*.} + $1 * 100))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		read -r now _ </proc/uptime
		[ "${now%.*}${now#*.}" -lt "$end" ] || return 1
		if [ "$looks" -lt 25 ]; then
			looks=$((looks + 1))
			sleep 0.2
		else
			sleep 1
		fi
	done
}

# xen_tools_start: xenstored, the dom0 entries in xenstore, xenconsoled
# (guest consoles logged in /var/log/xen/console/guest-NAME.log). dom0 only.
xen_tools_start() {
	if [ "$(e2e_role)" != dom0 ]; then
		echo "xen_tools_start: not dom0 (role $(e2e_role))"
		return 1
	fi
	mkdir -p /var/run/xenstored /var/lib/xenstored /var/log/xen/console /var/lib/xen
	if ! pidof xenstored >/dev/null; then
		"$XEN_BIN/xenstored" --pid-file=/run/xenstored.pid || {
			echo "xen_tools_start: xenstored did not start"
			return 1
		}
	fi
	if ! e2e_wait 20 test -S /var/run/xenstored/socket; then
		echo "xen_tools_start: xenstored made no socket /var/run/xenstored/socket"
		return 1
	fi
	if ! e2e_wait 20 xenstore-exists /; then
		echo "xen_tools_start: xenstore does not answer"
		return 1
	fi
	"$XEN_BIN/xen-init-dom0" || {
		echo "xen_tools_start: xen-init-dom0 failed"
		return 1
	}
	if ! pidof xenconsoled >/dev/null; then
		"$XEN_BIN/xenconsoled" --pid-file=/run/xenconsoled.pid --log=guest \
			--log-dir=/var/log/xen/console || {
			echo "xen_tools_start: xenconsoled did not start"
			return 1
		}
	fi
	return 0
}

# e2e_collect_domu NAME TIMEOUT RUN [PREFIX]: waits up to TIMEOUT seconds
# for the domU NAME (running scenario RUN) to print its RESULT, copies its
# console into ours with the markers renamed, turns its cases into PREFIX-*
# cases of this scenario (PREFIX: domu), and checks that it went away
# (destroying it otherwise).
e2e_collect_domu() {
	local name=$1 timeout=$2 run=$3 p=${4:-domu} domid finished rc
	local glog=/var/log/xen/console/guest-$name.log
	domid=$(xl domid "$name" 2>/dev/null)
	domu_done() { grep -q '^ARGO-E2E: RESULT' "$glog"; }
	if e2e_wait "$timeout" domu_done; then
		finished=1
	else
		finished=0
	fi
	# The domU's console, its markers renamed so the harness does not take
	# them for dom0's (unless e2e_stream_domu showed it already).
	[ -n "${E2E_STREAMED:-}" ] ||
		tr -d '\r' <"$glog" 2>/dev/null | sed -e 's/^ARGO-E2E: /domU-E2E: /' \
			-e "s/^/$([ "$p" = domu ] && echo domU || echo "$p")| /"

	if grep -q '^ARGO-E2E: BEGIN' "$glog" 2>/dev/null; then
		e2e_case "$p-boot" PASS "$name${domid:+ (domain $domid)} reached /init"
	else
		e2e_case "$p-boot" FAIL "no BEGIN on the domU console within ${timeout}s"
	fi
	# Each of the domU scenario's cases, as a case of this scenario.
	tr -d '\r' <"$glog" 2>/dev/null | grep '^ARGO-E2E: CASE ' | while read -r _ _ n st msg; do
		e2e_case "$p-$n" "$st" "$msg"
	done
	if [ "$finished" = 1 ]; then
		rc=$(tr -d '\r' <"$glog" | sed -n 's/^ARGO-E2E: RESULT rc=\([0-9]*\).*/\1/p' | head -n 1)
		if [ "$rc" = 0 ]; then
			e2e_case "$p-result" PASS
		else
			e2e_case "$p-result" FAIL "domU scenario $run: rc=$rc"
		fi
		gone() { ! xl domid "$name" >/dev/null 2>&1; }
		if e2e_wait 30 gone; then
			e2e_case "$p-shutdown" PASS
		else
			e2e_case "$p-shutdown" FAIL "$name still exists 30s after its RESULT"
			xl list
			xl destroy "$name"
		fi
	else
		e2e_case "$p-result" FAIL "no RESULT within ${timeout}s"
		xl list
		xl destroy "$name"
	fi
}

# e2e_virtio_ports [NAME SECONDS]: the /dev/virtio-ports/NAME links that
# udev makes elsewhere, for every virtio-serial port there is; with NAME,
# first waits up to SECONDS for that port to appear (1 if it did not).
e2e_virtio_ports() {
	if [ -n "${1:-}" ]; then
		_port_there() { grep -qx "$1" /sys/class/virtio-ports/*/name 2>/dev/null; }
		e2e_wait "${2:-30}" _port_there "$1" || return 1
	fi
	mkdir -p /dev/virtio-ports
	for _p in /sys/class/virtio-ports/*; do
		[ -e "$_p/name" ] || continue
		_n=$(cat "$_p/name")
		[ -n "$_n" ] && ln -sf "/dev/${_p##*/}" "/dev/virtio-ports/$_n"
	done
	return 0
}

# e2e_stream_domu NAME PREFIX: copies the console of domU NAME into ours as
# it grows, each line as "PREFIX| line" (markers renamed), once a second in
# the background, so that a domU's progress (and any oops, which the
# harness watches for) shows at once; set E2E_STREAMED=1 so that
# e2e_collect_domu does not copy it again. It ends with the domain (asked
# of xenstore every 5 s: xenstore-exists is a process, and dom0's
# processes take CPU from the domUs).
e2e_stream_domu() {
	(
		_glog=/var/log/xen/console/guest-$1.log
		_id=$(xl domid "$1" 2>/dev/null)
		_done=0
		_seen=0
		_gone=0
		_look=0
		echo "$2| (console of $1, domain ${_id:-?}: $_glog)"
		while [ "$_done" = 0 ]; do
			# Gone for good: three looks in a row (xenstored may be slow).
			if [ $((_look % 5)) != 0 ] && [ "$_gone" = 0 ]; then
				:
			elif xenstore-exists "/local/domain/$_id" 2>/dev/null; then
				_gone=0
			else
				_gone=$((_gone + 1))
				[ "$_gone" -lt 3 ] || _done=1
			fi
			_look=$((_look + 1))
			_n=$(wc -l <"$_glog" 2>/dev/null || echo 0)
			if [ "$_n" -gt "$_seen" ]; then
				sed -n "$((_seen + 1)),${_n}p" "$_glog" | tr -d '\r' |
					sed -e 's/^ARGO-E2E: /domU-E2E: /' -e "s/^/$2| /"
				_seen=$_n
			fi
			[ "$_done" = 1 ] || sleep 1
		done
	) &
}
