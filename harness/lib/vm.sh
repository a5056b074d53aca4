# The L0 VMs of a scenario (sourced): defined, started, destroyed and
# undefined through libvirt (qemu:///system) or, with --no-libvirt, as plain
# QEMU processes. Each VM has a folder VMDIR ($RUN/vm/NAME) holding its
# state (vm.env), its console (console.log), its channels' sockets
# (ch-NAME.sock), and its QEMU command line or domain XML.
#
#   vm_define VMDIR NAME KIND BACKEND ACCEL   (reads VM_* variables, below)
#   vm_start VMDIR / vm_destroy VMDIR / vm_undefine VMDIR / vm_running VMDIR
#   vm_chardev_cut VMDIR CHANNEL / vm_chardev_reconnect VMDIR CHANNEL
#   vm_add_channel VMDIR CHANNEL  (before the first start)
#
# VM_* inputs of vm_define: VM_KERNEL (xen: Xen), VM_DOM0_KERNEL, VM_INITRD, VM_MODULE_CMDLINE (xen:
# the dom0 kernel's command line), VM_CMDLINE (Xen's, or Linux's), VM_MEM
# (MiB), VM_SMP, VM_CPU, VM_CHANNELS (names), VM_DOMAIN (libvirt name),
# VM_VHOST_BLK (yes: a vhost-user-blk disk, /dev/vda in the VM, whose back
# end listens on VMDIR/vhost-user-blk.sock; the VM's RAM is then a shared
# memfd, which vhost-user needs; one queue, as qemu-storage-daemon's
# export has by default: QEMU would ask for one per vCPU and refuse to
# start against it).
#
# Xen is a multiboot kernel: QEMU loads its modules from one -initrd
# argument, "KERNEL ARGS,INITRD", split on commas. libvirt's <initrd> is a
# single file name (it escapes a comma as ",,", which QEMU's multiboot
# loader reads as a literal comma), so a Xen domain gets its modules through
# libvirt's QEMU command-line passthrough (<qemu:commandline>), and its
# files must be readable by the QEMU user (libvirt only relabels <kernel>
# and <initrd>): the VM folder is group libvirt-qemu. docs/harness.md.

VM_QEMU=${QEMU:-qemu-system-x86_64}

vm_env() { . "$1/vm.env"; }

# A running libvirt domain's channels: "NAME ALIAS SOCKET" lines.
vm_libvirt_channels() {
	virsh -q dumpxml "$1" 2>/dev/null | awk '
		/<channel type=.unix.>/ { inch = 1; name = alias = path = ""; next }
		inch && /<source / { if (match($0, /path=.[^"\x27]*/)) path = substr($0, RSTART + 6, RLENGTH - 6) }
		inch && /<target / { if (match($0, /name=.[^"\x27]*/)) name = substr($0, RSTART + 6, RLENGTH - 6) }
		inch && /<alias / { if (match($0, /name=.[^"\x27]*/)) alias = substr($0, RSTART + 6, RLENGTH - 6) }
		/<\/channel>/ { if (inch) print name, alias, path; inch = 0 }'
}

# The host socket of channel CHANNEL.
vm_channel_socket() {
	local vmdir=$1 ch=$2
	vm_env "$vmdir"
	if [ "$VM_BACKEND" = libvirt ]; then
		vm_libvirt_channels "$VM_DOMAIN" | awk -v c="$ch" '$1 == c { print $3; f = 1 } END { exit !f }'
	else
		grep -qw -- "$ch" <<<"$VM_CHANNELS" && echo "$vmdir/ch-$ch.sock"
	fi
}

# The chardev id of channel CHANNEL (libvirt: "char" + the device alias;
# plain QEMU: charchannelN in the order of VM_CHANNELS).
vm_chardev_id() {
	local vmdir=$1 ch=$2 i=0 c
	vm_env "$vmdir"
	if [ "$VM_BACKEND" = libvirt ]; then
		vm_libvirt_channels "$VM_DOMAIN" | awk -v c="$ch" '$1 == c { print "char" $2; f = 1 } END { exit !f }'
		return
	fi
	for c in $VM_CHANNELS; do
		[ "$c" = "$ch" ] && { echo "charchannel$i"; return 0; }
		i=$((i + 1))
	done
	return 1
}

vm_define() {
	local vmdir=$1 name=$2 kind=$3 backend=$4 accel=$5
	mkdir -p "$vmdir"
	if [ "$backend" = libvirt ]; then
		# QEMU runs as libvirt-qemu: it reads the modules and makes sockets here.
		chgrp libvirt-qemu "$vmdir" && chmod 0770 "$vmdir"
	fi
	cat >"$vmdir/vm.env" <<-ENV
		VM_NAME=$name
		VM_KIND=$kind
		VM_BACKEND=$backend
		VM_ACCEL=$accel
		VM_DOMAIN=${VM_DOMAIN:-}
		VM_CHANNELS="${VM_CHANNELS:-}"
		VM_VHOST_BLK=${VM_VHOST_BLK:-no}
	ENV
	printf '%s\n' "$VM_KERNEL" >"$vmdir/kernel"
	printf '%s\n' "${VM_DOM0_KERNEL:-}" >"$vmdir/dom0-kernel"
	printf '%s\n' "$VM_INITRD" >"$vmdir/initrd"
	printf '%s\n' "${VM_MODULE_CMDLINE:-}" >"$vmdir/module-cmdline"
	printf '%s\n' "$VM_CMDLINE" >"$vmdir/cmdline"
	printf '%s %s %s\n' "$VM_MEM" "$VM_SMP" "$VM_CPU" >"$vmdir/size"
	: >"$vmdir/console.log"
	if [ "$backend" = libvirt ]; then
		vm_libvirt_xml "$vmdir" >"$vmdir/domain.xml"
		vm_libvirt_undefine_stale "$vmdir" || return 1
		virsh -q define "$vmdir/domain.xml" >"$vmdir/virsh.log" 2>&1 || {
			echo "virsh define $VM_DOMAIN failed: $(tail -n 1 "$vmdir/virsh.log")"
			return 1
		}
		echo defined >"$vmdir/defined"
	fi
	return 0
}

# A domain of the same name left by an earlier run that died without
# cleaning up: ours if its description names this VM folder and the pid
# of a runner that is gone. Anything else is someone else's: refuse.
vm_libvirt_undefine_stale() {
	local vmdir=$1 desc pid
	vm_env "$vmdir"
	virsh -q dominfo "$VM_DOMAIN" >/dev/null 2>&1 || return 0
	desc=$(virsh -q desc "$VM_DOMAIN" 2>/dev/null)
	pid=$(sed -n 's/.*runner pid \([0-9]*\).*/\1/p' <<<"$desc")
	if [[ "$desc" == *"argo e2e VM $vmdir "* ]] && [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
		echo "e2e: removing domain $VM_DOMAIN left by an earlier run (runner pid $pid is gone)" >&2
		virsh -q destroy "$VM_DOMAIN" >/dev/null 2>&1
		virsh -q undefine "$VM_DOMAIN" >/dev/null 2>&1
		return 0
	fi
	echo "a libvirt domain $VM_DOMAIN exists and is not a leftover of this harness ($desc); remove it or run elsewhere"
	return 1
}

vm_xml_escape() {
	sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e "s/'/\&apos;/g" -e 's/"/\&quot;/g'
}

# libvirt's name of a QEMU CPU feature: most are the same; a few differ
# (QEMU's pclmulqdq is libvirt's pclmuldq), as libvirt's CPU map says with
# <alias name='QEMU-NAME' source='qemu'/> under the feature.
vm_libvirt_feature() {
	local map=/usr/share/libvirt/cpu_map/x86_features.xml name
	name=$(awk -v q="$1" -F"'" '/<feature name=/ { f = $2 } /<alias name=/ && /source=.qemu./ && $2 == q { print f; exit }' "$map" 2>/dev/null)
	echo "${name:-$1}"
}

# QEMU's "MODEL,+feat,-feat" as libvirt's <feature> elements.
vm_cpu_features() {
	local f
	for f in $(tr ',' ' ' <<<"${1#*,}"); do
		[ "$f" != "$1" ] || break
		case "$f" in
		+*) printf "<feature policy='require' name='%s'/>" "$(vm_libvirt_feature "${f#+}")" ;;
		-*) printf "<feature policy='disable' name='%s'/>" "$(vm_libvirt_feature "${f#-}")" ;;
		esac
	done
}

vm_libvirt_xml() {
	local vmdir=$1 mem smp cpu kernel initrd cmdline modcmd ch type=qemu
	vm_env "$vmdir"
	read -r mem smp cpu <"$vmdir/size"
	kernel=$(cat "$vmdir/kernel")
	initrd=$(cat "$vmdir/initrd")
	cmdline=$(cat "$vmdir/cmdline")
	modcmd=$(cat "$vmdir/module-cmdline")
	[ "$VM_ACCEL" = kvm ] && type=kvm
	cat <<-XML
		<domain type='$type' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
		  <name>$VM_DOMAIN</name>
		  <description>argo e2e VM $vmdir (runner pid $$)</description>
		  <memory unit='MiB'>$mem</memory>
		  <vcpu>$smp</vcpu>
	XML
	if [ "$VM_VHOST_BLK" = yes ]; then
		echo "  <memoryBacking><source type='memfd'/><access mode='shared'/></memoryBacking>"
	fi
	cat <<-XML
		  <os>
		    <type arch='x86_64' machine='pc'>hvm</type>
		    <kernel>$(vm_xml_escape <<<"$kernel")</kernel>
	XML
	if [ "$VM_KIND" = linux ]; then
		echo "    <initrd>$(vm_xml_escape <<<"$initrd")</initrd>"
	fi
	cat <<-XML
		    <cmdline>$(vm_xml_escape <<<"$cmdline")</cmdline>
		  </os>
		  <features><acpi/></features>
		  <cpu mode='custom' match='exact' check='none'><model fallback='forbid'>${cpu%%,*}</model>$(vm_cpu_features "$cpu")</cpu>
		  <on_poweroff>destroy</on_poweroff>
		  <on_reboot>destroy</on_reboot>
		  <on_crash>destroy</on_crash>
		  <devices>
		    <emulator>$(command -v "$VM_QEMU")</emulator>
		    <controller type='usb' model='none'/>
		    <serial type='file'>
		      <source path='$vmdir/console.log' append='on'/>
		      <target port='0'/>
		    </serial>
	XML
	for ch in $VM_CHANNELS; do
		cat <<-XML
			    <channel type='unix'>
			      <source mode='bind' path='$vmdir/ch-$ch.sock'/>
			      <target type='virtio' name='$ch'/>
			    </channel>
		XML
	done
	if [ "$VM_VHOST_BLK" = yes ]; then
		cat <<-XML
			    <disk type='vhostuser' device='disk'>
			      <driver name='qemu' type='raw' queues='1'/>
			      <source type='unix' path='$vmdir/vhost-user-blk.sock'/>
			      <target dev='vda' bus='virtio'/>
			    </disk>
		XML
	fi
	cat <<-XML
		    <memballoon model='none'/>
		  </devices>
	XML
	if [ "$VM_KIND" = xen ]; then
		# Xen's modules: dom0's kernel with its command line, then the
		# initramfs; one -initrd argument split on commas by QEMU.
		cat <<-XML
			  <qemu:commandline>
			    <qemu:arg value='-initrd'/>
			    <qemu:arg value='$(vm_xml_escape <<<"$(cat "$vmdir/dom0-kernel") $modcmd,$initrd")'/>
			  </qemu:commandline>
		XML
	fi
	echo "</domain>"
}

vm_add_channel() {
	local vmdir=$1 ch=$2
	vm_env "$vmdir"
	[ "$VM_BACKEND" = qemu ] || { echo "vm_add_channel: plain QEMU only (libvirt: l0/argo-deploy)"; return 1; }
	grep -qw -- "$ch" <<<"$VM_CHANNELS" && { echo "$VM_NAME has a channel $ch already"; return 1; }
	sed -i "s/^VM_CHANNELS=.*/VM_CHANNELS=\"${VM_CHANNELS:+$VM_CHANNELS }$ch\"/" "$vmdir/vm.env"
}

# Plain QEMU: the argv, one argument a line (no argument holds a newline).
vm_qemu_argv() {
	local vmdir=$1 mem smp cpu i=0 ch
	vm_env "$vmdir"
	read -r mem smp cpu <"$vmdir/size"
	printf '%s\n' "$VM_QEMU" -accel "$VM_ACCEL" -cpu "$cpu" -m "$mem" -smp "$smp" \
		-nodefaults -display none -vga none -no-reboot \
		-chardev "file,id=con0,path=$vmdir/console.log,append=on" -serial chardev:con0 \
		-qmp "unix:$vmdir/qmp.sock,server=on,wait=off" \
		-kernel "$(cat "$vmdir/kernel")" -append "$(cat "$vmdir/cmdline")"
	if [ "$VM_KIND" = xen ]; then
		printf '%s\n' -initrd "$(cat "$vmdir/dom0-kernel") $(cat "$vmdir/module-cmdline"),$(cat "$vmdir/initrd")"
	else
		printf '%s\n' -initrd "$(cat "$vmdir/initrd")"
	fi
	if [ "$VM_VHOST_BLK" = yes ]; then
		printf '%s\n' -object "memory-backend-memfd,id=mem0,size=${mem}M,share=on" \
			-machine memory-backend=mem0 \
			-chardev "socket,id=vhublk0,path=$vmdir/vhost-user-blk.sock" \
			-device vhost-user-blk-pci,chardev=vhublk0,num-queues=1
	fi
	if [ -n "$VM_CHANNELS" ]; then
		printf '%s\n' -device virtio-serial-pci,id=vser0
		for ch in $VM_CHANNELS; do
			printf '%s\n' -chardev "socket,id=charchannel$i,path=$vmdir/ch-$ch.sock,server=on,wait=off" \
				-device "virtserialport,bus=vser0.0,chardev=charchannel$i,name=$ch"
			i=$((i + 1))
		done
	fi
}

vm_start() {
	local vmdir=$1 argv=()
	vm_env "$vmdir"
	echo "--- start $(date -u +%H:%M:%S)" >>"$vmdir/events"
	if [ "$VM_BACKEND" = libvirt ]; then
		virsh -q start "$VM_DOMAIN" >>"$vmdir/virsh.log" 2>&1 || {
			echo "virsh start $VM_DOMAIN failed: $(tail -n 1 "$vmdir/virsh.log")"
			return 1
		}
		return 0
	fi
	mapfile -t argv < <(vm_qemu_argv "$vmdir")
	printf '%q ' "${argv[@]}" >"$vmdir/qemu.cmd"
	echo >>"$vmdir/qemu.cmd"
	rm -f "$vmdir/qmp.sock"
	# setsid: Ctrl-C at the terminal reaches the runner, which stops QEMU
	# itself (and reports), not QEMU directly.
	setsid "${argv[@]}" >>"$vmdir/qemu.out" 2>&1 </dev/null &
	echo $! >"$vmdir/qemu.pid"
	return 0
}

vm_running() {
	local vmdir=$1 pid
	vm_env "$vmdir"
	if [ "$VM_BACKEND" = libvirt ]; then
		[ "$(virsh -q domstate "$VM_DOMAIN" 2>/dev/null | head -n 1)" = running ]
	else
		pid=$(cat "$vmdir/qemu.pid" 2>/dev/null) && [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null &&
			[ "$(cat "/proc/$pid/stat" 2>/dev/null | sed 's/^[0-9]* ([^)]*) \(.\).*/\1/')" != Z ]
	fi
}

# Pulls the plug (libvirt: virsh destroy; QEMU: SIGKILL), waits until gone.
vm_destroy() {
	local vmdir=$1 pid n
	vm_env "$vmdir"
	echo "--- destroy $(date -u +%H:%M:%S)" >>"$vmdir/events"
	if [ "$VM_BACKEND" = libvirt ]; then
		if vm_running "$vmdir"; then
			virsh -q destroy "$VM_DOMAIN" >>"$vmdir/virsh.log" 2>&1
		fi
		n=100
		while vm_running "$vmdir" && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
		! vm_running "$vmdir"
		return
	fi
	pid=$(cat "$vmdir/qemu.pid" 2>/dev/null) || return 0
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	n=100
	while kill -0 "$pid" 2>/dev/null && [ $n -gt 0 ]; do sleep 0.1; n=$((n - 1)); done
	rm -f "$vmdir/qemu.pid"
}

# Ends a VM for good: destroyed and, under libvirt, undefined.
vm_undefine() {
	local vmdir=$1
	[ -f "$vmdir/vm.env" ] || return 0
	vm_env "$vmdir"
	vm_destroy "$vmdir"
	if [ "$VM_BACKEND" = libvirt ] && [ -f "$vmdir/defined" ]; then
		virsh -q undefine "$VM_DOMAIN" >>"$vmdir/virsh.log" 2>&1 || {
			echo "virsh undefine $VM_DOMAIN failed: $(tail -n 1 "$vmdir/virsh.log")" >&2
			return 1
		}
		rm -f "$vmdir/defined"
	fi
	return 0
}

# A QMP command on the VM's monitor; prints QEMU's answer.
vm_qmp() {
	local vmdir=$1 cmd=$2
	vm_env "$vmdir"
	if [ "$VM_BACKEND" = libvirt ]; then
		virsh -q qemu-monitor-command "$VM_DOMAIN" "$cmd"
	else
		printf '%s\n%s\n' '{"execute":"qmp_capabilities"}' "$cmd" |
			timeout 10 socat -t 2 - "UNIX-CONNECT:$vmdir/qmp.sock" | tail -n 1
	fi
}

# The host end of a channel goes (the chardev becomes a null one: the peer
# on the host sees its connection close, the guest's port stays) and comes
# back at the same socket (QMP chardev-change, which virtio-serial ports
# support).
vm_chardev_cut() {
	local vmdir=$1 ch=$2 id out
	id=$(vm_chardev_id "$vmdir" "$ch") || { echo "no channel $ch"; return 1; }
	vm_channel_socket "$vmdir" "$ch" >"$vmdir/cut-$ch"
	echo "--- chardev-cut $ch $(date -u +%H:%M:%S)" >>"$vmdir/events"
	out=$(vm_qmp "$vmdir" "{\"execute\":\"chardev-change\",\"arguments\":{\"id\":\"$id\",\"backend\":{\"type\":\"null\",\"data\":{}}}}")
	grep -q '"return"' <<<"$out" || { echo "chardev-change to null: $out"; return 1; }
	rm -f "$(cat "$vmdir/cut-$ch")"
}

vm_chardev_reconnect() {
	local vmdir=$1 ch=$2 id out
	id=$(vm_chardev_id "$vmdir" "$ch") || { echo "no channel $ch"; return 1; }
	echo "--- chardev-reconnect $ch $(date -u +%H:%M:%S)" >>"$vmdir/events"
	out=$(vm_qmp "$vmdir" "{\"execute\":\"chardev-change\",\"arguments\":{\"id\":\"$id\",\"backend\":{\"type\":\"socket\",\"data\":{\"addr\":{\"type\":\"unix\",\"data\":{\"path\":\"$(cat "$vmdir/cut-$ch")\"}},\"server\":true,\"wait\":false}}}}")
	grep -q '"return"' <<<"$out" || { echo "chardev-change to socket: $out"; return 1; }
}
