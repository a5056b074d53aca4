# The KVM probe (sourced): KVM when /dev/kvm really runs Xen's dom0, TCG
# otherwise. A /dev/kvm that exists may still not run guests (nested
# set-ups abort on MSRs or hang in the BIOS: docs/harness.md), so the probe
# boots Xen with a dom0 kernel and waits for "Linux version" on the console.
# The answer is cached per machine boot in $build/harness/accel.
#
#   accel_pick BUILD IMG  prints kvm or tcg (E2E_ACCEL wins), says why on stderr

accel_probe() {
	local build=$1 img=$2 dir log pid n ok=1
	local qemu=${QEMU:-qemu-system-x86_64} t=${E2E_PROBE_TIMEOUT:-15}
	dir=$build/harness/probe
	mkdir -p "$dir"
	log=$dir/console.log
	: >"$log"
	"$qemu" -accel kvm -cpu qemu64 -m 1024 -smp 1 -nodefaults -display none -vga none \
		-no-reboot -serial "file:$log" -kernel "$img/xen" \
		-initrd "$img/vmlinuz console=hvc0" \
		-append "console=com1 dom0_mem=512M noreboot" >"$dir/qemu.out" 2>&1 &
	pid=$!
	n=$((t * 10))
	while [ $n -gt 0 ]; do
		if grep -q 'Linux version' "$log"; then
			ok=0
			break
		fi
		kill -0 "$pid" 2>/dev/null || break
		# A KVM that cannot run the guest stops it and waits: no use waiting.
		grep -q 'KVM internal error' "$dir/qemu.out" && break
		sleep 0.1
		n=$((n - 1))
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return $ok
}

accel_pick() {
	local build=$1 img=$2 cache boot_id cached_id cached accel why
	if [ -n "${E2E_ACCEL:-}" ]; then
		echo "$E2E_ACCEL"
		return
	fi
	cache=$build/harness/accel
	boot_id=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	if [ -f "$cache" ] && read -r cached_id cached <"$cache" &&
		[ "$cached_id" = "$boot_id" ] && [ -n "$cached" ]; then
		echo "$cached"
		return
	fi
	accel=tcg why="/dev/kvm is not usable"
	if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
		if accel_probe "$build" "$img"; then
			accel=kvm why="the KVM probe booted Xen's dom0"
		else
			why="KVM probe failed: no dom0 within ${E2E_PROBE_TIMEOUT:-15}s or a KVM internal error (see $build/harness/probe)"
		fi
	fi
	mkdir -p "$(dirname "$cache")"
	echo "$boot_id $accel" >"$cache"
	echo "e2e: accelerator $accel: $why" >&2
	echo "$accel"
}
