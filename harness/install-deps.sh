#!/bin/sh
# Installs the Debian packages the project needs, and nothing when all are
# there. Idempotent and quiet on a machine that is ready; needs root (or sudo)
# only when something is missing. Usage: harness/install-deps.sh [GROUP...]
#   base  build and unit/integration tests (default)
#   bench `make bench`: gnuplot for the plots, valgrind (callgrind) and perf
#         for the costs per message
#   relay libraries of argo-relayd (OpenSSL, inih)
#   images  Xen/dom0 images and the QEMU boot harness: QEMU, busybox,
#           Xen's build tools, and the headers of the kernel that
#           linux-image-amd64 points at (for the Argo module)
#   libvirt libvirtd, virtlogd and virsh for the L0 VMs of the scenarios
#           and for l0/argo-deploy (the harness starts the daemons itself
#           where no init system does)
#   virtio  the vhost-user back ends argo-vdevd drives in tests: Debian's
#           qemu-system-common (qemu-storage-daemon, /usr/lib/qemu/virtiofsd)
#           and qemu-utils (qemu-img, for qcow2 images)
#   packaging  make install, man pages, systemd units, Debian packages and
#           their chroot test, DKMS: debhelper, dh-dkms, lintian,
#           debootstrap, man-db, groff, systemd (for systemd-analyze:
#           it is not started on this machine), systemd-container (boots
#           the packages' test chroot in a container of its own), and the
#           same kernel headers
set -eu

pkgs_base="build-essential pkg-config libcunit1-dev libinih-dev libssl-dev openssl liburing-dev cppcheck clang iproute2 socat"
pkgs_bench="gnuplot-nox valgrind linux-perf socat python3"
pkgs_relay="libssl-dev"
pkgs_virtio="qemu-system-common qemu-utils"
pkgs_packaging="debhelper dh-dkms dkms lintian debootstrap fakeroot man-db groff-base systemd systemd-container pkg-config"
pkgs_images="qemu-system-x86 busybox-static flex bison cpio kmod xz-utils dpkg-dev patch python3 bc e2fsprogs"
pkgs_libvirt="libvirt-daemon-system libvirt-clients dnsmasq-base qemu-system-x86 socat"

# The kernel version Debian's linux-image-amd64 currently points at, e.g.
# 6.1.0-56-amd64 (the same derivation as KVER in images/images.mk).
debian_kver() {
	apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9].*\)$/\1/p' | head -n 1
}

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
updated=0
# A stale or absent package list is the usual reason an install fails.
apt_update() {
	[ "$updated" = 1 ] && return 0
	$SUDO apt-get update -qq
	updated=1
}

# Xen with Argo is built from Debian's xen source package: apt must know
# source packages (deb-src). Adds deb-src next to deb in Debian's sources.
ensure_deb_src() {
	apt-cache showsrc xen 2>/dev/null | grep -q '^Version:' && return 0
	echo "install-deps: enabling deb-src (for apt-get source xen)"
	f=/etc/apt/sources.list.d/debian.sources
	if [ -f "$f" ]; then
		$SUDO sed -i 's/^Types: deb$/Types: deb deb-src/' "$f"
	fi
	if [ -f /etc/apt/sources.list ] && grep -q '^deb ' /etc/apt/sources.list &&
		! grep -q '^deb-src ' /etc/apt/sources.list; then
		sed -n 's/^deb /deb-src /p' /etc/apt/sources.list | $SUDO tee -a /etc/apt/sources.list >/dev/null
	fi
	updated=0
	apt_update
	if ! apt-cache showsrc xen 2>/dev/null | grep -q '^Version:'; then
		echo "install-deps: apt still knows no source package 'xen': add deb-src to your apt sources" >&2
		exit 1
	fi
}

groups="${*:-base}"
want=""
for g in $groups; do
	case "$g" in
	base) want="$want $pkgs_base" ;;
	relay) want="$want $pkgs_relay" ;;
	libvirt) want="$want $pkgs_libvirt" ;;
	bench) want="$want $pkgs_bench" ;;
	virtio) want="$want $pkgs_virtio" ;;
	images | packaging)
		kver=$(debian_kver)
		if [ -z "$kver" ]; then
			apt_update
			kver=$(debian_kver)
		fi
		if [ -z "$kver" ]; then
			echo "install-deps: apt-cache does not know linux-image-amd64" >&2
			exit 1
		fi
		if [ "$g" = packaging ]; then
			want="$want $pkgs_packaging linux-headers-$kver"
			continue
		fi
		ensure_deb_src
		want="$want $pkgs_images linux-headers-$kver"
		;;
	*) echo "install-deps: unknown group '$g' (base, relay, bench, virtio, images, libvirt, packaging)" >&2; exit 2 ;;
	esac
done

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0
# One install at a time (make check runs two streams of jobs side by side):
# the script again, under a lock held by flock itself (-o: no daemon a
# package starts keeps it), so what the other run installed is seen.
if [ -z "${ARGO_INSTALL_DEPS_LOCKED:-}" ] && command -v flock >/dev/null; then
	ARGO_INSTALL_DEPS_LOCKED=1 exec flock -o "${TMPDIR:-/tmp}/argo-install-deps.lock" "$0" "$@"
fi

echo "install-deps: installing:$missing"
apt_update
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "install-deps: done"
