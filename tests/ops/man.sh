#!/bin/bash
# The man pages: each formats without a warning (groff -ww, man --warnings),
# every installed program has one, and they do not drift from what they
# describe: every long option a program's --help shows is in its page and
# the reverse; every key of docs/relay-config.md and of argo-simd's file
# (docs/sim-fabric.md) is in the section-5 page.
#
# Usage: tests/ops/man.sh BUILD_DIR   (man pages in BUILD_DIR/man, programs
#                                      in BUILD_DIR/bin)
set -u
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/results.sh"
MAN="$BUILD/man"
BIN="$BUILD/bin"
TMP=$(mktemp -d /tmp/argo-man.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

pages=$(cd "$ROOT/docs/man" && ls)
for page in $pages; do
	f="$MAN/$page"
	if [ ! -f "$f" ]; then
		result "$page formats cleanly" 1 "$f not built (make all)"
		continue
	fi
	out=$( { groff -man -ww -z "$f"; LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" >/dev/null; } 2>&1)
	result "$page formats cleanly" "$([ -z "$out" ] && echo 0 || echo 1)" "$(head -n 3 <<<"$out")"
	# NAME must name the page, as apropos and lintian read it.
	name=${page%.*}
	sed -n '/^\.SH NAME/{n;p;q}' "$f" | grep -q "^${name} \\\\- " 
	result "$page NAME line" $? "the line after .SH NAME is not '$name \\- ...'"
	grep -q '@[A-Z]*@' "$f"
	result "$page paths filled in" "$([ $? -ne 0 ] && echo 0 || echo 1)" "an @VARIABLE@ is left"
done

# Every program make install installs has a page, in the right section.
for prog in argo-simd argo-relayd argo-vdevd; do
	[ -f "$ROOT/docs/man/$prog.8" ]
	result "$prog has a section 8 page" $? "no docs/man/$prog.8"
done
for prog in argo-relayctl argo-echo argo-ping argo-stream argo-bench argo-conformance argo-conformance-peer \
	argo-vdevctl; do
	[ -f "$ROOT/docs/man/$prog.1" ]
	result "$prog has a section 1 page" $? "no docs/man/$prog.1"
done

# The long options of a page: \-\-name in its text, as the reader sees it.
page_options() {
	sed 's/\\-/-/g' "$1" | grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u
}
# The long options of a program: from --help, or, where it has none yet,
# the usage it prints for a bad option.
help_options() {
	local prog=$1 text
	if ! text=$("$BIN/$prog" --help 2>/dev/null) || [ -z "$text" ]; then
		text=$("$BIN/$prog" --no-such-option 2>&1 >/dev/null | grep -v 'no-such-option')
	fi
	grep -oE -- '--[a-z][a-z-]*[a-z]' <<<"$text" | sort -u
}
for f in "$ROOT"/docs/man/*.[18]; do
	prog=$(basename "${f%.*}")
	page_options "$f" >"$TMP/page"
	help_options "$prog" >"$TMP/help"
	missing=$(comm -23 "$TMP/help" "$TMP/page" | tr '\n' ' ')
	result "$prog: every option of --help is in its page" "$([ -z "$missing" ] && echo 0 || echo 1)" \
		"not in $(basename "$f"): $missing"
	# The page may name other programs' options in its examples, so only
	# its OPTIONS section is held to the program's --help.
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$f" >"$TMP/opts.roff"
	page_options "$TMP/opts.roff" | grep -vxE -- '--help|--version' >"$TMP/page"
	extra=$(comm -13 "$TMP/help" "$TMP/page" | tr '\n' ' ')
	result "$prog: every option of its page is in --help" "$([ -z "$extra" ] && echo 0 || echo 1)" \
		"not in $prog's --help: $extra"
done

# Configuration keys: the first column of docs/relay-config.md's tables of
# [relay] and [link NAME] keys, then the key column of sim-fabric.md's table.
keys_in_page() {
	local page=$1 keyfile=$2 missing="" k
	for k in $(cat "$keyfile"); do
		sed 's/\\-/-/g' "$page" | grep -qE "^\.B[IR]? \"?$k\b" || missing="$missing $k"
	done
	echo "$missing"
}
sed -n '/^## \[relay\]/,/^## \[routes\]/p' "$ROOT/docs/relay-config.md" |
	grep -E '^\| `' | cut -d'|' -f2 | grep -oE '`[a-z_]+`' | tr -d '`' | sort -u >"$TMP/relay-keys"
[ "$(wc -l <"$TMP/relay-keys")" -ge 12 ]
result "docs/relay-config.md keys found" $? "only $(wc -l <"$TMP/relay-keys") keys read"
missing=$(keys_in_page "$ROOT/docs/man/argo-relayd.conf.5" "$TMP/relay-keys")
result "argo-relayd.conf.5 has every key of docs/relay-config.md" "$([ -z "$missing" ] && echo 0 || echo 1)" \
	"missing:$missing"
sed -n '/^## Configuration file/,/^Example:/p' "$ROOT/docs/sim-fabric.md" |
	grep -E '^\| ' | cut -d'|' -f3 | grep -oE '`[a-z_]+`' | tr -d '`' | sort -u >"$TMP/simd-keys"
[ "$(wc -l <"$TMP/simd-keys")" -ge 6 ]
result "docs/sim-fabric.md keys found" $? "only $(wc -l <"$TMP/simd-keys") keys read"
missing=$(keys_in_page "$ROOT/docs/man/argo-simd.conf.5" "$TMP/simd-keys")
result "argo-simd.conf.5 has every key of docs/sim-fabric.md" "$([ -z "$missing" ] && echo 0 || echo 1)" \
	"missing:$missing"
# argo-vdevd's keys: the ini example of docs/virtio-argo.md (commented-out
# keys too), against the keys vdev/config.c reads and argo-vdevd(8).
sed -n '/^### Configuration/,/^### How a device/p' "$ROOT/docs/virtio-argo.md" |
	sed -n 's/^;* *\([a-z_]*\) *=.*/\1/p' | sort -u >"$TMP/vdev-keys"
grep -oE 'strcmp\(key, "[a-z_]+"\)' "$ROOT/vdev/config.c" | grep -oE '"[a-z_]+"' | tr -d '"' |
	sort -u >"$TMP/vdev-code-keys"
cmp -s "$TMP/vdev-keys" "$TMP/vdev-code-keys" && [ "$(wc -l <"$TMP/vdev-keys")" -ge 15 ]
result "docs/virtio-argo.md shows every key vdev/config.c reads" $? \
	"$(diff "$TMP/vdev-code-keys" "$TMP/vdev-keys" | grep '^[<>]' | tr '\n' ' ')"
missing=$(keys_in_page "$ROOT/docs/man/argo-vdevd.8" "$TMP/vdev-keys")
result "argo-vdevd.8 has every key of docs/virtio-argo.md" "$([ -z "$missing" ] && echo 0 || echo 1)" \
	"missing:$missing"

# libargo(3) names every function libargo.so exports (common/libargo.map).
missing=""
for fn in $(sed -n 's/^\t\(argo_[a-z_]*\);$/\1/p' "$ROOT/common/libargo.map"); do
	case $fn in argo_ring_*|argo_routed_hdr_*) continue ;; esac # the ring engine: ring.h
	grep -q "$fn" "$ROOT/docs/man/libargo.3" || missing="$missing $fn"
done
result "libargo.3 describes every client function" "$([ -z "$missing" ] && echo 0 || echo 1)" "missing:$missing"

results_summary
