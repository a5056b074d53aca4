#!/bin/bash
# The include graph of the sources, checked (run by `make check`; alone:
# `make include-graph`). It reads every #include "..." of common/, l0/,
# relay/, l1/test/, tests/ and vdev/, resolves it as the compiler does (the file's
# own folder first, then the include paths the Makefile gives that folder:
# `make print-include-paths`), and checks:
#
#   resolved     every quoted include is found on its folder's paths (no
#                "../" reaching into another part);
#   layering     no wrong-way include: common/ never includes relay/, l0/ or
#                tests/; the public headers (common/include) and common/util
#                include only themselves; l0/ never includes relay/;
#   relay-acyclic   no cycle among the files of relay/ (a file and its
#                header are one node: foo.c -> bar.h is an edge foo -> bar);
#   common-acyclic  the same among the files of common/.
#
# Then it checks itself: on a made-up tree with a cycle and a wrong-way
# include it must fail both ways. Prints PASS/FAIL per check and ends with
# "N passed, N failed".
#
# Usage: tests/include-graph.sh [ROOT]
#   ROOT: the source tree (default: the one this script is in).
#   INCLUDE_PATHS_FILE: lines "FOLDER: -IDIR..." instead of asking make
#   (the self-test uses it).
set -u -o pipefail

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

# check_tree ROOT PATHS_FILE: prints one line per problem, "CHECK: text";
# the caller counts them per check.
check_tree() {
	local root=$1 paths=$2 files
	files=$(mktemp "$TMP/files.XXXXXX")
	(cd "$root" && find common l0 relay l1 tests vdev -type f 2>/dev/null) >"$files"
	(
		cd "$root" || exit 2
		# file<TAB>included name, for every quoted include.
		find common l0 relay l1/test tests vdev -name '*.[ch]' 2>/dev/null | sort |
			xargs -r awk '/^[ \t]*#[ \t]*include[ \t]*"/ {
				s = $0; sub(/^[^"]*"/, "", s); sub(/".*/, "", s)
				print FILENAME "\t" s
			}'
	) | awk -F'\t' -v files="$files" -v paths="$paths" '
	function dir_of(p) { return p ~ /\// ? substr(p, 1, match(p, /\/[^\/]*$/) - 1) : "." }
	function top(p,   w) {
		split(p, w, "/")
		return (w[1] == "common" || w[1] == "l1") ? w[1] "/" w[2] : w[1]
	}
	# foo.c and foo.h are one node.
	function node(p) { sub(/\.[ch]$/, "", p); return p }
	function exists(p) { return p in present }
	function norm(p,   n, i, parts, out, k) {
		n = split(p, parts, "/"); k = 0
		for (i = 1; i <= n; i++) {
			if (parts[i] == "." || parts[i] == "") continue
			if (parts[i] == ".." && k > 0) { k--; continue }
			out[++k] = parts[i]
		}
		p = ""
		for (i = 1; i <= k; i++) p = p (i > 1 ? "/" : "") out[i]
		return p
	}
	# The folder whose paths apply: the longest folder of the table that
	# holds the file, else DEFAULT.
	function paths_of(f,   d, best) {
		best = "DEFAULT"
		for (d in incpaths)
			if (d != "DEFAULT" && index(f, d "/") == 1 && (best == "DEFAULT" || length(d) > length(best)))
				best = d
		return incpaths[best]
	}
	BEGIN {
		while ((getline line < files) > 0)
			present[line] = 1
		while ((getline line < paths) > 0) {
			k = substr(line, 1, index(line, ":") - 1)
			v = substr(line, index(line, ":") + 1)
			gsub(/-I/, "", v)
			incpaths[k] = v
		}
	}
	{
		f = $1; inc = $2
		cand = norm(dir_of(f) "/" inc)
		found = exists(cand) ? cand : ""
		if (found == "") {
			n = split(paths_of(f), ps, " ")
			for (i = 1; i <= n && found == ""; i++)
				if (ps[i] != "" && exists(norm(ps[i] "/" inc)))
					found = norm(ps[i] "/" inc)
		}
		if (found == "") {
			print "resolved: " f ": \"" inc "\" is not on the include paths of its folder"
			next
		}
		if (index(inc, "../") && f !~ /^tests\//)
			print "resolved: " f ": \"" inc "\" reaches out of its folder"
		from = top(f); to = top(found)
		if (from ~ /^common\// && (to == "relay" || to == "l0" || to == "tests"))
			print "layering: " f " includes " found " (common/ must not depend on " to "/)"
		if ((from == "common/include" || from == "common/util") && to != from)
			print "layering: " f " includes " found " (" from " includes only itself)"
		if (from == "l0" && to == "relay")
			print "layering: " f " includes " found " (l0/ must not depend on relay/)"
		if (from == "vdev" && (to == "relay" || to == "l0" || to == "tests"))
			print "layering: " f " includes " found " (vdev/ must not depend on " to "/)"
		na = node(f); nb = node(found)
		if (na != nb && from == "relay" && to == "relay")
			edge["relay" SUBSEP na SUBSEP nb] = 1
		if (na != nb && from ~ /^common\// && to ~ /^common\//)
			edge["common" SUBSEP na SUBSEP nb] = 1
	}
	# Depth-first search for a cycle among the nodes of one part.
	function dfs(part, u,   key, p, v) {
		color[part, u] = 1
		stack[++depth] = u
		for (key in edge) {
			split(key, p, SUBSEP)
			if (p[1] != part || p[2] != u) continue
			v = p[3]
			if (color[part, v] == 1) {
				cyc = v
				for (i = depth; i >= 1 && stack[i] != v; i--) cyc = stack[i] " -> " cyc
				cyc = v " -> " cyc
				return 1
			}
			if (!color[part, v] && dfs(part, v)) return 1
		}
		color[part, u] = 2
		depth--
		return 0
	}
	END {
		for (key in edge) {
			split(key, p, SUBSEP)
			nodes[p[1], p[2]] = 1
		}
		split("relay common", parts, " ")
		for (k = 1; k <= 2; k++) {
			depth = 0
			for (key in nodes) {
				split(key, p, SUBSEP)
				if (p[1] != parts[k] || color[p[1], p[2]]) continue
				if (dfs(parts[k], p[2])) {
					print parts[k] "-acyclic: cycle " cyc
					break
				}
			}
		}
	}'
}

pass=0
fail=0
report() { # report CHECK PROBLEMS
	local problems
	problems=$(grep "^$1: " <<<"$2")
	if [ -z "$problems" ]; then
		echo "PASS $1"
		pass=$((pass + 1))
	else
		echo "FAIL $1"
		sed "s/^$1: /    /" <<<"$problems"
		fail=$((fail + 1))
	fi
}

TMP=$(mktemp -d /tmp/include-graph.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if [ -n "${INCLUDE_PATHS_FILE:-}" ]; then
	cp "$INCLUDE_PATHS_FILE" "$TMP/paths"
else
	make -s -C "$ROOT" print-include-paths >"$TMP/paths" || {
		echo "cannot get the include paths from the Makefile"
		echo "0 passed, 1 failed"
		exit 1
	}
fi
# The checker's own errors (awk's, find's) fail the run, never pass it.
out=$(check_tree "$ROOT" "$TMP/paths" 2>"$TMP/err")
rc=$?
if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
	report checker "$(echo "checker: exit status $rc"; sed 's/^/checker: /' "$TMP/err")"
else
	report checker ""
fi
for c in resolved layering relay-acyclic common-acyclic; do
	report "$c" "$out"
done

# The checker itself must see what it is for: a made-up tree with a cycle
# (relay/a.c -> b.h, relay/b.c -> a.h) and common/ including relay/.
if [ -z "${INCLUDE_GRAPH_SELF_TEST:-}" ]; then
	t="$TMP/tree"
	mkdir -p "$t/relay" "$t/common/link" "$t/tests"
	printf '#include "b.h"\n' >"$t/relay/a.c"
	printf '#include "a.h"\n' >"$t/relay/b.c"
	: >"$t/relay/a.h"
	: >"$t/relay/b.h"
	printf '#include "a.h"\n' >"$t/common/link/x.c"
	printf 'relay: -Irelay\ncommon/link: -Irelay\nDEFAULT:\n' >"$t/paths"
	self=$(INCLUDE_GRAPH_SELF_TEST=1 INCLUDE_PATHS_FILE="$t/paths" "$SELF" "$t")
	if grep -q '^FAIL relay-acyclic' <<<"$self" && grep -q 'relay/a -> relay/b -> relay/a\|relay/b -> relay/a -> relay/b' <<<"$self"; then
		echo "PASS self-test-finds-a-cycle"
		pass=$((pass + 1))
	else
		echo "FAIL self-test-finds-a-cycle"
		sed 's/^/    /' <<<"$self"
		fail=$((fail + 1))
	fi
	if grep -q '^FAIL layering' <<<"$self" && grep -q 'common/link/x.c includes relay/a.h' <<<"$self"; then
		echo "PASS self-test-finds-a-wrong-way-include"
		pass=$((pass + 1))
	else
		echo "FAIL self-test-finds-a-wrong-way-include"
		sed 's/^/    /' <<<"$self"
		fail=$((fail + 1))
	fi
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
