#!/bin/bash
# docs/quickstart.md, run as written: its `sh` blocks, in order, in one
# shell, with the programs of the given folders first on PATH, in a network
# namespace of their own (the page's relays use 127.0.0.1:7400). Passes if
# the commands succeed, the ping gets every reply, and the page's last step
# leaves no process and no folder behind.
#
# Usage: tests/ops/quickstart.sh [--no-netns] DIR...   (DIR: where the programs are)
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
. "$ROOT/tests/integration/results.sh"
netns=1
if [ "${1:-}" = --no-netns ]; then
	netns=0
	shift
fi
for d in "$@"; do PATH="$(cd "$d" && pwd):$PATH"; done
export PATH
TMP=$(mktemp -d /tmp/argo-qs-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
DOC=${QUICKSTART_DOC:-$ROOT/docs/quickstart.md}

# The commands: every line between ```sh and ```.
awk '/^```sh$/ {f = 1; next} /^```$/ {f = 0} f' "$DOC" >"$TMP/commands.sh"
blocks=$(grep -c '^```sh$' "$DOC")
[ "$blocks" -ge 8 ] && grep -q argo-ping "$TMP/commands.sh"
result "quickstart.md has its commands" $? "found $blocks sh blocks"

# Around them: stop on the first failing command, and whatever happens,
# stop what they started (background jobs, the fabrics' pidfiles in $Q).
{
	echo 'set -eu'
	echo 'cleanup() { rc=$?; set +e'
	echo '  jobs -p >"$QS_TMP/left-jobs"'
	echo '  if [ -n "${Q:-}" ] && [ -d "$Q" ]; then echo "$Q" >"$QS_TMP/left-dir"'
	echo '    for p in "$Q"/*.pid; do [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null; done; fi'
	echo '  kill $(jobs -p) 2>/dev/null'
	echo '  [ -n "${Q:-}" ] && rm -rf "$Q"'
	echo '  exit $rc; }'
	echo 'trap cleanup EXIT'
	echo 'trap "exit 124" TERM INT'
	echo 'for p in argo-simd argo-relayd argo-relayctl argo-echo argo-ping; do echo "uses $(command -v $p)"; done'
	cat "$TMP/commands.sh"
} >"$TMP/run.sh"

if [ $netns = 1 ]; then
	QS_TMP=$TMP timeout 60 unshare -n bash -c 'ip link set lo up && exec bash "$0"' "$TMP/run.sh" \
		>"$TMP/out" 2>&1
else
	QS_TMP=$TMP timeout 60 bash "$TMP/run.sh" >"$TMP/out" 2>&1
fi
rc=$?
cat "$TMP/out"
result "quickstart commands succeed" $rc "exit status $rc (124: time-out)"
grep -qE '^argo-ping: 1000 sent, 1000 ok, 0 wrong, 0 lost, 0 duplicated, 0 refused, 0 late;' "$TMP/out"
result "quickstart ping gets every reply" $? "no clean argo-ping summary"
[ ! -s "$TMP/left-jobs" ] && [ ! -e "$TMP/left-dir" ]
result "quickstart's last step stops everything" $? \
	"left: jobs $(cat "$TMP/left-jobs" 2>/dev/null | tr '\n' ' ') folder $(cat "$TMP/left-dir" 2>/dev/null)"
results_summary
