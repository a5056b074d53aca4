#!/bin/bash
# `make demo`: a three-level sim topology on one machine.
#
#   L2 guest (argo-ping) --Argo--> relay l2 ==link==> relay l1 ==link==> relay l0
#                                                                          |
#                                          driver domain (argo-echo) <--Argo
#
# Three argo-simd fabrics (l2, l1, l0) stand for three hypervisors; a relay
# runs as domain 0 of each; links are authenticated unix streams. The guest
# at L2 uses plain Argo: it sends to (relay, port 7000), an import of
# l0:5:7000. The echo service at L0 sees requests from a proxy port of the
# L0 relay and answers there. Everything started here is stopped here; the
# exit status is 0 only if every reply came back intact, in order, once.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
RUN=$(mktemp -d /tmp/argo-demo.XXXXXX)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/sim-chain.sh"

echo_pid=""
cleanup() {
	[ -n "$echo_pid" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	chain_down
	rm -rf "$RUN"
}
trap cleanup EXIT

echo "== argo demo: L2 guest -> relays l2, l1, l0 -> driver domain at L0 (sim fabrics)"
if ! chain_up "$RUN" "$BIN" 3 unix; then
	tail -n 5 "$RUN"/relay-*.log
	exit 1
fi
echo "   fabrics l2, l1, l0 up; relays linked: l2 <-> l1 <-> l0 (unix, TLS 1.3)"

"$BIN/argo-echo" --fabric "sim:$RUN/l0-dom5.sock" --port 7000 >"$RUN/echo.log" 2>&1 &
echo_pid=$!
wait_for_line "$RUN/echo.log" "serving port 7000" 5 || { cat "$RUN/echo.log"; exit 1; }
echo "   driver domain: $(head -n 1 "$RUN/echo.log" | sed 's/^argo-echo: //') of fabric l0"

status=0
total=0
for size in 64 4096 65536; do
	count=$(( size > 4096 ? 500 : 1500 ))
	total=$((total + count))
	printf '   L2 guest: %5d requests of %5d bytes to (relay, 7000) ... ' "$count" "$size"
	if ! out=$("$BIN/argo-ping" --fabric "sim:$RUN/l2.sock" --to 0:7000 \
		--count "$count" --size "$size" --timeout 5000 2>&1); then
		status=1
	fi
	echo "${out#argo-ping: }"
	summary_line=$out
done

kill -TERM "$echo_pid" && wait "$echo_pid"
echo_pid=""
echo "   $(tail -n 1 "$RUN/echo.log")"
echo "   relay l1 (the middle level):"
"$BIN/argo-relayctl" -s "$RUN/l1.ctl" links | sed 's/^/     /'
if [ $status -eq 0 ]; then
	echo "== demo OK: $total request/response pairs through 3 relays, 0 lost, 0 duplicated, 0 corrupted (last run: ${summary_line##*; })"
else
	echo "== demo FAILED (logs in $RUN kept)"
	trap - EXIT
	chain_down
fi
exit $status
