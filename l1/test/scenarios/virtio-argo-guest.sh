#!/bin/sh
# virtio-argo-guest: the guest of virtio-argo-xen (no vif, no vbd). Loads
# virtio_argo.ko for the driver domain named in xenstore, then: /dev/vda
# (mkfs, 64 MiB of random data written, caches dropped, read back, sha256
# identical, fsck clean), the virtiofs mount (the driver domain's file read,
# a file written for it to check), the block benchmark with the module's
# hypercall counters, and a clean unload (both devices DETACHed).
# e2e-helper: a domU of virtio-argo-xen
. /usr/share/argo-e2e/lib.sh

ko=/lib/modules/$KVER/extra/virtio_argo.ko
if did=$(xenstore-read data/virtio-argo-domid); then
	e2e_case dd-domid PASS "driver domain $did"
else
	e2e_case dd-domid FAIL "no data/virtio-argo-domid in xenstore"
	e2e_finish
fi
e2e_check vargo-load insmod "$ko" "domid=$did" || e2e_finish
if e2e_wait 180 test -b /dev/vda; then
	e2e_case blk-vda PASS "$(cat /sys/block/vda/size) sectors"
else
	e2e_case blk-vda FAIL "no /dev/vda within 180 s"
	dmesg | tail -n 30
	e2e_finish
fi
dmesg | grep -i 'virtio.argo\|virtio_argo\|vda' | sed 's/^/    /'
vstat=$(readlink -f /sys/block/vda/device)/argo
bstat=/sys/devices/virtio-argo/argo

# ---- the block device: a file system, 64 MiB through it, fsck ----
mkdir -p /mnt/v /mnt/fs
e2e_check blk-mkfs mke2fs -q -t ext4 /dev/vda
e2e_check blk-mount mount -t ext4 /dev/vda /mnt/v
dd if=/dev/urandom of=/tmp/data bs=1M count=64 2>/dev/null
want=$(sha256sum </tmp/data | cut -d' ' -f1)
t0=$(cut -d' ' -f1 /proc/uptime)
e2e_check blk-write sh -c 'cp /tmp/data /mnt/v/data && sync'
t1=$(cut -d' ' -f1 /proc/uptime)
rm -f /tmp/data
umount /mnt/v
echo 3 >/proc/sys/vm/drop_caches
mount -t ext4 /dev/vda /mnt/v
got=$(sha256sum </mnt/v/data | cut -d' ' -f1)
t2=$(cut -d' ' -f1 /proc/uptime)
echo "64 MiB: write+sync $(echo "$t0 $t1" | awk '{print $2 - $1}') s, read $(echo "$t1 $t2" | awk '{print $2 - $1}') s"
if [ "$want" = "$got" ]; then
	e2e_case blk-sha256 PASS "$got"
else
	e2e_case blk-sha256 FAIL "wrote $want, read $got"
fi
umount /mnt/v
e2e_check blk-fsck e2fsck -fn /dev/vda

# ---- virtiofs ----
if e2e_check fs-mount mount -t virtiofs share /mnt/fs; then
	if [ "$(cat /mnt/fs/hello.txt)" = "hello from the driver domain" ]; then
		e2e_case fs-read PASS
	else
		e2e_case fs-read FAIL "hello.txt: $(head -c 80 /mnt/fs/hello.txt)"
	fi
	dd if=/dev/urandom of=/tmp/f bs=1M count=8 2>/dev/null
	sha256sum </tmp/f | cut -d' ' -f1 >/tmp/f.sha256
	e2e_check fs-write sh -c 'cp /tmp/f /mnt/fs/from-guest.bin && cp /tmp/f.sha256 /mnt/fs/from-guest.sha256 && sync'
	rm -f /tmp/f
fi

# ---- the benchmark, with the hypercalls per request ----
# counter NAME: vda's device counter NAME now.
counter() { cat "$vstat/$1"; }
bench() {
	c0=$(counter chains) s0=$(counter sendv_buf) n0=$(counter notify)
	out=$(argo-blkbench /dev/vda "$@" 2>&1)
	rc=$?
	c1=$(counter chains) s1=$(counter sendv_buf) n1=$(counter notify)
	echo "BENCH $out chains=$((c1 - c0)) sendv=$((s1 - s0)) notify=$((n1 - n0))"
	return $rc
}
e2e_check bench-randread bench randread -n 2000 -s 64
randread=$(grep '^BENCH randread' /run/argo-e2e/bench-randread.out)
e2e_check bench-seqread bench seqread -n 64
e2e_check bench-seqwrite bench seqwrite -n 64
# QD1 4 KiB reads: one sendv per request on our side, no notify needed.
set -- $(echo "$randread" | sed -n 's/.*chains=\([0-9]*\) sendv=\([0-9]*\) notify=\([0-9]*\).*/\1 \2 \3/p')
if [ $# = 3 ] && [ "$1" -ge 2000 ] && [ $(($2 + $3)) -le $(($1 + $1 / 20)) ]; then
	e2e_case hypercalls-per-request PASS "$(($2 + $3)) hypercalls for $1 requests"
else
	e2e_case hypercalls-per-request FAIL "randread: chains/sendv/notify: $*"
fi
echo "counters of vda's device ($vstat):"
for f in "$vstat"/*; do echo "    $(basename "$f") $(cat "$f")"; done
echo "counters of the bus ($bstat):"
for f in "$bstat"/*; do echo "    $(basename "$f") $(cat "$f")"; done

# ---- done: tell the driver domain, then leave cleanly ----
touch /mnt/fs/guest.done
sync
umount /mnt/fs
e2e_check vargo-unload rmmod virtio_argo
if dmesg | grep -q 'WARNING\|leaking'; then
	e2e_case kernel-log FAIL "$(dmesg | grep 'WARNING\|leaking' | head -n 1)"
else
	e2e_case kernel-log PASS
fi
e2e_finish
