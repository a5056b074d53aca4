#!/bin/sh
# headline-domu: the frontend of xen-l1-driver-at-l0, a PV domU of the L1
# Xen. Unmodified Argo clients through argo.ko, to import ports of relay
# l1 in dom0 (domain 0): argo-ping to 7000 (the driver domain's echo; 8
# requests in flight, each reply checked byte for byte), then
# argo-stream to 7001, 7002, 7003 (its receivers), each when dom0 says so
# (xenstore data/hl-go), since dom0 and the host put a fault in each.
# "HL: ..." lines tell dom0 where it is.
# e2e-helper: a domU of xen-l1-driver-at-l0
. /usr/share/argo-e2e/lib.sh

ping=$(e2e_cmdline hl.ping) || ping=10000
stream=$(e2e_cmdline hl.stream) || stream=3000
t() { cut -d' ' -f1 /proc/uptime; }

t0=$(t)
argo-ping --fabric xen: --to 0:7000 --port 40000 --count "$ping" --size 16 --max-size 65536 \
	--window 8 --timeout 30000 >/tmp/ping.log 2>&1
rc=$?
sum=$(grep '^argo-ping: .* sent' /tmp/ping.log | tail -n 1)
tail -n 5 /tmp/ping.log | sed 's/^/    /'
if [ "$rc" = 0 ] && echo "$sum" | grep -q "^argo-ping: $ping sent, $ping ok, 0 wrong, 0 lost, 0 duplicated, 0 refused"; then
	e2e_case ping PASS "${sum#argo-ping: } ($(echo "$t0 $(t)" | awk '{ printf "%.1f", $2 - $1 }') s)"
else
	e2e_case ping FAIL "rc=$rc: ${sum:-$(tail -n 1 /tmp/ping.log)}"
fi
echo "HL: ping-done $sum"

go() { [ "$(xenstore-read data/hl-go 2>/dev/null)" = "$1" ]; }
port=7001
for phase in stream-relay-kill stream-chan-cut stream-dd-restart; do
	if ! e2e_wait 300 go "$phase"; then
		e2e_case "$phase" FAIL "dom0 never said go"
		break
	fi
	echo "HL: $phase begin"
	t0=$(t)
	argo-stream send --fabric xen: --to "0:$port" --port $((41000 + port)) --count "$stream" \
		--timeout 120000 >/tmp/$phase.log 2>&1
	rc=$?
	echo "HL: $phase end rc=$rc $(tail -n 1 /tmp/$phase.log) ($(echo "$t0 $(t)" | awk '{ printf "%.1f", $2 - $1 }') s)"
	if [ "$rc" = 0 ]; then
		e2e_case "$phase-send" PASS "$(tail -n 1 /tmp/$phase.log)"
	else
		e2e_case "$phase-send" FAIL "rc=$rc: $(tail -n 1 /tmp/$phase.log)"
	fi
	port=$((port + 1))
done
echo "HL: all done"
e2e_finish
