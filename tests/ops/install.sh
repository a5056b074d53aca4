#!/bin/bash
# `make install` with PREFIX and DESTDIR, as a user of the tree would run
# it: what lands where, the shared library's SONAME and exported symbols,
# libargo.pc and the headers (the example program of docs/client-api.md
# built against the installed copy, and run on the installed argo-simd),
# the systemd units (systemd-analyze verify and security, offline), the
# sysusers.d and tmpfiles.d entries (applied to the staged root), make
# uninstall, and the DKMS tree of make install-dkms.
#
# Usage: tests/ops/install.sh BUILD_DIR
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/results.sh"
. "$ROOT/harness/lib.sh"
TMP=$(mktemp -d /tmp/argo-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
VERSION=$(sed -n 's/^#define ARGO_VERSION *"\(.*\)"$/\1/p' "$ROOT/common/include/argo/version.h")
MK=(make --no-print-directory -C "$ROOT" BUILD="$(cd "$BUILD" && pwd)")

# 1. The default prefix, /usr/local.
D="$TMP/local"
"${MK[@]}" install DESTDIR="$D" >"$TMP/install-local.log" 2>&1
result "make install DESTDIR (PREFIX /usr/local)" $? "see $(tail -n 3 "$TMP/install-local.log")"
missing=""
for f in sbin/argo-simd sbin/argo-relayd sbin/argo-vdevd bin/argo-relayctl bin/argo-echo \
	bin/argo-ping bin/argo-stream bin/argo-bench bin/argo-conformance bin/argo-conformance-peer bin/argo-vdevctl \
	lib/libargo.a lib/libargo.so "lib/libargo.so.0" "lib/libargo.so.$VERSION" \
	lib/pkgconfig/libargo.pc include/argo/argo.h include/argo/abi.h include/argo/ring.h \
	include/argo/routed.h include/argo/version.h etc/argo/argo-simd.conf \
	share/man/man8/argo-simd.8 share/man/man8/argo-relayd.8 share/man/man1/argo-relayctl.1 \
	share/man/man8/argo-vdevd.8 share/man/man1/argo-vdevctl.1 \
	share/man/man1/argo-echo.1 share/man/man1/argo-ping.1 share/man/man1/argo-stream.1 \
	share/man/man1/argo-bench.1 \
	share/man/man5/argo-relayd.conf.5 share/man/man5/argo-simd.conf.5 share/man/man3/libargo.3 \
	share/doc/argo-relay/examples/relay.conf share/doc/argo-relay/examples/argo-simd.conf \
	lib/systemd/system/argo-simd.service "lib/systemd/system/argo-relayd@.service" \
	lib/tmpfiles.d/argo.conf lib/sysusers.d/argo.conf lib/udev/rules.d/60-argo.rules; do
	[ -e "$D/usr/local/$f" ] || missing="$missing $f"
done
result "everything lands under /usr/local" "$([ -z "$missing" ] && echo 0 || echo 1)" "missing:$missing"
grep -q "^ExecStart=/usr/local/sbin/argo-simd --config /usr/local/etc/argo/argo-simd.conf " \
	"$D/usr/local/lib/systemd/system/argo-simd.service" &&
	grep -q '^ExecStart=/usr/local/sbin/argo-relayd /usr/local/etc/argo/%i.conf$' \
		"$D/usr/local/lib/systemd/system/argo-relayd@.service" &&
	grep -qx 'libdir=/usr/local/lib' "$D/usr/local/lib/pkgconfig/libargo.pc" &&
	grep -qF '/usr/local/etc/argo/argo\-simd.conf' "$D/usr/local/share/man/man8/argo-simd.8"
result "units, libargo.pc and man pages name the /usr/local paths" $? "a path was not filled in"
"$D/usr/local/sbin/argo-simd" --version | grep -qx "argo-simd (argo-relay) $VERSION"
result "installed argo-simd runs" $? "--version"

# 2. The shared library.
so="$D/usr/local/lib/libargo.so.$VERSION"
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = libargo.so.0 ] && [ "$(readlink "$D/usr/local/lib/libargo.so.0")" = "libargo.so.$VERSION" ] &&
	[ "$(readlink "$D/usr/local/lib/libargo.so")" = libargo.so.0 ]
result "libargo.so: SONAME libargo.so.0 and its links" $? "SONAME '$soname'"
nm -D --defined-only "$so" | awk '$2 == "T" {sub(/@.*/, "", $3); print $3}' | sort >"$TMP/exported"
sed -n 's/^\t\(argo_[a-z_]*\);$/\1/p' "$ROOT/common/libargo.map" | sort >"$TMP/map"
diff -u "$TMP/map" "$TMP/exported" >"$TMP/exp.diff"
result "libargo.so exports exactly common/libargo.map" $? "$(grep '^[-+]argo' "$TMP/exp.diff" | tr '\n' ' ')"
undeclared=""
for fn in $(cat "$TMP/exported"); do
	grep -qE "\b$fn\(" "$D"/usr/local/include/argo/*.h || undeclared="$undeclared $fn"
done
result "every exported function is declared in the installed headers" \
	"$([ -z "$undeclared" ] && echo 0 || echo 1)" "undeclared:$undeclared"
# ... and the reverse: a function the headers declare (not inline) that the
# map leaves out would be missing from libargo.so.
grep -hoE '^[a-z_0-9 ]*[a-z_0-9 *]\*?argo_[a-z_0-9]+\(' "$D"/usr/local/include/argo/*.h | grep -v 'static' |
	grep -oE 'argo_[a-z_0-9]+\($' | tr -d '(' | sort -u >"$TMP/declared"
missing=$(comm -23 "$TMP/declared" "$TMP/map" | tr '\n' ' ')
result "every function the headers declare is in common/libargo.map" \
	"$([ -z "$missing" ] && echo 0 || echo 1)" \
	"add to common/libargo.map, debian/libargo0.symbols and libargo(3): $missing"
sed -n 's/^ \(argo_[a-z_]*\)@LIBARGO_0 .*/\1/p' "$ROOT/debian/libargo0.symbols" | sort >"$TMP/symbols"
diff -q "$TMP/map" "$TMP/symbols" >/dev/null
result "debian/libargo0.symbols lists the same functions" $? "update debian/libargo0.symbols"

# 3. A program built against the installed copy: the example of
# docs/client-api.md, with pkg-config, dynamically and statically.
# (the block that starts with the hello-argo comment)
awk 'BEGIN {RS = "```"} /^c\n\/\* hello-argo/ {sub(/^c\n/, ""); print; exit}' "$ROOT/docs/client-api.md" \
	>"$TMP/hello.c"
export PKG_CONFIG_SYSROOT_DIR="$D" PKG_CONFIG_LIBDIR="$D/usr/local/lib/pkgconfig"
[ "$(pkg-config --modversion libargo)" = "$VERSION" ]
result "pkg-config finds libargo $VERSION" $? "modversion '$(pkg-config --modversion libargo 2>&1)'"
cc -std=c11 -Wall -Wextra -Werror "$TMP/hello.c" $(pkg-config --cflags --libs libargo) -lpthread \
	-o "$TMP/hello" 2>"$TMP/cc.log"
result "docs/client-api.md's example builds against the installed libargo.so" $? "$(head -n 3 "$TMP/cc.log")"
cc -std=c11 -Wall -Wextra -Werror -static "$TMP/hello.c" $(pkg-config --static --cflags --libs libargo) \
	-o "$TMP/hello-static" 2>"$TMP/cc-static.log"
result "... and statically against libargo.a" $? "$(head -n 3 "$TMP/cc-static.log")"
unset PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_LIBDIR
ldd_line=$(LD_LIBRARY_PATH="$D/usr/local/lib" ldd "$TMP/hello" 2>/dev/null | grep libargo)
[[ "$ldd_line" == *"$D/usr/local/lib/libargo.so.0"* ]]
result "the dynamic one loads the installed libargo.so.0" $? "ldd: $ldd_line"
if pid=$(start_simd "$D/usr/local/sbin" "$TMP/f.sock" "$TMP/simd.log"); then
	LD_LIBRARY_PATH="$D/usr/local/lib" "$TMP/hello" "sim:$TMP/f.sock" >"$TMP/hello.out" 2>&1
	rc=$?
	"$TMP/hello-static" "sim:$TMP/f.sock" >>"$TMP/hello.out" 2>&1
	rc=$((rc | $?))
	stop_simd "$pid" "$TMP/simd.log" || rc=1
	[ "$(grep -c 'received 100 messages .*: ok$' "$TMP/hello.out")" -eq 2 ] || rc=1
else
	rc=1
fi
result "both run on the installed argo-simd" $rc "$(tr '\n' ' ' <"$TMP/hello.out" 2>/dev/null)"

# 4. Debian's layout (debian/rules' paths), then the units, users and
# folders checked offline on that root.
R="$TMP/root"
"${MK[@]}" install DESTDIR="$R" PREFIX=/usr SYSCONFDIR=/etc SYSTEMDUNITDIR=/lib/systemd/system \
	>"$TMP/install-usr.log" 2>&1
result "make install DESTDIR (PREFIX /usr)" $? "see $(tail -n 3 "$TMP/install-usr.log")"
# systemd-analyze needs the units the ours depend on (sysinit.target...).
mkdir -p "$R/lib/systemd/system" "$R/etc"
cp -an /lib/systemd/system/. "$R/lib/systemd/system/"
out=$(MANPATH="$R/usr/share/man" systemd-analyze verify --root="$R" argo-simd.service \
	argo-relayd@a.service 2>&1)
rc=$?
result "systemd-analyze verify: both units clean" "$([ $rc -eq 0 ] && [ -z "$out" ] && echo 0 || echo 1)" \
	"$(head -n 3 <<<"$out")"
# Exposure (0 best, 10 worst) as systemd scores the hardening; the relay
# keeps devices (serial links, /dev/argo) and IP.
for unit in argo-simd.service:1.0 argo-relayd@a.service:2.5; do
	name=${unit%:*} limit=${unit#*:}
	score=$(systemd-analyze security --offline=true --root="$R" --no-pager "$name" 2>/dev/null |
		sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	echo "exposure $name: ${score:-?} (at most $limit)"
	awk -v s="${score:-99}" -v l="$limit" 'BEGIN {exit !(s <= l)}'
	result "$name exposure at most $limit" $? "systemd-analyze security says ${score:-nothing}"
done
systemd-sysusers --root="$R" "$R/usr/lib/sysusers.d/argo.conf" >"$TMP/sysusers.log" 2>&1 &&
	grep -q '^argo:' "$R/etc/passwd" && grep -q '^argo:' "$R/etc/group"
result "sysusers.d/argo.conf makes user and group argo" $? "$(head -n 2 "$TMP/sysusers.log")"
systemd-tmpfiles --create --root="$R" "$R/usr/lib/tmpfiles.d/argo.conf" >"$TMP/tmpfiles.log" 2>&1
rc=$?
uid=$(sed -n 's/^argo:[^:]*:\([0-9]*\):.*/\1/p' "$R/etc/passwd")
for d in run/argo run/argo-relay var/lib/argo-relay; do
	[ "$(stat -c '%u %a' "$R/$d" 2>/dev/null)" = "$uid 750" ] || rc=1
done
result "tmpfiles.d/argo.conf makes /run/argo, /run/argo-relay, /var/lib/argo-relay for argo" $rc \
	"$(head -n 2 "$TMP/tmpfiles.log") $(stat -c '%n %u %a' "$R"/run/argo* "$R/var/lib/argo-relay" 2>&1 | tr '\n' ' ')"

# 5. The installed configuration works as installed: the example relay
# file passes --check-config once its key exists (paths rewritten into the
# staged root), and argo-simd serves with its file (start_simd's -s
# replaces the file's dynamic socket; the static one is the file's).
sed -e "s|/run/argo/|$TMP/run-|; s|/run/argo-relay/|$TMP/run-|; s|/var/lib/argo-relay/a|$TMP|; s|/etc/argo/|$TMP/|" \
	"$R/usr/share/doc/argo-relay/examples/relay.conf" >"$TMP/a.conf"
(umask 077 && head -c 32 /dev/urandom >"$TMP/a-b.key")
"$R/usr/sbin/argo-relayd" --check-config "$TMP/a.conf" >"$TMP/check.log" 2>&1
result "examples/relay.conf passes --check-config" $? "$(cat "$TMP/check.log")"
sed -e "s|/run/argo/|$TMP/simd-|" "$R/etc/argo/argo-simd.conf" >"$TMP/argo-simd.conf"
if pid=$(start_simd "$R/usr/sbin" "$TMP/simd-dyn.sock" "$TMP/simd2.log" -c "$TMP/argo-simd.conf"); then
	[ -S "$TMP/simd-dyn.sock" ] && [ -S "$TMP/simd-relay.sock" ]
	rc=$?
	stop_simd "$pid" "$TMP/simd2.log" || rc=1
else
	rc=1
fi
result "the installed argo-simd.conf serves its sockets" $rc "$(tail -n 2 "$TMP/simd2.log")"

# 6. make uninstall takes it all away, but the configuration.
"${MK[@]}" uninstall DESTDIR="$D" >/dev/null 2>&1
left=$(cd "$D" && find . -type f -o -type l | grep -v '^./usr/local/etc/argo/argo-simd.conf$')
result "make uninstall removes what install put" "$([ -z "$left" ] && echo 0 || echo 1)" \
	"left: $(head -n 5 <<<"$left" | tr '\n' ' ')"

# 7. The DKMS tree: dkms.conf names this version, and the module's sources
# and UAPI header are where kmod/Makefile and Kbuild look for them.
K="$TMP/dkms"
"${MK[@]}" install-dkms DESTDIR="$K" PREFIX=/usr >/dev/null 2>&1
t="$K/usr/src/argo-$VERSION"
grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$t/dkms.conf" && [ -f "$t/kmod/argo.c" ] &&
	[ -f "$t/kmod/Kbuild" ] && [ -f "$t/include/uapi/linux/argo_dev.h" ]
result "make install-dkms lays out argo-$VERSION for DKMS" $? "$(find "$K" -type f | tr '\n' ' ')"

results_summary
