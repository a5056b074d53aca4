#!/bin/bash
# Downloads Debian binary packages (no install) into folder DIR, unless the
# exact .deb is already there, and prints the path of each .deb, one a line.
# PKG alone means apt's candidate version; PKG=VERSION pins one.
# Usage: images/fetch-debs.sh DIR PKG[=VERSION]...
set -eu

dir=${1:?usage: fetch-debs.sh DIR PKG[=VERSION]...}
shift
mkdir -p "$dir"
cd "$dir"

for spec in "$@"; do
	pkg=${spec%%=*}
	if [ "$pkg" != "$spec" ]; then
		ver=${spec#*=}
	else
		ver=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
		if [ -z "$ver" ] || [ "$ver" = "(none)" ]; then
			echo "fetch-debs: apt has no candidate for '$pkg' (apt-get update? missing component?)" >&2
			exit 1
		fi
	fi
	# apt names the file PKG_VERSION_ARCH.deb with the epoch colon as %3a.
	shopt -s nullglob
	have=("${pkg}_${ver//:/%3a}"_*.deb)
	shopt -u nullglob
	if [ "${#have[@]}" -eq 0 ]; then
		if ! apt-get -qq -o APT::Sandbox::User=root download "$pkg=$ver" >download.log 2>&1; then
			echo "fetch-debs: cannot download $pkg=$ver:" >&2
			sed 's/^/  /' download.log >&2
			exit 1
		fi
		shopt -s nullglob
		have=("${pkg}_${ver//:/%3a}"_*.deb)
		shopt -u nullglob
		if [ "${#have[@]}" -eq 0 ]; then
			echo "fetch-debs: apt-get download $pkg=$ver left no ${pkg}_${ver}_*.deb in $dir" >&2
			exit 1
		fi
	fi
	echo "$dir/${have[0]}"
done
