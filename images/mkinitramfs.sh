#!/bin/bash
# Builds the end-to-end initramfs (gzip'd newc cpio) at OUT from:
#   busybox-static and images/initramfs/init (+ the scenario helpers),
#   the kernel modules MODULES with their dependencies (modprobe -d against
#   the extracted Debian modules tree LINUX_ROOT, version KVER),
#   the staged Xen dom0 tools TOOLS_ROOT, our programs BINS and, if set,
#   the Argo module ARGO_KO (loaded by /init) and the modules EXTRA_KO (in
#   /lib/modules/KVER/extra, for scenarios to load), each program with the
#   shared libraries ldd finds,
#   the scenario scripts DIR/*.sh of each folder in SCENARIOS (in
#   /scenarios; a name may occur once),
# and, appended as a second cpio, the kernel IMG/vmlinuz and a copy of the
# first cpio (/boot/vmlinuz, /boot/initrd-domu.gz), so that dom0 can start
# a domU from the same kernel and root file system.
# Usage: IMG=.. KVER=.. LINUX_ROOT=.. TOOLS_ROOT=.. MODULES=.. BINS=.. \
#        ARGO_KO=.. EXTRA_KO=.. SCENARIOS=.. images/mkinitramfs.sh OUT
set -eu

out=${1:?usage: mkinitramfs.sh OUT}
: "${IMG:?} ${KVER:?} ${LINUX_ROOT:?} ${TOOLS_ROOT:?} ${MODULES:?} ${BINS:?} ${SCENARIOS:?}"
ARGO_KO=${ARGO_KO:-}
EXTRA_KO=${EXTRA_KO:-}
here=$(cd "$(dirname "$0")" && pwd)
# Everything absolute: the work happens inside the staging folder.
abs() { realpath -m "$1"; }
out=$(abs "$out")
IMG=$(abs "$IMG")
LINUX_ROOT=$(abs "$LINUX_ROOT")
TOOLS_ROOT=$(abs "$TOOLS_ROOT")
dirs=""
for d in $SCENARIOS; do dirs="$dirs $(abs "$d")"; done
SCENARIOS=$dirs
[ -z "$ARGO_KO" ] || ARGO_KO=$(abs "$ARGO_KO")
kos=""
for k in $EXTRA_KO; do kos="$kos $(abs "$k")"; done
EXTRA_KO=$kos
bins=""
for b in $BINS; do bins="$bins $(abs "$b")"; done
BINS=$bins

die() {
	echo "mkinitramfs: $*" >&2
	exit 1
}

for f in /bin/busybox "$LINUX_ROOT/lib/modules/$KVER/modules.dep" "$IMG/vmlinuz"; do
	[ -e "$f" ] || die "missing $f"
done
if ldd /bin/busybox >/dev/null 2>&1; then
	die "/bin/busybox is dynamically linked: install busybox-static"
fi

stage=$IMG/initramfs-root
rm -rf "$stage"
mkdir -p "$stage"
cd "$stage"
mkdir -p bin sbin usr/bin usr/sbin etc/argo-e2e proc sys dev run tmp root \
	var/lib/xen var/lib/xenstored var/log/xen scenarios usr/share/argo-e2e \
	lib/x86_64-linux-gnu lib64 "lib/modules/$KVER"
ln -s ../run var/run
chmod 1777 tmp

# busybox and its applets (real programs copied later win).
cp /bin/busybox bin/busybox
for a in $(/bin/busybox --list-full); do
	[ -e "$a" ] || ln -s /bin/busybox "$a"
done

install -m 0755 "$here/initramfs/init" init
install -m 0644 "$here/initramfs/e2e-lib.sh" usr/share/argo-e2e/lib.sh
for d in $SCENARIOS; do
	for s in "$d"/*.sh; do
		[ -e "$s" ] || continue
		[ ! -e "scenarios/$(basename "$s")" ] ||
			die "scenario $(basename "$s") exists twice (in $d and an earlier folder of: $SCENARIOS)"
		install -m 0755 "$s" scenarios/
	done
done
printf 'root:x:0:0:root:/root:/bin/sh\n' >etc/passwd
printf 'root:x:0:\n' >etc/group

# Kernel modules, in load order, dependencies first, each once.
: >etc/argo-e2e/modules
for m in $MODULES; do
	deps=$(modprobe -d "$LINUX_ROOT" -S "$KVER" --show-depends "$m" 2>&1) ||
		die "module $m: $deps"
	while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		rel=${path#"$LINUX_ROOT"}
		grep -qxF "$rel" etc/argo-e2e/modules && continue
		mkdir -p ".$(dirname "$rel")"
		cp "$path" ".$rel"
		echo "$rel" >>etc/argo-e2e/modules
	done <<<"$deps"
done
if [ -n "$ARGO_KO" ]; then
	[ -f "$ARGO_KO" ] || die "ARGO_KO=$ARGO_KO does not exist"
	mkdir -p "lib/modules/$KVER/extra"
	cp "$ARGO_KO" "lib/modules/$KVER/extra/argo.ko"
	echo "/lib/modules/$KVER/extra/argo.ko" >etc/argo-e2e/argo-ko
fi
for k in $EXTRA_KO; do
	[ -f "$k" ] || die "EXTRA_KO: $k does not exist"
	mkdir -p "lib/modules/$KVER/extra"
	cp "$k" "lib/modules/$KVER/extra/"
done
cp "$LINUX_ROOT/lib/modules/$KVER"/modules.{order,builtin,builtin.modinfo} "lib/modules/$KVER/"
depmod -b "$stage" "$KVER"

# Xen dom0 tools, then our programs.
cp -a "$TOOLS_ROOT/." .
xen_mm=$(cat "$TOOLS_ROOT/../xen-mm")
for b in $BINS; do
	[ -x "$b" ] || die "missing program $b (run make first)"
	install -m 0755 "$b" usr/bin/
done
cat >etc/argo-e2e/env <<EOF
PATH=/usr/bin:/usr/sbin:/bin:/sbin:/usr/lib/xen-$xen_mm/bin
XEN_TOOLS_VERSION=$(cat "$TOOLS_ROOT/../version")
XEN_BIN=/usr/lib/xen-$xen_mm/bin
KVER=$KVER
EOF

# Shared libraries: ldd every ELF program and library of the image, with
# the image's own library folders first; copy what the host provides.
libpath="$stage/usr/lib/x86_64-linux-gnu:$stage/usr/lib/xen-$xen_mm/lib/x86_64-linux-gnu"
required="usr/lib/xen-$xen_mm/bin/xl usr/lib/xen-$xen_mm/bin/xenstored
	usr/lib/xen-$xen_mm/bin/xenconsoled usr/lib/xen-$xen_mm/bin/xen-init-dom0"
for b in $BINS; do required="$required usr/bin/$(basename "$b")"; done
missing=""
while IFS= read -r f; do
	case "$f" in ./bin/busybox | ./lib/modules/*) continue ;; esac
	head -c 4 "$f" | grep -q 'ELF' || continue
	listing=$(LD_LIBRARY_PATH=$libpath ldd "$f" 2>/dev/null) || continue
	while read -r line; do
		case "$line" in
		*"=> not found"*)
			lib=${line%% *}
			for r in $required; do
				[ "./$r" = "$f" ] && missing="$missing ${f#./}:$lib"
			done
			continue
			;;
		*"=> /"*) p=${line#*=> } ;;
		/*) p=$line ;;
		*) continue ;;
		esac
		p=${p%% (*}
		case "$p" in "$stage"/*) continue ;; esac
		[ -e ".$p" ] && continue
		mkdir -p ".$(dirname "$p")"
		cp -L "$p" ".$p"
	done <<<"$listing"
done < <(find . -type f -perm -u+x -o -type f -name '*.so*')
[ -z "$missing" ] || die "libraries not found (for program:library):$missing"
# Libraries glibc loads with dlopen, which ldd does not list: libgcc_s for
# pthread_cancel and unwinding (xl aborts without it).
dlopened="libgcc_s.so.1"
for l in $dlopened; do
	p=$(ldconfig -p | awk -v l="$l" '$1 == l && /x86-64/ { print $NF; exit }')
	[ -n "$p" ] || die "host library $l not found (ldconfig -p)"
	mkdir -p ".$(dirname "$p")"
	cp -L "$p" ".$p"
done
# The image's ld.so cache, so the loader finds the multiarch folders.
printf '%s\n' /lib/x86_64-linux-gnu /usr/lib/x86_64-linux-gnu \
	"/usr/lib/xen-$xen_mm/lib/x86_64-linux-gnu" >etc/ld.so.conf
ldconfig -r "$stage"

# First archive: the root file system; second: the domU payload.
tmp=$(mktemp -d "$IMG/mkinitramfs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet | gzip -6n >"$tmp/base.gz"
mkdir -p "$tmp/payload/boot"
cp "$IMG/vmlinuz" "$tmp/payload/boot/vmlinuz"
cp "$tmp/base.gz" "$tmp/payload/boot/initrd-domu.gz"
(cd "$tmp/payload" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) |
	gzip -1n >"$tmp/payload.gz"
cat "$tmp/base.gz" "$tmp/payload.gz" >"$out.tmp"
mv "$out.tmp" "$out"
echo "mkinitramfs: $out ($(du -h "$out" | cut -f1); root fs $(du -sh "$stage" | cut -f1)," \
	"$(wc -l <etc/argo-e2e/modules) modules, Xen tools $(cat "$TOOLS_ROOT/../version"))"
