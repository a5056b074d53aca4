#!/bin/bash
# `make demo`: the sim fabric with two programs exchanging messages.
# argo-simd plays the hypervisor; argo-echo (a stand-in driver domain, domid
# 5) registers a ring; argo-ping (a guest, given the next free domid) sends
# numbered requests and checks every reply. Everything started here is
# stopped here; the exit status is 0 only if every reply came back intact.
set -u
BUILD=${BUILD:-build}
BIN="$BUILD/bin"
RUN=$(mktemp -d /tmp/argo-demo.XXXXXX)
. "$(dirname "$0")/lib.sh"

simd_pid=""
echo_pid=""
cleanup() {
	[ -n "$echo_pid" ] && kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
	[ -n "$simd_pid" ] && stop_simd "$simd_pid" "$RUN/simd.log"
	rm -rf "$RUN"
}
trap cleanup EXIT

echo "== argo demo: the sim fabric, two domains, one ring each"
simd_pid=$(start_simd "$BIN" "$RUN/fabric.sock" "$RUN/simd.log" -v -m -D "5=$RUN/dom5.sock") || exit 1
echo "   argo-simd (pid $simd_pid) serving $RUN/fabric.sock; domid 5 on $RUN/dom5.sock"

"$BIN/argo-echo" --fabric "sim:$RUN/dom5.sock" --port 7000 >"$RUN/echo.log" 2>&1 &
echo_pid=$!
wait_for_line "$RUN/echo.log" "serving port 7000" 5 || { cat "$RUN/echo.log"; exit 1; }
echo "   $(head -n 1 "$RUN/echo.log")"

status=0
for size in 64 4096 65536; do
	count=$(( size > 4096 ? 500 : 2000 ))
	printf '   argo-ping: %5d requests of %5d bytes to 5:7000 ... ' "$count" "$size"
	if ! out=$("$BIN/argo-ping" --fabric "sim:$RUN/fabric.sock" --to 5:7000 \
		--count "$count" --size "$size" --timeout 5000 2>&1); then
		status=1
	fi
	echo "${out#argo-ping: }"
done

kill -TERM "$echo_pid" && wait "$echo_pid"
echo "   $(tail -n 1 "$RUN/echo.log")"
echo_pid=""
kill -USR1 "$simd_pid"
wait_for_line "$RUN/simd.log" "^argo-simd: domains" 5 && grep "^argo-simd: domains" "$RUN/simd.log" | sed 's/^/   /'
if [ $status -eq 0 ]; then
	echo "== demo OK: every reply came back intact and in order"
else
	echo "== demo FAILED"
fi
exit $status
