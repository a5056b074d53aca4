#!/bin/sh
# virtio-argo-base: the baseline VM of the virtio-argo scenarios, plain
# Linux at L0 (no Xen) whose /dev/vda is the host's qemu-storage-daemon
# export attached directly as vhost-user-blk (virtio-argo-base.setup); the
# guest's argo-blkbench runs (virtio-argo-guest.sh), the same parameters.
# e2e-helper: the VM `base` of virtio-argo-xen and virtio-argo-l1-to-l0
. /usr/share/argo-e2e/lib.sh

if e2e_wait 60 test -b /dev/vda; then
	e2e_case vda PASS "$(cat /sys/block/vda/size) sectors"
else
	e2e_case vda FAIL "no /dev/vda within 60 s"
	e2e_finish
fi
echo "    vda queue: max_segments $(cat /sys/block/vda/queue/max_segments) max_segment_size $(cat /sys/block/vda/queue/max_segment_size) max_sectors_kb $(cat /sys/block/vda/queue/max_sectors_kb) max_hw_sectors_kb $(cat /sys/block/vda/queue/max_hw_sectors_kb)"
bench() {
	out=$(argo-blkbench /dev/vda "$@" 2>&1)
	rc=$?
	echo "BENCH $out"
	return $rc
}
e2e_check bench-randread bench randread -n 1000 -s 64
e2e_check bench-seqread bench seqread -n 64
e2e_check bench-seqwrite bench seqwrite -n 64
e2e_finish
