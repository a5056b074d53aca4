# libvirt's daemons for the harness (sourced). With an init system they run
# already; here (no systemd) the harness starts virtlogd and libvirtd itself
# and stops, by pid, only what it started (docs/harness.md).
#
#   libvirtd_up LOGDIR     0 when qemu:///system answers (starting virtlogd
#                          and libvirtd when it did not); 1 with a reason
#   libvirtd_down          stops what libvirtd_up started, nothing else

LIBVIRT_URI=${LIBVIRT_URI:-qemu:///system}
LIBVIRTD_STARTED=""   # pids we started, stopped by libvirtd_down
export LIBVIRT_DEFAULT_URI=$LIBVIRT_URI

libvirtd_answers() {
	timeout 10 virsh -q -c "$LIBVIRT_URI" version >/dev/null 2>&1
}

# A daemon's pid from its pid file, if that process is alive and is it.
libvirtd_pid_of() {
	local file=$1 name=$2 pid
	pid=$(cat "$file" 2>/dev/null) || return 1
	[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && echo "$pid"
}

# No udev here, so /dev/kvm may be root's alone (0600). libvirt then finds
# KVM unusable for the user QEMU runs as, while its QEMU probe (as root)
# finds KVM: it takes its capability cache for stale and probes QEMU again
# on every call (about 40 s per virsh define, 16 s to answer at start).
# The owner and mode Debian's udev rules would give, whether or not KVM
# runs guests here (harness/lib/accel.sh decides that).
libvirtd_kvm_node() {
	[ -c /dev/kvm ] && getent group kvm >/dev/null || return 0
	[ "$(stat -c %G /dev/kvm)" = kvm ] && return 0
	chgrp kvm /dev/kvm && chmod 0660 /dev/kvm &&
		echo "/dev/kvm: group kvm, mode 0660 (as udev would set it)"
}

libvirtd_up() {
	local logdir=$1 n pid
	command -v virsh >/dev/null && command -v libvirtd >/dev/null || {
		echo "libvirt is not installed (harness/install-deps.sh libvirt)"
		return 1
	}
	libvirtd_kvm_node
	libvirtd_answers && return 0
	mkdir -p "$logdir" /var/log/libvirt /var/run/libvirt /var/lib/libvirt
	if ! libvirtd_pid_of /var/run/virtlogd.pid virtlogd >/dev/null; then
		virtlogd --daemon --pid-file /var/run/virtlogd.pid 2>>"$logdir/virtlogd.log" || {
			echo "virtlogd did not start (see $logdir/virtlogd.log)"
			return 1
		}
		n=50
		until pid=$(libvirtd_pid_of /var/run/virtlogd.pid virtlogd); do
			n=$((n - 1))
			[ $n -gt 0 ] || { echo "virtlogd wrote no pid file"; return 1; }
			sleep 0.1
		done
		LIBVIRTD_STARTED="$LIBVIRTD_STARTED $pid"
	fi
	if ! libvirtd_pid_of /var/run/libvirtd.pid libvirtd >/dev/null; then
		libvirtd --daemon --pid-file /var/run/libvirtd.pid 2>>"$logdir/libvirtd.log" || {
			echo "libvirtd did not start (see $logdir/libvirtd.log)"
			return 1
		}
		n=100
		until pid=$(libvirtd_pid_of /var/run/libvirtd.pid libvirtd); do
			n=$((n - 1))
			[ $n -gt 0 ] || { echo "libvirtd wrote no pid file"; return 1; }
			sleep 0.1
		done
		LIBVIRTD_STARTED="$LIBVIRTD_STARTED $pid"
	fi
	n=100
	until libvirtd_answers; do
		n=$((n - 1))
		[ $n -gt 0 ] || { echo "libvirtd does not answer on $LIBVIRT_URI within 10 s (see $logdir/libvirtd.log)"; return 1; }
		sleep 0.1
	done
	return 0
}

libvirtd_down() {
	local pid n
	# libvirtd first (it holds virtlogd's connections), then virtlogd.
	for pid in $(echo "$LIBVIRTD_STARTED" | tr ' ' '\n' | tac); do
		kill -TERM "$pid" 2>/dev/null || continue
		n=100
		while [ $n -gt 0 ] && kill -0 "$pid" 2>/dev/null; do
			sleep 0.1
			n=$((n - 1))
		done
		kill -KILL "$pid" 2>/dev/null
	done
	LIBVIRTD_STARTED=""
}
