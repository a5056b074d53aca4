#!/bin/bash
# Runs inside the container tests/ops/packages.sh boots (systemd as PID 1,
# the project's packages installed, a private network): the packages as an
# operator uses them. argo-simd.service with its installed file, two
# relays as argo-relayd@a (the installed examples/relay.conf) and
# argo-relayd@b over TCP on 127.0.0.1, echo and ping through them as root
# and as a member of group argo, a SIGKILLed relay restarted by systemd,
# the journal, a clean stop; then `make demo`'s harness on the installed
# programs. PASS/FAIL lines and the summary go to /argo-check/results.log.
set -u
SRC=/argo-check/src
exec >/argo-check/results.log 2>&1
. "$SRC/tests/integration/results.sh"
. "$SRC/harness/lib.sh"
W=/argo-check/work
mkdir -p "$W"

# until_ok SECONDS CMD...: run CMD every 0.1 s until it succeeds.
until_ok() {
	local tries=$(($1 * 10))
	shift
	while [ $tries -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		tries=$((tries - 1))
	done
	return 1
}
link_up() { argo-relayctl -s "/run/argo-relay/$1.ctl" links | grep -qE "^  $2 +tcp .* up +frames"; }

# What installation and boot left.
id argo >/dev/null 2>&1 && getent group argo >/dev/null
result "the package made user and group argo" $? "$(id argo 2>&1)"
st=$(stat -c '%U %a' /run/argo /run/argo-relay /var/lib/argo-relay 2>&1 | tr '\n' ' ')
[ "$st" = "argo 750 argo 750 argo 750 " ]
result "tmpfiles.d made /run/argo, /run/argo-relay, /var/lib/argo-relay at boot" $? "$st"
state=$(systemctl is-enabled argo-simd.service 2>&1)
result "argo-simd.service installed, not enabled" "$([ "$state" = disabled ] && echo 0 || echo 1)" "is-enabled: $state"

# The fabric, from the installed file plus a static domain for relay b
# and one for the echo service.
sed -i 's|^0 = /run/argo/relay.sock$|&\n1 = /run/argo/relay-b.sock\n5 = /run/argo/dom5.sock|' /etc/argo/argo-simd.conf
systemctl start argo-simd.service
rc=$?
# Type=forking with --daemon: started means serving, at once.
[ $rc -eq 0 ] && [ -S /run/argo/argo.sock ] && [ -S /run/argo/relay.sock ] && [ -S /run/argo/dom5.sock ]
result "systemctl start argo-simd: serving when it returns" $? "rc $rc; $(ls /run/argo 2>&1 | tr '\n' ' ')"
st=$(stat -c '%U %G %a' /run/argo/argo.sock 2>&1)
st="$st; $(stat -c '%U %G %a' /run/argo/relay.sock 2>&1)"
result "the dynamic socket is for user and group argo, the relay's for user argo" \
	"$([ "$st" = "argo argo 660; argo argo 600" ] && echo 0 || echo 1)" "$st"
[ "$(systemctl show -P MainPID argo-simd.service)" = "$(cat /run/argo/argo-simd.pid 2>/dev/null)" ] &&
	[ "$(stat -c %U "/proc/$(cat /run/argo/argo-simd.pid)")" = argo ]
result "argo-simd runs as argo, its pidfile is systemd's main pid" $? \
	"MainPID $(systemctl show -P MainPID argo-simd.service), pidfile $(cat /run/argo/argo-simd.pid 2>&1)"

# Two relays under argo-relayd@.service.
(umask 077 && head -c 32 /dev/urandom >/etc/argo/a-b.key) && chown argo:argo /etc/argo/a-b.key
sed 's|^connect = .*|connect = 127.0.0.1:7400|' /usr/share/doc/argo-relay/examples/relay.conf >/etc/argo/a.conf
cat >/etc/argo/b.conf <<'CONF'
[relay]
hvid = b
fabric = sim:/run/argo/relay-b.sock
control = /run/argo-relay/b.ctl
state_dir = /var/lib/argo-relay/b

[link a]
transport = tcp
listen = 127.0.0.1:7400
peer = a
key = /etc/argo/a-b.key

[policy]
default = deny
rule = allow src a dst b:5:7000
rule = allow src b:5:7000 dst a
CONF
systemctl start argo-relayd@b.service argo-relayd@a.service
rc=$?
until_ok 20 link_up a b
result "argo-relayd@a and @b start and link up" $? "rc $rc; $(systemctl status --no-pager -n 5 argo-relayd@a 2>&1 | tail -n 5)"
[ "$(stat -c %U /var/lib/argo-relay/a/delivered 2>&1)" = argo ]
result "the unit made relay a's state_dir, and the relay uses it" $? "$(ls -la /var/lib/argo-relay/a 2>&1 | tr '\n' ' ')"

argo-echo --fabric sim:/run/argo/dom5.sock --port 7000 >"$W/echo.log" 2>&1 &
echo_pid=$!
wait_for_line "$W/echo.log" "serving port 7000" 5 >/dev/null
argo-ping --fabric sim:/run/argo/argo.sock --to 0:7000 --count 500 >"$W/ping1.log" 2>&1
result "ping through the two relays (root)" $? "$(tail -n 2 "$W/ping1.log")"
useradd --no-create-home --groups argo op && useradd --no-create-home nobody2
setpriv --reuid=op --regid=op --init-groups argo-ping --fabric sim:/run/argo/argo.sock --to 0:7000 \
	--count 100 >"$W/ping-op.log" 2>&1
result "a member of group argo may use the fabric" $? "$(tail -n 2 "$W/ping-op.log")"
setpriv --reuid=nobody2 --regid=nobody2 --init-groups argo-ping --fabric sim:/run/argo/argo.sock \
	--to 0:7000 --count 1 >"$W/ping-other.log" 2>&1
rc=$?
[ $rc -eq 1 ] && grep -qi 'denied\|EACCES' "$W/ping-other.log"
result "anyone else may not" $? "exit $rc: $(tail -n 1 "$W/ping-other.log")"

# The relay as systemd runs it (issue 13): Type=notify, so the unit is
# active only once the relay said READY=1, with its STATUS; systemctl
# reload runs argo-relayctl reload, which keeps an unchanged link up; a
# broken file fails the reload and the relay goes on; argo-relayctl -n
# finds a relay by its unit's name, and asks which when two run.
sessions() { argo-relayctl -n a links --json | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p'; }
st="$(systemctl show -P Type argo-relayd@a.service) $(systemctl show -P StatusText argo-relayd@a.service)"
[[ "$st" == "notify serving: domain 0 on sim:/run/argo/relay.sock, 1 links" ]]
result "argo-relayd@a is Type=notify and said READY with its status" $? "$st"
s0=$(sessions)
systemctl reload argo-relayd@a.service
rc=$?
[ $rc -eq 0 ] && [ -n "$s0" ] && [ "$(sessions)" = "$s0" ] && link_up a b &&
	journalctl -u argo-relayd@a.service --no-pager -o cat |
	grep -q 'reloaded /etc/argo/a.conf: 0 links added, 0 restarted, 0 removed, 1 unchanged'
result "systemctl reload argo-relayd@a: the unchanged link stays up" $? \
	"rc $rc, sessions $s0 -> $(sessions); $(journalctl -u argo-relayd@a.service --no-pager -n 2 -o cat 2>&1)"
cp /etc/argo/a.conf "$W/a.conf.good"
echo "not a key" >>/etc/argo/a.conf
systemctl reload argo-relayd@a.service >"$W/reload-bad.log" 2>&1
rc=$?
st=$(systemctl show -P StatusText argo-relayd@a.service)
[ $rc -ne 0 ] && systemctl is-active -q argo-relayd@a.service && link_up a b &&
	[[ "$st" == "reload refused, the running configuration stays: /etc/argo/a.conf:"* ]]
result "a broken file fails systemctl reload, and the relay goes on" $? "rc $rc, status '$st'"
cp "$W/a.conf.good" /etc/argo/a.conf
argo-relayctl -n a routes 2>&1 | grep -q '^relay a: ' &&
	argo-relayctl routes 2>&1 | grep -qE '2 relays run here \((a, b|b, a)\)'
result "argo-relayctl -n NAME, and asks which of two relays" $? "$(argo-relayctl routes 2>&1 | head -n 1)"

# A relay killed outright: systemd restarts it (Restart=on-failure), it
# takes its rings and state back, and the path works again.
systemctl kill --signal=KILL argo-relayd@a.service
until_ok 30 sh -c '[ "$(systemctl show -P NRestarts argo-relayd@a.service)" = 1 ] && systemctl is-active -q argo-relayd@a.service' &&
	until_ok 20 link_up a b
result "SIGKILLed argo-relayd@a is restarted and links up again" $? \
	"NRestarts $(systemctl show -P NRestarts argo-relayd@a.service), $(systemctl is-active argo-relayd@a.service)"
argo-ping --fabric sim:/run/argo/argo.sock --to 0:7000 --count 500 >"$W/ping2.log" 2>&1
result "ping through the restarted relay" $? "$(tail -n 2 "$W/ping2.log")"
journalctl -u argo-relayd@a.service --no-pager -o cat | grep -q '^argo-relayd\[a\]: serving: domain 0'
result "the relay's log is in the journal" $? "$(journalctl -u argo-relayd@a.service --no-pager -n 3 -o cat 2>&1)"

# A clean stop: nothing failed, sockets removed; the echo service sees its
# fabric go and exits 1 on its own.
systemctl stop argo-relayd@a.service argo-relayd@b.service argo-simd.service
failed=$(systemctl list-units --failed --no-legend 'argo*' 2>&1)
left=$(ls /run/argo/ /run/argo-relay/ 2>&1 | grep -E '\.(sock|ctl)$')
[ -z "$failed" ] && [ -z "$left" ]
result "systemctl stop: no unit failed, no socket left" $? "failed: $failed; left: $left"
wait_gone "$echo_pid" 5
wait "$echo_pid"
rc=$?
result "argo-echo exits 1 when its fabric stops" "$([ $rc -eq 1 ] && echo 0 || echo 1)" "exit $rc"

# `make demo`'s harness on the installed programs.
mkdir -p /argo-check/build/bin
for p in /usr/sbin/argo-simd /usr/sbin/argo-relayd /usr/bin/argo-*; do
	ln -sf "$p" /argo-check/build/bin/
done
BUILD=/argo-check/build "$SRC/harness/demo.sh" >"$W/demo.log" 2>&1
result "the demo on the installed programs" $? "$(tail -n 3 "$W/demo.log")"
tail -n 1 "$W/demo.log"

results_summary
