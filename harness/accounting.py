#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Every message counted somewhere (issue 11; docs/testing.md, "Accounting").

Reads what the relays say (argo-relayctl status --json) and what each
level's fabric saw (argo-simd's SIGUSR1 lines), and checks two sums from
their raw counters, never from a total the relay computed itself:

  relay JSON...
      Per relay, at any moment (the relay answers between two handlers):
        taken  = read from its rings (local_rx) + taken from its links'
                 peers (each link's data_rx)
        passed = delivered into its fabric + copies dropped + undeliverable
                 (every cause) + of the reserved type dropped + spoofed
                 sources dropped + acknowledged by the next relay (each
                 link's acked) + let go of (released)
        held   = what its queues hold: the links' unacknowledged messages,
                 the hold queues, the deliveries waiting for the disk
      taken == passed + held, and held == the relay's own held_messages.

  system LEVEL=RELAY_JSON,SIMD_LOG ...
      End to end, across every restart of every relay, once the system is
      at rest (nothing held, every relay ring read and done). From the
      fabrics, which no relay restart resets (domain 0 is the relay):
        sent      = messages guests sent into relay rings (received by
                    domain 0, reports aside)
        delivered = messages relays sent into guests' rings (sent by
                    domain 0, reports aside)
      and from the relays:
        undeliverable = settled undeliverable by the last relay (the
                    durable settled_undeliverable of state_dir/delivered,
                    every run) + found undeliverable before the last relay
                    (the current runs: a kill there would lose its count;
                    the soak has none, and says so if it sees one)
      sent == delivered + undeliverable, and, per level, delivered == the
      relay's settled_delivered (what its dedup table counted, every run).

Each check prints one line; the exit status is 0 when every sum holds, 1
when one does not, 2 on bad input.
"""
import json
import re
import sys


def relay_terms(st):
    c = st["counters"]
    links = st.get("links", [])
    u = c["undeliverable"]
    taken = c["local_rx"] + sum(l["data_rx"] for l in links)
    passed = (c["local_delivered"] + c["duplicates_dropped"] + sum(u.values()) +
              c["reserved_dropped"] + sum(l["drops"]["spoofed"] for l in links) +
              sum(l["acked"] for l in links) + c["released"])
    queued = (sum(l["queue_messages"] for l in links) +
              sum(h["messages"] for h in st.get("holds", [])) + c["awaiting_sync"])
    return taken, passed, queued, c["held_messages"]


def check_relay(name, st):
    taken, passed, queued, held = relay_terms(st)
    ok = taken == passed + queued and queued == held
    print("%s %s: taken %d = passed on %d + held %d%s" %
          ("ok  " if ok else "FAIL", name, taken, passed, queued,
           "" if queued == held else " (the relay says it holds %d)" % held))
    if not ok:
        print("     taken - passed - held = %d" % (taken - passed - queued))
    return ok


SIMD_DOMAIN = re.compile(
    r"argo-simd: domain 0: sent (\d+) \(reports (\d+)\), received (\d+) \(reports (\d+)\)")


def simd_domain0(path):
    """The last domain-0 line of an argo-simd log (SIGUSR1)."""
    last = None
    with open(path) as f:
        for line in f:
            m = SIMD_DOMAIN.search(line)
            if m:
                last = tuple(int(x) for x in m.groups())
    if last is None:
        raise ValueError("%s: no 'argo-simd: domain 0:' line" % path)
    return last


def at_rest(st):
    """Why the relay is not at rest, or None."""
    c = st["counters"]
    if c["held_messages"]:
        return "holds %d messages" % c["held_messages"]
    for m in st.get("mappings", []):
        if m["queued"] or m["unfinished"]:
            return "port %d: %d bytes in its ring, %d read and not done" % (
                m["port"], m["queued"], m["unfinished"])
    return None


def check_system(levels):
    ok = True
    sent = delivered = settled_u = elsewhere = 0
    for name, st, simd in levels:
        why = at_rest(st)
        if why:
            print("FAIL %s is not at rest: %s" % (name, why))
            ok = False
        s_sent, s_sent_rep, s_recv, s_recv_rep = simd
        c = st["counters"]
        lvl_delivered = s_sent - s_sent_rep
        sent += s_recv - s_recv_rep
        delivered += lvl_delivered
        settled_u += c["settled_undeliverable"]
        before_last = sum(c["undeliverable"].values()) - c["local_undeliverable"]
        elsewhere += before_last
        lvl_ok = lvl_delivered == c["settled_delivered"]
        ok = ok and lvl_ok
        print("%s %s: the fabric saw %d delivered by the relay, its table %d (every run);"
              " %d undeliverable there, %d before the last relay (this run)" %
              ("ok  " if lvl_ok else "FAIL", name, lvl_delivered, c["settled_delivered"],
               c["settled_undeliverable"], before_last))
    undeliverable = settled_u + elsewhere
    sums = sent == delivered + undeliverable
    ok = ok and sums
    print("%s end to end: sent %d = delivered %d + undeliverable %d + held 0" %
          ("ok  " if sums else "FAIL", sent, delivered, undeliverable))
    if not sums:
        print("     sent - delivered - undeliverable = %d" % (sent - delivered - undeliverable))
    return ok


def load(path):
    with open(path) as f:
        return json.load(f)


def main(argv):
    if len(argv) < 3 or argv[1] not in ("relay", "system"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        if argv[1] == "relay":
            ok = True
            for path in argv[2:]:
                st = load(path)
                ok = check_relay(st.get("hvid", path), st) and ok
            return 0 if ok else 1
        levels = []
        for arg in argv[2:]:
            name, _, files = arg.partition("=")
            relay_json, _, simd_log = files.partition(",")
            levels.append((name, load(relay_json), simd_domain0(simd_log)))
        return 0 if check_system(levels) else 1
    except (OSError, ValueError, KeyError) as e:
        print("accounting: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
