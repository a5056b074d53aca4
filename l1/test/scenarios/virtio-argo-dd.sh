#!/bin/sh
# virtio-argo-dd: the driver domain of virtio-argo-xen (a domU of the same
# Xen) and of virtio-argo-l1-to-l0 (an L0 VM, after virtio-argo-l0dd set up
# its fabric and relay). Serves a block device (device 0: a 256 MiB raw
# image, exported by qemu-storage-daemon as vhost-user-blk) and a file
# system (device 1: virtiofsd on /srv/share, tag "share") to the domain of
# argo.vdev_frontend, with argo-vdevd on VDEV_FABRIC (default xen:).
# Checks the file the guest wrote through virtiofs against the digest it
# computed itself (once /srv/share/guest.done is there), kills argo-vdevd
# when the guest asks (kill-vdevd) and starts it again, and ends once the
# guest attached again and then detached.
# Environment (virtio-argo-l0dd): VDEV_FABRIC, VDEV_FRONTEND (else
# argo.vdev_frontend, else any), VDEV_RING_LEN (each device's ring; the
# largest message the guest may send is half of it). Command line:
# argo.vargo_timeout, how long to wait for the guest's work (default 600 s,
# as the guest's dom0 in virtio-argo-l1-to-l0).
# e2e-helper: a domU of virtio-argo-xen, the L0 driver domain of virtio-argo-l1-to-l0
. /usr/share/argo-e2e/lib.sh

fabric=${VDEV_FABRIC:-xen:}
frontend=${VDEV_FRONTEND:-$(e2e_cmdline argo.vdev_frontend)} || frontend=any
[ -n "$frontend" ] || frontend=any
ring_len=${VDEV_RING_LEN:+ring_len = $VDEV_RING_LEN}
mkdir -p /srv/share /run/vargo
printf 'hello from the driver domain\n' >/srv/share/hello.txt
truncate -s 256M /srv/disk.raw

qemu-storage-daemon \
	--blockdev driver=file,node-name=f0,filename=/srv/disk.raw \
	--export type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,addr.path=/run/vargo/blk0.sock,writable=on \
	>/run/vargo/qsd.log 2>&1 &
qsd=$!
virtiofsd --socket-path=/run/vargo/fs.sock -o source=/srv/share -o sandbox=chroot \
	-o cache=none >/run/vargo/fsd.log 2>&1 &
fsd=$!
e2e_check backends-up e2e_wait 30 test -S /run/vargo/blk0.sock -a -S /run/vargo/fs.sock

cat >/run/vargo/vdevd.conf <<CONF
[vdevd]
fabric = $fabric
control = /run/vargo/vdevd.ctl
[device blk0]
type = blk
number = 0
socket = /run/vargo/blk0.sock
frontend = $frontend
$ring_len
[device fs0]
type = fs
number = 1
socket = /run/vargo/fs.sock
frontend = $frontend
tag = share
$ring_len
CONF
e2e_check vdevd-config argo-vdevd --check-config /run/vargo/vdevd.conf
# The daemons' logs on our console as they grow (across restarts: -F).
for f in vdevd qsd; do
	touch /run/vargo/$f.log
	tail -F /run/vargo/$f.log 2>/dev/null | sed "s/^/$f| /" &
done
argo-vdevd -v /run/vargo/vdevd.conf >/run/vargo/vdevd.log 2>&1 &
vdevd=$!
e2e_check vdevd-up e2e_wait 30 test -S /run/vargo/vdevd.ctl

# The guest's work; it says it is done in the shared folder. We wait as
# long as the guest's dom0 waits for the guest (argo.vargo_timeout).
wait_guest=$(e2e_cmdline argo.vargo_timeout) || wait_guest=600
if e2e_wait "$wait_guest" test -e /srv/share/guest.done; then
	e2e_case guest-done PASS
else
	e2e_case guest-done FAIL "no /srv/share/guest.done within $wait_guest s"
fi
if [ -f /srv/share/from-guest.bin ] && [ -f /srv/share/from-guest.sha256 ]; then
	want=$(cut -d' ' -f1 /srv/share/from-guest.sha256)
	got=$(sha256sum /srv/share/from-guest.bin | cut -d' ' -f1)
	if [ "$want" = "$got" ]; then
		e2e_case fs-file-identical PASS "sha256 $got, $(wc -c </srv/share/from-guest.bin) bytes"
	else
		e2e_case fs-file-identical FAIL "guest's sha256 $want, here $got"
	fi
else
	e2e_case fs-file-identical FAIL "the guest's file or its digest is missing"
fi
# The guest's fault test: kill argo-vdevd while it reads; start it again.
if e2e_wait 300 test -e /srv/share/kill-vdevd; then
	sleep 2
	kill -KILL "$vdevd"
	wait "$vdevd" 2>/dev/null
	e2e_case vdevd-killed PASS
	mv /run/vargo/vdevd.log /run/vargo/vdevd-1.log
	rm -f /srv/share/kill-vdevd /run/vargo/vdevd.ctl
	# virtiofsd ends with its connection; qemu-storage-daemon waits for the next.
	wait "$fsd" 2>/dev/null
	virtiofsd --socket-path=/run/vargo/fs.sock -o source=/srv/share -o sandbox=chroot \
		-o cache=none >/run/vargo/fsd-2.log 2>&1 &
	fsd=$!
	e2e_wait 30 test -S /run/vargo/fs.sock
	argo-vdevd -v /run/vargo/vdevd.conf >/run/vargo/vdevd.log 2>&1 &
	vdevd=$!
	e2e_check vdevd-again e2e_wait 30 test -S /run/vargo/vdevd.ctl
else
	e2e_case vdevd-killed FAIL "no /srv/share/kill-vdevd from the guest"
fi

# The guest finds the devices again, then unloads virtio_argo.ko: both
# devices DETACHed.
drivers() { argo-vdevctl -s /run/vargo/vdevd.ctl status | grep -c 'driver - '; }
attached() { [ "$(drivers)" = 0 ]; }
detached() { [ "$(drivers)" = 2 ]; }
if e2e_wait 240 attached && e2e_wait 240 detached; then
	e2e_case guest-detached PASS
else
	e2e_case guest-detached FAIL "$(argo-vdevctl -s /run/vargo/vdevd.ctl status | grep '^device')"
fi
echo "argo-vdevctl counters:"
argo-vdevctl -s /run/vargo/vdevd.ctl counters 2>&1 | sed 's/^/    /'
kill "$vdevd" "$qsd" "$fsd" 2>/dev/null
wait "$vdevd" "$qsd" "$fsd" 2>/dev/null
for f in vdevd-1 vdevd qsd fsd fsd-2; do
	[ -f /run/vargo/$f.log ] && tail -n 30 /run/vargo/$f.log | sed "s/^/$f| /"
done
e2e_finish
