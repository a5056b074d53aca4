#!/bin/bash
# What writing state_dir/delivered through to the disk costs (state_sync;
# docs/relay-design.md, "Custody"): figures, not a test.
#
# A 2-level chain (a sender at L1, relay l1, a unix link, relay l0, the
# receiver at L0), relay l0's state_dir on STATE_BASE (a disk-backed
# folder: msync on tmpfs costs nothing), streams COUNT messages of SIZE
# bytes with state_sync = no, yes (the batch: one msync per round of the
# relay's loop) and each (one msync per message), in TURNS interleaved
# turns (the order rotates), and prints per policy the median messages a
# second, the msyncs per message (the relay's state_syncs counter) and the
# extra time per message against "no" measured in the same turn. Then one
# message at a time: PINGS argo-ping round trips (64 B, window 1) from L1
# to an argo-echo at L0, the median of the turns' p50 round trips.
#
# Usage: harness/state-sync-cost.sh
# Environment: BIN (build/bin), TURNS (3), COUNT (5000), SIZE (64),
# PINGS (500), STATE_BASE (/var/tmp).
set -u
BIN=${BIN:-build/bin}
TURNS=${TURNS:-3}
COUNT=${COUNT:-5000}
SIZE=${SIZE:-64}
PINGS=${PINGS:-500}
STATE_BASE=${STATE_BASE:-/var/tmp}
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
. "$HERE/sim-chain.sh"
RUN=$(mktemp -d /tmp/argo-sync-cost.XXXXXX)
STATE=$(mktemp -d "$STATE_BASE/argo-sync-cost.XXXXXX")
cleanup() {
	chain_down >/dev/null 2>&1
	rm -rf "$RUN" "$STATE"
}
trap cleanup EXIT

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# one POLICY: prints "messages-a-second msyncs" for one stream.
one() {
	local policy=$1 dir t0 t1 rpid syncs
	dir=$(mktemp -d "$RUN/c.XXXXXX")
	rm -rf "$STATE/l0"
	mkdir -p "$STATE/l0"
	CHAIN_EXTRA_RELAY_CONF_0=$(printf 'state_dir = %s\nstate_sync = %s' "$STATE/l0" "$policy") \
		chain_up "$dir" "$BIN" 2 unix || return 1
	"$BIN/argo-stream" recv --fabric "sim:$dir/l0-dom5.sock" --port 7000 --count "$COUNT" \
		--min-size "$SIZE" --max-size "$SIZE" --timeout 20000 >"$dir/r.log" 2>&1 &
	rpid=$!
	wait_for_line "$dir/r.log" "receiving" 5 || return 1
	t0=$(date +%s%N)
	"$BIN/argo-stream" send --fabric "sim:$dir/l1.sock" --to 0:7000 --count "$COUNT" \
		--min-size "$SIZE" --max-size "$SIZE" --timeout 20000 >"$dir/s.log" 2>&1
	wait "$rpid" || { cat "$dir/r.log" >&2; return 1; }
	t1=$(date +%s%N)
	syncs=$("$BIN/argo-relayctl" -s "$dir/l0.ctl" counters --json |
		sed -n 's/.*"state_syncs":\([0-9]*\).*/\1/p')
	chain_down >/dev/null 2>&1
	echo "$((COUNT * 1000000000 / (t1 - t0))) ${syncs:-0}"
}

# ping POLICY: prints the p50 round trip (us) of PINGS pings.
ping_p50() {
	local policy=$1 dir epid out
	dir=$(mktemp -d "$RUN/p.XXXXXX")
	rm -rf "$STATE/l0"
	mkdir -p "$STATE/l0"
	CHAIN_EXTRA_RELAY_CONF_0=$(printf 'state_dir = %s\nstate_sync = %s' "$STATE/l0" "$policy") \
		chain_up "$dir" "$BIN" 2 unix || return 1
	"$BIN/argo-echo" --fabric "sim:$dir/l0-dom5.sock" --port 7000 >"$dir/echo.log" 2>&1 &
	epid=$!
	wait_for_line "$dir/echo.log" "serving port 7000" 5 || return 1
	out=$("$BIN/argo-ping" --fabric "sim:$dir/l1.sock" --to 0:7000 --count "$PINGS" --size 64 \
		--timeout 5000)
	kill -TERM "$epid"
	wait "$epid" 2>/dev/null
	chain_down >/dev/null 2>&1
	sed -n 's/.*p50 \([0-9.]*\) us.*/\1/p' <<<"$out"
}

declare -A RATE SYNCS EXTRA RTT
POLICIES=(no yes each)
for ((turn = 0; turn < TURNS; turn++)); do
	declare -A this=()
	for ((k = 0; k < 3; k++)); do
		p=${POLICIES[$(((k + turn) % 3))]}
		read -r rate syncs < <(one "$p") || { echo "a stream failed" >&2; exit 1; }
		this[$p]=$rate
		RATE[$p]+="$rate "
		SYNCS[$p]+="$syncs "
		echo "turn $turn: state_sync = $p: $rate messages/s, $syncs msyncs"
	done
	for ((k = 0; k < 3; k++)); do
		p=${POLICIES[$(((k + turn) % 3))]}
		r=$(ping_p50 "$p") || { echo "a ping run failed" >&2; exit 1; }
		RTT[$p]+="$r "
		echo "turn $turn: state_sync = $p: round trip p50 $r us"
	done
	for p in yes each; do
		# Extra microseconds per message against "no", this turn.
		EXTRA[$p]+="$(awk -v a="${this[$p]}" -v b="${this[no]}" 'BEGIN { printf "%.1f", 1e6 / a - 1e6 / b }') "
	done
done
echo "state_sync cost: $COUNT messages of $SIZE B through one hop, state_dir on $(df -T "$STATE_BASE" | awk 'NR == 2 { print $2 }') ($STATE_BASE), median of $TURNS turns:"
for p in no yes each; do
	r=$(tr ' ' '\n' <<<"${RATE[$p]}" | grep . | median)
	s=$(tr ' ' '\n' <<<"${SYNCS[$p]}" | grep . | median)
	line="  $p: $r messages/s, $(awk -v s="$s" -v n="$COUNT" 'BEGIN { printf "%.3f", s / n }') msyncs per message"
	[ "$p" != no ] && line+=", +$(tr ' ' '\n' <<<"${EXTRA[$p]}" | grep . | median) us per message"
	line+="; one at a time: round trip p50 $(tr ' ' '\n' <<<"${RTT[$p]}" | grep . | median) us"
	echo "$line"
done
