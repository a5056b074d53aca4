#!/bin/bash
# Fetches Debian's xen source package into folder $1 and writes the version
# it got into $1/xen.version. Tries the versions `apt-cache showsrc xen`
# lists, newest first, and takes the first one the archive really serves
# (the newest is sometimes listed but gone: 404). A version whose .dsc is
# already in $1 is used without asking the network.
# Usage: images/fetch-xen-src.sh DIR
set -eu

dir=${1:?usage: fetch-xen-src.sh DIR}
mkdir -p "$dir"
cd "$dir"

versions=$(apt-cache showsrc xen 2>/dev/null | sed -n 's/^Version: //p' | sort -Vr | uniq)
if [ -z "$versions" ]; then
	echo "fetch-xen-src: apt knows no source package 'xen'." >&2
	echo "  Enable deb-src (Types: deb deb-src in /etc/apt/sources.list.d/debian.sources)" >&2
	echo "  and run apt-get update; harness/install-deps.sh images does both." >&2
	exit 1
fi

# A cached, complete download wins (dpkg-source checks the checksums later).
for v in $versions; do
	uv=${v#*:}
	if [ -f "xen_${uv}.dsc" ]; then
		echo "fetch-xen-src: using cached xen_${uv}.dsc"
		echo "$uv" >xen.version
		exit 0
	fi
done

for v in $versions; do
	echo "fetch-xen-src: trying xen $v"
	if apt-get -qq -o APT::Sandbox::User=root source --download-only "xen=$v" >fetch.log 2>&1; then
		uv=${v#*:}
		echo "$uv" >xen.version
		echo "fetch-xen-src: got xen $uv"
		exit 0
	fi
	echo "fetch-xen-src: xen $v is not served: $(grep -m1 -E 'Failed|404|E:' fetch.log || tail -n1 fetch.log)" >&2
done
echo "fetch-xen-src: no listed version of xen could be downloaded" >&2
exit 1
