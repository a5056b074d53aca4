#!/bin/bash
# Stages Debian's Xen dom0 tools (xl, xenstored, xenconsoled, their Xen
# libraries) of one Debian version into OUT/root, without installing them:
# apt-get download + dpkg-deb -x. The .debs are cached in CACHE.
# Usage: images/stage-xen-tools.sh OUT VERSION CACHE
set -eu

out=${1:?usage: stage-xen-tools.sh OUT VERSION CACHE}
ver=${2:?missing VERSION (Debian version of xen-utils, e.g. 4.17.5+72-g01140da4e8-1)}
cache=${3:?missing CACHE folder}
here=$(cd "$(dirname "$0")" && pwd)

# xen-utils-4.17 for 4.17.x: the major.minor is part of some package names.
mm=$(echo "$ver" | sed -n 's/^\([0-9]*\.[0-9]*\)\..*/\1/p')
if [ -z "$mm" ]; then
	echo "stage-xen-tools: cannot read MAJOR.MINOR from version '$ver'" >&2
	exit 1
fi

# Packages of the xen source at exactly $ver, then outside libraries that a
# minimal Debian host does not carry (the rest, libc & co, come from the
# host through ldd when the initramfs is made).
xen_pkgs="xen-utils-$mm xen-utils-common xenstore-utils libxenmisc$mm libxenstore4
	libxencall1 libxenevtchn1 libxenforeignmemory1 libxengnttab1 libxentoollog1
	libxendevicemodel1 libxenhypfs1 libxentoolcore1"
other_pkgs="libyajl2"

specs=""
for p in $xen_pkgs; do specs="$specs $p=$ver"; done
# shellcheck disable=SC2086
debs=$("$here/fetch-debs.sh" "$cache" $specs $other_pkgs)

rm -rf "$out"
mkdir -p "$out/root"
for d in $debs; do
	dpkg-deb -x "$d" "$out/root"
done
# Drop what a dom0 in an initramfs never needs (docs, python, firmware).
rm -rf "$out/root/usr/share/doc" "$out/root/usr/share/man" \
	"$out/root/usr/lib/xen-$mm/lib/python" "$out/root/usr/lib/xen-$mm/boot"
echo "$ver" >"$out/version"
echo "$mm" >"$out/xen-mm"
echo "stage-xen-tools: xen-utils $ver staged in $out/root"
