#!/bin/bash
# The Debian packages: built from the tree with dpkg-buildpackage,
# checked by lintian, argo-dkms built by DKMS against the kernel the images
# boot, then installed with dpkg into a fresh debootstrap chroot of Debian
# 12 and booted there with systemd (systemd-nspawn, private network), where
# tests/ops/in-container.sh runs the units, relays and the demo from the
# installed paths.
#
# The debootstrap base (minbase, systemd, and what the packages depend on)
# is made once and kept in BUILD/deb/base; each run installs into a fresh
# copy of it. Needs root and the packaging group of harness/install-deps.sh.
#
# Usage: tests/ops/packages.sh BUILD_DIR
set -u
BUILD=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/results.sh"
DEB="$BUILD/deb"
MIRROR=${DEBOOTSTRAP_MIRROR:-http://deb.debian.org/debian}
VERSION=$(sed -n 's/^#define ARGO_VERSION *"\(.*\)"$/\1/p' "$ROOT/common/include/argo/version.h")
KVER=${KVER:-$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: linux-image-\([0-9].*\)$/\1/p' | head -n 1)}
mkdir -p "$DEB"
t0=$(date +%s)
stamp() { echo "[$(($(date +%s) - t0)) s] $*"; }

# 1. Build, from a copy of the tree (what git tracks, and new files not
# ignored), so that nothing of build/ goes in.
SRC="$DEB/src/argo-relay-$VERSION"
rm -rf "$DEB/src"
mkdir -p "$SRC"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar -c --null -T - --ignore-failed-read) |
	tar -x -C "$SRC"
stamp "dpkg-buildpackage"
(cd "$SRC" && dpkg-buildpackage -us -uc -b -j2) >"$DEB/build.log" 2>&1
result "dpkg-buildpackage builds the packages" $? "see $DEB/build.log: $(tail -n 3 "$DEB/build.log")"
debs=()
for p in argo-relay libargo0 libargo-dev; do debs+=("$DEB/src/${p}_${VERSION}_amd64.deb"); done
dkms_deb="$DEB/src/argo-dkms_${VERSION}_all.deb"
for f in "${debs[@]}" "$dkms_deb"; do
	if [ ! -f "$f" ]; then
		result "package $(basename "$f")" 1 "not built"
		results_summary
		exit 1
	fi
done

# 2. Lintian: no error or warning; the informational tags are printed.
stamp "lintian"
lintian -I --pedantic "$DEB/src/argo-relay_${VERSION}_amd64.changes" >"$DEB/lintian.log" 2>&1
grep -v '^running with root privileges' "$DEB/lintian.log" | sed 's/^/  lintian: /'
bad=$(grep -E '^[EW]: ' "$DEB/lintian.log")
result "lintian: no error, no warning" "$([ -z "$bad" ] && echo 0 || echo 1)" "$bad"

# 3. What each package holds.
contents() { dpkg-deb -c "$1" | awk '{print $6}' | sed 's|^\./|/|; s|/$||'; }
check_has() {
	local deb=$1 missing="" f
	shift
	contents "$deb" >"$DEB/contents"
	for f in "$@"; do grep -qxF "$f" "$DEB/contents" || missing="$missing $f"; done
	result "$(basename "$deb") has what it should" "$([ -z "$missing" ] && echo 0 || echo 1)" "missing:$missing"
}
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
check_has "${debs[0]}" /usr/sbin/argo-simd /usr/sbin/argo-relayd /usr/sbin/argo-vdevd /usr/bin/argo-relayctl \
	/usr/bin/argo-echo /usr/bin/argo-ping /usr/bin/argo-stream /usr/bin/argo-bench /usr/bin/argo-conformance \
	/usr/bin/argo-conformance-peer /usr/bin/argo-vdevctl /usr/share/man/man8/argo-vdevd.8.gz \
	/etc/argo/argo-simd.conf /lib/systemd/system/argo-simd.service /lib/systemd/system/argo-relayd@.service \
	/usr/lib/tmpfiles.d/argo.conf /usr/lib/sysusers.d/argo.conf /lib/udev/rules.d/60-argo.rules \
	/usr/share/man/man8/argo-relayd.8.gz /usr/share/man/man5/argo-relayd.conf.5.gz \
	/usr/share/man/man1/argo-ping.1.gz /usr/share/doc/argo-relay/examples/relay.conf \
	/usr/share/doc/argo-relay/quickstart.md.gz
check_has "${debs[1]}" "/usr/lib/$MA/libargo.so.$VERSION" "/usr/lib/$MA/libargo.so.0"
check_has "${debs[2]}" /usr/include/argo/argo.h /usr/include/argo/version.h "/usr/lib/$MA/libargo.a" \
	"/usr/lib/$MA/libargo.so" "/usr/lib/$MA/pkgconfig/libargo.pc" /usr/share/man/man3/libargo.3.gz
check_has "$dkms_deb" "/usr/src/argo-$VERSION/dkms.conf" "/usr/src/argo-$VERSION/kmod/argo.c" \
	"/usr/src/argo-$VERSION/include/uapi/linux/argo_dev.h"
grep -q 'dkms' <(dpkg-deb -f "$dkms_deb" Depends)
result "argo-dkms depends on dkms" $? "Depends: $(dpkg-deb -f "$dkms_deb" Depends)"

# 4. DKMS builds the packaged module against the images' kernel headers.
stamp "dkms build for $KVER"
K="$DEB/dkms"
rm -rf "$K"
mkdir -p "$K/tree"
dpkg-deb -x "$dkms_deb" "$K/pkg"
if [ -z "$KVER" ] || [ ! -d "/usr/src/linux-headers-$KVER" ]; then
	result "dkms build argo/$VERSION" 1 "no headers for kernel '$KVER' (harness/install-deps.sh packaging)"
else
	dkms build -m argo -v "$VERSION" -k "$KVER" --sourcetree "$K/pkg/usr/src" --dkmstree "$K/tree" \
		>"$DEB/dkms.log" 2>&1
	rc=$?
	ko="$K/tree/argo/$VERSION/$KVER/x86_64/module/argo.ko"
	[ $rc -eq 0 ] && [ "$(modinfo -F vermagic "$ko" 2>/dev/null | cut -d' ' -f1)" = "$KVER" ]
	result "dkms build argo/$VERSION against $KVER" $? "rc $rc: $(tail -n 3 "$DEB/dkms.log")"
fi

# 5. The base system: debootstrap, once. It holds what the packages
# depend on (read from them) and systemd, to boot.
deps=$(for f in "${debs[@]}"; do dpkg-deb -f "$f" Depends; dpkg-deb -f "$f" Pre-Depends; done | tr ',' '\n' |
	sed 's/|.*//; s/(.*//; s/ //g' | grep -vE '^$|^libargo' | sort -u | tr '\n' ',')
includes="systemd,systemd-sysv,${deps%,}"
BASE="$DEB/base"
if [ "$(cat "$BASE.includes" 2>/dev/null)" != "$includes" ] || [ ! -x "$BASE/bin/bash" ]; then
	stamp "debootstrap bookworm ($includes)"
	rm -rf "$BASE" "$BASE.new" "$BASE.includes"
	if debootstrap --variant=minbase --include="$includes" bookworm "$BASE.new" "$MIRROR" \
		>"$DEB/debootstrap.log" 2>&1; then
		mv "$BASE.new" "$BASE" && echo "$includes" >"$BASE.includes"
	fi
fi
if [ ! -f "$BASE.includes" ]; then
	result "debootstrap of Debian 12" 1 "see $DEB/debootstrap.log: $(tail -n 2 "$DEB/debootstrap.log")"
	results_summary
	exit 1
fi

# 6. A fresh copy; dpkg installs the packages (argo-dkms aside: it needs a
# compiler and kernel headers, and step 4 built it).
stamp "install into a fresh chroot"
R="$DEB/root"
rm -rf "$R"
cp -a "$BASE" "$R"
mkdir -p "$R/argo-check/debs"
cp "${debs[@]}" "$R/argo-check/debs/"
# /proc as a real installation has it (systemd-tmpfiles in postinst needs it).
mount -t proc proc "$R/proc"
chroot "$R" sh -c 'dpkg -i /argo-check/debs/*.deb' >"$DEB/dpkg.log" 2>&1
rc=$?
umount "$R/proc"
for p in argo-relay libargo0 libargo-dev; do
	chroot "$R" dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'install ok installed' || rc=1
done
result "dpkg -i in a fresh Debian 12 chroot" $rc "see $DEB/dpkg.log: $(tail -n 3 "$DEB/dpkg.log")"

# 7. Boot it: the check runs as a unit once the system is up, then powers
# off. Its harness files come from this tree; the programs from the packages.
S="$R/argo-check/src"
mkdir -p "$S/harness" "$S/tests/integration" "$S/tests/ops"
cp "$ROOT/harness/demo.sh" "$ROOT/harness/lib.sh" "$ROOT/harness/sim-chain.sh" "$S/harness/"
cp "$ROOT/tests/integration/results.sh" "$S/tests/integration/"
cp "$ROOT/tests/ops/in-container.sh" "$S/tests/ops/"
cat >"$R/etc/systemd/system/argo-check.service" <<'UNIT'
[Unit]
Description=argo-relay package check (tests/ops/in-container.sh)
After=multi-user.target

[Service]
Type=oneshot
ExecStart=/argo-check/src/tests/ops/in-container.sh
ExecStopPost=/bin/systemctl --no-block poweroff
TimeoutStartSec=240

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/argo-check.service "$R/etc/systemd/system/multi-user.target.wants/"
stamp "boot the chroot (systemd-nspawn)"
timeout 300 systemd-nspawn -q -D "$R" -M "argo-check-$$" -b --register=no --keep-unit \
	--private-network >"$DEB/boot.log" 2>&1
rc=$?
if [ ! -f "$R/argo-check/results.log" ]; then
	result "the booted system ran its checks" 1 "nspawn exit $rc; see $DEB/boot.log: $(tail -n 5 "$DEB/boot.log")"
else
	cp "$R/argo-check/results.log" "$DEB/in-container.log"
	grep -qE '^[0-9]+ passed, [0-9]+ failed' "$DEB/in-container.log"
	result "the booted system ran its checks to the end" $? "see $DEB/in-container.log and $DEB/boot.log"
	while IFS= read -r line; do
		case "$line" in
		"PASS "*) result "container: ${line#PASS }" 0 "" ;;
		"FAIL "*) name=${line#FAIL }; result "container: ${name%%: *}" 1 "${name#*: }" ;;
		"SKIP "*) name=${line#SKIP }; skipped "container: ${name%%: *}" "${name#*: }" ;;
		"== demo"*) echo "  $line" ;;
		esac
	done <"$DEB/in-container.log"
fi
stamp "done"
results_summary
