#!/bin/bash
# The tree's licences and version: every SPDX-License-Identifier names a
# licence whose text is in LICENSES/, which LICENSE and debian/copyright
# name for the same files; the version of common/include/argo/version.h is
# the one of debian/changelog, NEWS and dkms.conf.
#
# Usage: tests/ops/tree.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/results.sh"
cd "$ROOT" || exit 1

# The License of the debian/copyright stanza that covers FILE (DEP-5: the
# last Files pattern that matches wins).
copyright_licence() {
	local file=$1 lic="" pats="" line p
	local -
	set -f # the patterns are globs for [[ ]], not for the shell
	while IFS= read -r line; do
		case "$line" in
		"Files: "*) pats=${line#Files: } ;;
		"License: "*)
			if [ -n "$pats" ]; then
				for p in $pats; do
					# shellcheck disable=SC2053 # the pattern is a glob on purpose
					[[ $file == $p ]] && lic=${line#License: }
				done
			fi
			pats="" ;;
		esac
	done <debian/copyright
	echo "$lic"
}

# SPDX expression -> licence texts it needs.
texts_for() {
	case "$1" in
	MIT) echo LICENSES/MIT.txt ;;
	GPL-2.0) echo LICENSES/GPL-2.0.txt ;;
	"((GPL-2.0 WITH Linux-syscall-note) OR MIT)")
		echo LICENSES/GPL-2.0.txt LICENSES/exceptions/Linux-syscall-note LICENSES/MIT.txt ;;
	*) return 1 ;;
	esac
}
unknown=""
while IFS= read -r line; do
	file=${line%%:*}
	expr=$(sed -E 's/.*SPDX-License-Identifier: *//; s/ *\*\/.*$//; s/ *$//' <<<"${line#*:}")
	if ! t=$(texts_for "$expr"); then
		unknown="$unknown $file($expr)"
		continue
	fi
	for f in $t; do [ -s "$f" ] || unknown="$unknown $file(no $f)"; done
	# debian/copyright gives the file the same licence.
	lic=$(copyright_licence "$file")
	case "$expr" in
	MIT) want=MIT ;;
	GPL-2.0) want=GPL-2 ;;
	*) want="GPL-2 with Linux-syscall-note exception or MIT" ;;
	esac
	[ "$lic" = "$want" ] || unknown="$unknown $file(debian/copyright says '$lic', not '$want')"
done < <(git grep -I -m1 'SPDX-License-Identifier:' -- . ':!LICENSES' ':!tests/ops/tree.sh')
result "every SPDX identifier has its licence text, LICENSE and debian/copyright agree" \
	"$([ -z "$unknown" ] && echo 0 || echo 1)" "$unknown"
grep -q '^  GPL-2.0 .*l1/kmod/' LICENSE && grep -q 'Linux-syscall-note) OR MIT' LICENSE &&
	grep -qE '^Files: l1/kmod/\*$' debian/copyright && grep -q '^License: GPL-2$' debian/copyright
result "LICENSE and debian/copyright name GPL-2.0 for l1/kmod" $? "see LICENSE, debian/copyright"
grep -q 'MODULE_LICENSE("GPL")' l1/kmod/argo.c
result "argo.ko's MODULE_LICENSE is GPL" $? "l1/kmod/argo.c"

v=$(sed -n 's/^#define ARGO_VERSION *"\(.*\)"$/\1/p' common/include/argo/version.h)
maj=$(sed -n 's/^#define ARGO_VERSION_MAJOR *\([0-9]*\)$/\1/p' common/include/argo/version.h)
min=$(sed -n 's/^#define ARGO_VERSION_MINOR *\([0-9]*\)$/\1/p' common/include/argo/version.h)
pat=$(sed -n 's/^#define ARGO_VERSION_PATCH *\([0-9]*\)$/\1/p' common/include/argo/version.h)
[ -n "$v" ] && [ "$v" = "$maj.$min.$pat" ]
result "version.h: ARGO_VERSION is MAJOR.MINOR.PATCH" $? "'$v' vs $maj.$min.$pat"
dv=$(dpkg-parsechangelog -l debian/changelog -S Version 2>/dev/null)
[ "${dv%%-*}" = "$v" ]
result "debian/changelog is at version $v" $? "it says $dv"
grep -q "^\* $v " NEWS
result "NEWS has a section for $v" $? "no '* $v' line"
grep -q '@VERSION@' dist/dkms.conf.in
result "dkms.conf takes its version from version.h" $? "dist/dkms.conf.in"
results_summary
