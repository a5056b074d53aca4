#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The report of `make bench` (harness/bench.sh), and its check.

    bench-report.py RAW OUT     reads what bench.sh measured in RAW, writes
                                OUT/report.json, OUT/results.txt and the
                                plots OUT/*.png (gnuplot)
    bench-report.py --check OUT checks the structure and sanity of
                                OUT/report.json and its plots (never speed);
                                prints "N passed, N failed"

docs/benchmarks.md explains every figure. Standard library only.
"""
import glob
import json
import math
import os
import statistics
import subprocess
import sys

SCHEMA = "argo-bench-report/1"
PERCENTILES = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)]


# ---- Reading what bench.sh wrote ---------------------------------------------

def read_meta(raw):
    meta = {}
    with open(os.path.join(raw, "meta")) as f:
        for line in f:
            line = line.rstrip("\n")
            if "=" in line:
                k, v = line.split("=", 1)
                meta[k] = v
    return meta


def read_paths(raw):
    paths = []
    with open(os.path.join(raw, "paths.tsv")) as f:
        for line in f:
            pid, kind, hops, transport, label = line.rstrip("\n").split("\t")
            paths.append({"id": pid, "kind": kind, "hops": int(hops),
                          "transport": transport, "label": label})
    return paths


def hist_quantile(buckets, total, q, lo, hi):
    """As bench_hist.h: the middle of the bucket holding the ceil(q*total)-th
    sample, within the exact min and max."""
    if total == 0:
        return 0
    rank = max(1, math.ceil(q * total))
    seen = 0
    for lower, width, count in buckets:
        seen += count
        if seen >= rank:
            return min(max(lower + width // 2, lo), hi)
    return hi


def merge_turns(turns):
    """One size's results of every turn: a merged histogram and its
    percentiles, and each turn's own p50."""
    merged = {}
    total = 0
    lo, hi, wsum = None, 0, 0.0
    for r in turns:
        for lower, width, count in r["histogram"]:
            key = (lower, width)
            merged[key] = merged.get(key, 0) + count
        total += r["count"]
        lo = r["min"] if lo is None else min(lo, r["min"])
        hi = max(hi, r["max"])
        wsum += r["mean"] * r["count"]
    buckets = sorted((k[0], k[1], c) for k, c in merged.items())
    out = {"round_trips": total, "turns": len(turns), "unit": "us",
           "min": lo / 1e3, "max": hi / 1e3, "mean": wsum / total / 1e3 if total else 0}
    for name, q in PERCENTILES:
        out[name] = hist_quantile(buckets, total, q, lo, hi) / 1e3
    out["p50_per_turn"] = [r["p50"] / 1e3 for r in turns]
    return out, buckets


def read_latency(raw, paths):
    lat, hists = {}, {}
    for p in paths:
        files = sorted(glob.glob(os.path.join(raw, "lat", p["id"], "turn-*.json")),
                       key=lambda f: int(f.rsplit("-", 1)[1].split(".")[0]))
        runs = [json.load(open(f)) for f in files]
        if not runs:
            continue
        by_size = {}
        for run in runs:
            for r in run["results"]:
                by_size.setdefault(r["size"], []).append(r)
        lat[p["id"]] = {}
        for size, turns in sorted(by_size.items()):
            summary, buckets = merge_turns(turns)
            lat[p["id"]][str(size)] = summary
            hists[(p["id"], size)] = buckets
    return lat, hists


def read_throughput(raw):
    tput = {}
    for f in sorted(glob.glob(os.path.join(raw, "tput", "*.json"))):
        run = json.load(open(f))
        tput[run["label"]] = {str(r["size"]): {
            "messages": r["count"], "bytes": r["bytes"], "seconds": r["seconds"],
            "mb_per_s": r["mb_per_s"], "messages_per_s": r["messages_per_s"]}
            for r in run["results"]}
    return tput


def read_perf(path):
    counts = {}
    with open(path) as f:
        for line in f:
            fields = line.strip().split(",")
            if len(fields) > 3 and fields[0].isdigit():
                counts[fields[2]] = int(fields[0])
    return counts


def read_costs(raw):
    """Per path and process: system calls and context switches per one-way
    message, from the difference of the two runs (each round trip is two
    messages); instructions from the callgrind runs."""
    costs = {}
    for d in sorted(glob.glob(os.path.join(raw, "cost", "*", "run1"))):
        pdir = os.path.dirname(d)
        pid = os.path.basename(pdir)
        n1 = int(open(os.path.join(pdir, "run1", "round_trips")).read())
        n2 = int(open(os.path.join(pdir, "run2", "round_trips")).read())
        msgs = 2 * (n2 - n1)
        roles = {}
        for f in sorted(glob.glob(os.path.join(pdir, "run1", "*.perf"))):
            role = os.path.basename(f)[:-5]
            f2 = os.path.join(pdir, "run2", role + ".perf")
            if not os.path.exists(f2):
                continue
            a, b = read_perf(f), read_perf(f2)
            roles[role] = {
                "syscalls": (b.get("raw_syscalls:sys_enter", 0)
                             - a.get("raw_syscalls:sys_enter", 0)) / msgs,
                "context_switches": (b.get("context-switches", 0)
                                     - a.get("context-switches", 0)) / msgs,
            }
        costs[pid] = {
            "per": "one-way message",
            "messages_counted": msgs,
            "processes": roles,
            "total": {k: sum(r[k] for r in roles.values())
                      for k in ("syscalls", "context_switches")},
        }
    cg = os.path.join(raw, "cost", "callgrind", "instructions")
    instr = {}
    if os.path.exists(cg):
        for line in open(cg):
            name, n, total = line.split()
            instr[name] = {"round_trips": int(n), "instructions": int(total),
                           "per_message": int(total) / (2 * int(n))}
    return costs, instr


# ---- Figures and targets -----------------------------------------------------

def med(values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    return statistics.median(values) if values else None


def per_turn(lat, a, b, size, op):
    """Median over turns of op(a's p50, b's p50) (a and b ran in the same
    turns, next to each other)."""
    if a not in lat or b not in lat or size not in lat[a] or size not in lat[b]:
        return None
    xs, ys = lat[a][size]["p50_per_turn"], lat[b][size]["p50_per_turn"]
    return med([op(x, y) for x, y in zip(xs, ys)])


def rnd(v, digits=2):
    return None if v is None else round(v, digits)


def is_vm(p):
    return p["kind"].startswith("vm")


def figures(paths, lat, tput, costs, instr):
    paths = [p for p in paths if not is_vm(p)]
    size = "64" if all("64" in lat.get(p["id"], {}) for p in paths) else None
    if size is None:
        size = sorted(lat[paths[0]["id"]].keys(), key=int)[0]
    ratio = lambda x, y: x / y if y else None
    diff = lambda x, y: x - y
    f = {"latency_size": int(size), "latency": [], "throughput": [], "hops": [], "costs": []}

    # Every sim path's p50 against the unix baseline, in the same turns
    # (the VM paths have turns of their own: vm_figures).
    for p in paths:
        if p["id"] not in lat or is_vm(p):
            continue
        base = "sim" if p["kind"] == "relay" else "unix"
        f["latency"].append({
            "path": p["id"], "label": p["label"], "p50_us": rnd(lat[p["id"]][size]["p50"], 1),
            "baseline": "unix", "baseline_p50_us": rnd(lat["unix"][size]["p50"], 1),
            "ratio": rnd(per_turn(lat, p["id"], "unix", size, ratio)),
            "vs": base, "ratio_vs": rnd(per_turn(lat, p["id"], base, size, ratio)),
        })

    # Added round trip per hop: relay hops over the fabric alone, socat hops
    # over the plain socket.
    def added(path, base, hops):
        d = per_turn(lat, path, base, size, diff)
        return None if d is None else d / hops
    relay1, socat1 = added("relay-unix-1", "sim", 1), added("socat-1", "unix", 1)
    relay_mid = per_turn(lat, "relay-unix-2", "relay-unix-1", size, diff)
    socat_mid = per_turn(lat, "socat-2", "socat-1", size, diff)
    f["hops"] = [
        {"what": "one relay hop (2 levels over 1 fabric)", "added_us": rnd(relay1, 1),
         "baseline": "one socat hop (socat-1 over unix)", "baseline_added_us": rnd(socat1, 1),
         "ratio": rnd(relay1 / socat1) if relay1 is not None and socat1 else None},
        {"what": "a middle relay hop (3 levels over 2)", "added_us": rnd(relay_mid, 1),
         "baseline": "a second socat hop (socat-2 over socat-1)",
         "baseline_added_us": rnd(socat_mid, 1),
         "ratio": rnd(relay_mid / socat_mid) if relay_mid is not None and socat_mid else None},
    ]
    for t in ("tcp", "serial", "argo"):
        pid = "relay-%s-1" % t
        if pid in lat:
            f["hops"].append({
                "what": "one relay hop over %s" % t, "added_us": rnd(added(pid, "sim", 1), 1),
                "baseline": "one relay hop over unix", "baseline_added_us": rnd(relay1, 1),
                "ratio": rnd(per_turn(lat, pid, "relay-unix-1", size, ratio))})

    # Throughput against the plain socket and, for relays, the fabric alone.
    for pid, sizes in tput.items():
        base = "sim" if pid.startswith("relay") else "unix"
        for s, r in sizes.items():
            b = tput.get(base, {}).get(s)
            f["throughput"].append({
                "path": pid, "size": int(s), "mb_per_s": rnd(r["mb_per_s"], 1),
                "messages_per_s": rnd(r["messages_per_s"], 0), "baseline": base,
                "baseline_mb_per_s": rnd(b["mb_per_s"], 1) if b else None,
                "ratio": rnd(r["mb_per_s"] / b["mb_per_s"]) if b and pid != base else None})

    # Costs per one-way message, each path beside its baseline.
    for pid, c in costs.items():
        base = {"sim": "unix", "socat-1": "unix", "socat-2": "unix",
                "relay-unix-1": "sim", "relay-unix-2": "relay-unix-1"}.get(pid)
        entry = {"path": pid, "syscalls": rnd(c["total"]["syscalls"]),
                 "context_switches": rnd(c["total"]["context_switches"]),
                 "processes": {r: {k: rnd(v) for k, v in x.items()}
                               for r, x in c["processes"].items()}}
        if base in costs:
            entry["baseline"] = base
            entry["baseline_syscalls"] = rnd(costs[base]["total"]["syscalls"])
            entry["baseline_context_switches"] = rnd(costs[base]["total"]["context_switches"])
        f["costs"].append(entry)
    f["instructions_per_message"] = {k: rnd(v["per_message"], 0) for k, v in instr.items()}
    if "relay-mid" in instr and "socat-mid" in instr:
        f["instructions_relay_vs_socat"] = rnd(instr["relay-mid"]["per_message"]
                                               / instr["socat-mid"]["per_message"])
    return f


# The VM paths (harness/bench-vm.sh): what each costs, the headline's ratio,
# and where its time goes, hop by hop.
VM_HEADLINE, VM_XEN, VM_SERIAL = "vm-headline", "vm-xen", "vm-serial-l1"


def read_vm(raw):
    vm = {}
    for name in ("cost", "relay-l0", "relay-l1", "relay-dd"):
        f = os.path.join(raw, "vm", name + ".json")
        try:
            vm[name] = json.load(open(f))
        except (OSError, ValueError):
            pass
    return vm


def vm_figures(paths, lat, vm):
    ids = [p["id"] for p in paths if is_vm(p)]
    if not ids:
        return None
    sizes = sorted({int(s) for i in ids for s in lat.get(i, {})})
    med_p50 = lambda i, s: med(lat.get(i, {}).get(str(s), {}).get("p50_per_turn", []))

    def turns(i, s):
        return lat.get(i, {}).get(str(s), {}).get("p50_per_turn", [])

    def per_turn_of(s, f, *ids_):
        """Median over turns of f(p50 of each path in that turn)."""
        series = [turns(i, s) for i in ids_]
        if not all(series):
            return None
        return med([f(*xs) for xs in zip(*series)])
    label = {p["id"]: p["label"] for p in paths}
    out = {"sizes": sizes, "paths": [], "headline": [], "hops": [], "costs": vm.get("cost", {}),
           "relay_link_rtt_us": {}}
    for i in ids:
        out["paths"].append({"path": i, "label": label[i], "p50_us": {
            str(s): rnd(med_p50(i, s), 0) for s in sizes if str(s) in lat.get(i, {})},
            "p99_us": {str(s): rnd(lat[i][str(s)]["p99"], 0) for s in sizes
                       if str(s) in lat.get(i, {})}})
    for s in sizes:
        ratio = per_turn_of(s, lambda h, x, v: h / (x + v), VM_HEADLINE, VM_XEN, VM_SERIAL)
        h, x, v = med_p50(VM_HEADLINE, s), med_p50(VM_XEN, s), med_p50(VM_SERIAL, s)
        out["headline"].append({
            "size": s, "ratio": rnd(ratio), "headline_p50_us": rnd(h, 0),
            "xen_p50_us": rnd(x, 0), "serial_p50_us": rnd(v, 0),
            "baseline_sum_p50_us": rnd(x + v, 0) if x is not None and v is not None else None,
            "over_target_us": rnd(per_turn_of(s, lambda h, x, v: h - 1.5 * (x + v),
                                              VM_HEADLINE, VM_XEN, VM_SERIAL), 0)})
    # Where the headline's round trip goes: medians of per-turn differences.
    steps = [
        ("a domU, not dom0, at the start (headline - from dom0)",
         ("vm-headline", "vm-relay-dom0"), lambda h, d: h - d),
        ("Argo within the L1 dom0, to relay l1 and back (dom0 -> dom0)",
         ("vm-xen-dom0",), lambda v: v),
        ("raw virtio-serial, host <-> L1 VM", ("vm-serial-l1",), lambda v: v),
        ("raw virtio-serial, host <-> driver domain", ("vm-serial-dd",), lambda v: v),
        ("the driver domain's sim fabric", ("vm-dd-sim",), lambda v: v),
        ("the three relays beyond those (TLS, routing, custody, their wake-ups)",
         ("vm-relay-dom0", "vm-xen-dom0", "vm-serial-l1", "vm-serial-dd", "vm-dd-sim"),
         lambda d, x, a, b, c: d - x - a - b - c),
    ]
    for what, need, f in steps:
        if all(n in ids for n in need):
            out["hops"].append({"what": what, "from": list(need), "us": {
                str(s): rnd(per_turn_of(s, f, *need), 0) for s in sizes}})
    out["relay_links"] = {}
    for name in ("relay-l0", "relay-l1", "relay-dd"):
        for l in vm.get(name, {}).get("links", []):
            key = "%s:%s" % (name[6:], l["name"])
            out["relay_link_rtt_us"][key] = l.get("rtt_us")
            # Frames per message: what each DATA costs the link in records
            # (acknowledgements, grants, pings beside it), over the run.
            out["relay_links"][key] = {
                "data_tx": l["data_tx"], "data_rx": l["data_rx"],
                "frames_per_data_tx": rnd(l["frames_tx"] / l["data_tx"]) if l["data_tx"] else None,
                "frames_per_data_rx": rnd(l["frames_rx"] / l["data_rx"]) if l["data_rx"] else None,
                "retransmits": l["retransmits"], "sessions": l["sessions"]}
    return out


def targets(lat, tput, costs, instr, fig):
    """The targets of issue 12 that the sim paths can show (the VM paths'
    come with them)."""
    size = str(fig["latency_size"])
    out = []

    def add(name, value, limit, op, unit, note):
        met = None if value is None else (value <= limit if op == "<=" else value >= limit)
        out.append({"target": name, "value": rnd(value), "limit": limit, "op": op,
                    "unit": unit, "met": met, "note": note})
    add("sim round trip / unix round trip", per_turn(lat, "sim", "unix", size,
        lambda x, y: x / y), 2.0, "<=", "ratio",
        "median over turns of the p50 ratio, %s B" % size)
    sim = costs.get("sim", {}).get("total", {})
    add("sim: system calls per one-way message", sim.get("syscalls"), 6, "<=", "calls",
        "client + argo-simd + server")
    relay = next((h for h in fig["hops"] if h["what"].startswith("one relay hop (")), None)
    add("one relay hop / one socat hop, added round trip", relay and relay["ratio"], 1.0, "<=",
        "ratio", "medians of per-turn differences; relay targets are issue 12's later part")
    if "relay-mid" in instr and "socat-mid" in instr:
        add("middle relay / socat, instructions per message",
            fig.get("instructions_relay_vs_socat"), 3.0, "<=", "ratio", "callgrind, 64 B")
    r = tput.get("relay-unix-1", {}).get("65536")
    s = tput.get("sim", {}).get("65536")
    add("64 KiB stream, 1 relay hop / one fabric", r and s and r["mb_per_s"] / s["mb_per_s"],
        0.8, ">=", "ratio", "every frame in TLS 1.3 (link protocol v4)")
    vm = fig.get("vm")
    h = next((x for x in vm["headline"] if x["size"] == 64), vm["headline"][0]) if vm else None
    add("headline round trip / (intra-Xen Argo + raw virtio-serial)", h and h["ratio"], 1.5,
        "<=", "ratio", "the same VMs, one boot; median over turns of the p50 ratio, %s B" % (
            h["size"] if h else 64) if h else "VM paths not measured (BENCH=full)")
    return out


# ---- Plots ------------------------------------------------------------------

def gnuplot(out, name, script):
    path = os.path.join(out, name + ".gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", name + ".gp"], check=True, cwd=out)


def cdf_lines(out, paths, hists, size, unit_ns):
    """Writes cdf-PATH.dat (round trip in units of unit_ns nanoseconds,
    cumulative share) for each path with a histogram at size; returns the
    gnuplot plot clauses."""
    lines = []
    for p in paths:
        buckets = hists.get((p["id"], size))
        if not buckets:
            continue
        total = sum(c for _, _, c in buckets)
        dat = "cdf-%s.dat" % p["id"]
        with open(os.path.join(out, dat), "w") as f:
            seen = 0
            for lower, width, count in buckets:
                seen += count
                f.write("%.3f %.6f\n" % ((lower + width) / unit_ns, seen / total))
        lines.append('"%s" using 1:2 with steps lw 2 title "%s"' % (dat, p["label"]))
    return lines


def plots(out, paths, lat, hists, tput, fig):
    size = fig["latency_size"]
    term = 'set terminal pngcairo size 1000,620 font "Sans,10"\n'
    # Latency CDF per path, from the merged histograms.
    lines = cdf_lines(out, [p for p in paths if not is_vm(p)], hists, size, 1e3)
    gnuplot(out, "latency-cdf", term + (
        'set output "latency-cdf.png"\n'
        'set title "Round-trip latency, %d B messages: share of round trips at or below"\n'
        'set logscale x\nset xlabel "round trip (us, log scale)"\n'
        'set ylabel "cumulative share"\nset yrange [0:1]\nset grid\n'
        'set key right bottom\nplot ' % size) + ", \\\n     ".join(lines) + "\n")
    # Throughput against message size.
    lines = []
    label = {p["id"]: p["label"] for p in paths}
    for pid, sizes in tput.items():
        dat = "tput-%s.dat" % pid
        with open(os.path.join(out, dat), "w") as f:
            for s in sorted(sizes, key=int):
                f.write("%s %.3f\n" % (s, sizes[s]["mb_per_s"]))
        lines.append('"%s" using 1:2 with linespoints lw 2 title "%s"' % (dat, label.get(pid, pid)))
    gnuplot(out, "throughput", term + (
        'set output "throughput.png"\n'
        'set title "One-way throughput against message size"\n'
        'set logscale xy\nset xlabel "message size (bytes, log scale)"\n'
        'set ylabel "MB/s (log scale)"\nset grid\nset key left top\n'
        'set xtics ("16" 16, "64" 64, "256" 256, "1K" 1024, "4K" 4096, "16K" 16384, '
        '"64K" 65536)\nplot ') + ", \\\n     ".join(lines) + "\n")
    # Round trip against the number of hops: relays and socat.
    with open(os.path.join(out, "hops.dat"), "w") as f:
        f.write("# hops relay_p50_us socat_p50_us\n")
        for h, (r, s) in enumerate([("sim", "unix"), ("relay-unix-1", "socat-1"),
                                    ("relay-unix-2", "socat-2")]):
            rv = lat.get(r, {}).get(str(size), {}).get("p50")
            sv = lat.get(s, {}).get(str(size), {}).get("p50")
            f.write("%d %s %s\n" % (h, "%.2f" % rv if rv else "NaN", "%.2f" % sv if sv else "NaN"))
    gnuplot(out, "hops", term + (
        'set output "hops.png"\n'
        'set title "Round trip (p50, %d B) against hops: each hop adds the slope"\n'
        'set xlabel "hops"\nset xtics 1\nset xrange [-0.2:2.2]\n'
        'set ylabel "round trip p50 (us)"\nset yrange [0:*]\nset grid\nset key left top\n'
        'plot "hops.dat" using 1:2 with linespoints lw 2 pt 7 title '
        '"argo relays over unix (0 = one sim fabric)", \\\n'
        '     "hops.dat" using 1:3 with linespoints lw 2 pt 5 title '
        '"socat over unix (0 = plain unix socket)"\n' % size))


def vm_plots(out, paths, hists, vm):
    term = 'set terminal pngcairo size 1000,620 font "Sans,10"\n'
    size = 64 if 64 in vm["sizes"] else vm["sizes"][0]
    lines = cdf_lines(out, [p for p in paths if is_vm(p)], hists, size, 1e6)
    gnuplot(out, "vm-latency-cdf", term + (
        'set output "vm-latency-cdf.png"\n'
        'set title "VM paths: round trip, %d B, share of round trips at or below"\n'
        'set logscale x\nset xlabel "round trip (ms, log scale)"\n'
        'set ylabel "cumulative share"\nset yrange [0:1]\nset grid\n'
        'set key right bottom\nplot ' % size) + ", \\\n     ".join(lines) + "\n")
    # The headline's p50 as the sum of its hops (stacked), beside the
    # baseline sum and the 1.5x target.
    parts = [h for h in vm["hops"]]
    with open(os.path.join(out, "vm-hops.dat"), "w") as f:
        f.write("# size %s headline baseline_sum target\n" % " ".join(
            "part%d" % i for i in range(len(parts))))
        for s in vm["sizes"]:
            h = next(x for x in vm["headline"] if x["size"] == s)
            vals = [max(0, (x["us"].get(str(s)) or 0)) / 1e3 for x in parts]
            base = h["baseline_sum_p50_us"]
            f.write("%s %s %s %s %s\n" % (
                "%dB" % s if s < 1024 else "%dK" % (s // 1024), " ".join("%.3f" % v for v in vals),
                "%.3f" % (h["headline_p50_us"] / 1e3) if h["headline_p50_us"] else "NaN",
                "%.3f" % (base / 1e3) if base else "NaN",
                "%.3f" % (1.5 * base / 1e3) if base else "NaN"))
    n = len(parts)
    plot = ['"vm-hops.dat" using %d:xtic(1) title "%s"' % (i + 2, parts[i]["what"].replace('"', "'"))
            for i in range(n)]
    plot.append('"vm-hops.dat" using ($0):%d with points pt 7 ps 2 lc rgb "black" '
                'title "headline p50"' % (n + 2))
    plot.append('"vm-hops.dat" using ($0):%d with points pt 5 ps 2 lc rgb "blue" '
                'title "intra-Xen + raw virtio-serial p50"' % (n + 3))
    plot.append('"vm-hops.dat" using ($0):%d with points pt 9 ps 2 lc rgb "red" '
                'title "target: 1.5 x that"' % (n + 4))
    gnuplot(out, "vm-hops", term + (
        'set output "vm-hops.png"\n'
        'set title "Where the headline\'s round trip goes (p50, medians of per-turn differences)"\n'
        'set style data histograms\nset style histogram rowstacked\n'
        'set style fill solid 0.8 border -1\nset boxwidth 0.6\n'
        'set ylabel "ms"\nset yrange [0:*]\nset grid y\nset key outside below\n'
        'set xlabel "message size"\nplot ') + ", \\\n     ".join(plot) + "\n")


# ---- Text summary -------------------------------------------------------------

def text(report):
    m, f = report["machine"], report["figures"]
    out = ["argo-bench report (%s), %s, commit %s" % (report["config"]["bench"], m["date"],
                                                      m["commit"]),
           "machine: %s cpus, %s, kernel %s, load %s -> %s; argo-simd engine %s" % (
               m["cpus"], m["cpu_model"], m["kernel"], m["loadavg_start"], m["loadavg_end"],
               m["simd_engine"]),
           "",
           "round trip, %d B (us; %d turns; ratio: median of per-turn p50 ratios)" % (
               f["latency_size"], report["config"]["turns"]),
           "  %-34s %8s %8s %8s %8s %9s %9s" % ("path", "p50", "p90", "p99", "p99.9", "max",
                                               "vs unix")]
    size = str(f["latency_size"])
    for p in report["paths"]:
        l = report["latency"].get(p["id"], {}).get(size)
        if not l or is_vm(p):
            continue
        r = next(x["ratio"] for x in f["latency"] if x["path"] == p["id"])
        out.append("  %-34s %8.1f %8.1f %8.1f %8.1f %9.1f %9s" % (
            p["label"], l["p50"], l["p90"], l["p99"], l["p999"], l["max"],
            "%.2f" % r if r is not None else "-"))
    out += ["", "added round trip per hop (us, p50; medians of per-turn differences)"]
    for h in f["hops"]:
        out.append("  %-40s %7s   %s: %s   ratio %s" % (
            h["what"], h["added_us"], h["baseline"], h["baseline_added_us"], h["ratio"]))
    out += ["", "throughput (MB/s)"]
    sizes = sorted({t["size"] for t in f["throughput"]})
    out.append("  %-14s" % "path" + "".join("%9s" % s for s in sizes))
    for pid in report["throughput"]:
        row = {t["size"]: t["mb_per_s"] for t in f["throughput"] if t["path"] == pid}
        out.append("  %-14s" % pid + "".join("%9.1f" % row[s] if s in row else "%9s" % "-"
                                              for s in sizes))
    out += ["", "costs per one-way message (system calls / context switches; perf)"]
    for c in f["costs"]:
        procs = ", ".join("%s %.2f/%.2f" % (r, v["syscalls"], v["context_switches"])
                          for r, v in c["processes"].items())
        out.append("  %-14s %6.2f / %5.2f   (%s)" % (c["path"], c["syscalls"],
                                                    c["context_switches"], procs))
    if f["instructions_per_message"]:
        out.append("  instructions per message (callgrind): " + ", ".join(
            "%s %d" % (k, v) for k, v in f["instructions_per_message"].items()))
    vm = f.get("vm")
    if vm:
        c, m = report["vm"]["config"], report["vm"]["machine"]
        out += ["", "VM paths: one boot of the headline's VMs (%s, %s; L1 %s MiB %s vCPUs, "
                "driver domain %s MiB %s vCPU, CPU %s), %d turns of %d round trips per size" % (
                    m.get("accel", "?"), m.get("qemu", "?"), m.get("l1_mem_mib", "?"),
                    m.get("l1_vcpus", "?"), m.get("dd_mem_mib", "?"), m.get("dd_vcpus", "?"),
                    m.get("l1_cpu", "?"), c["turns"], c["round_trips_per_turn"]),
                "  round trip p50/p99 (ms; p50: median of the turns' p50s; p99: of all round trips)",
                "  %-58s" % "path" + "".join("%14s" % ("%d B" % s) for s in vm["sizes"])]
        for p in vm["paths"]:
            out.append("  %-58s" % p["label"] + "".join(
                "%14s" % ("%.1f/%.1f" % (p["p50_us"][str(s)] / 1e3, p["p99_us"][str(s)] / 1e3)
                          if p["p50_us"].get(str(s)) is not None else "-") for s in vm["sizes"]))
        out.append("  headline / (intra-Xen + raw virtio-serial), median of per-turn ratios: " +
                   ", ".join("%d B %s" % (h["size"], h["ratio"]) for h in vm["headline"]))
        out.append("  where the headline's time goes (ms, medians of per-turn differences):")
        for h in vm["hops"]:
            out.append("    %-72s %s" % (h["what"], ", ".join(
                "%s B %s" % (s, "%.1f" % (v / 1e3) if v is not None else "-")
                for s, v in h["us"].items())))
        if vm["relay_link_rtt_us"]:
            out.append("  relay links' last PING/PONG (us): " + ", ".join(
                "%s %s" % kv for kv in vm["relay_link_rtt_us"].items()))
            out.append("  relay links' frames per message sent / received: " + ", ".join(
                "%s %s/%s" % (k, v["frames_per_data_tx"], v["frames_per_data_rx"])
                for k, v in vm.get("relay_links", {}).items()))
        if vm["costs"]:
            out.append("  CPU per 64 B round trip (ms; differences of two runs): the host's "
                       "processes | the L1 Xen's domains")
            for pid, cc in vm["costs"].items():
                out.append("    %-14s round trip %7.1f | %s | %s" % (
                    pid, cc["round_trip_mean_ms"], ", ".join(
                        "%s %.1f" % kv for kv in cc["host_cpu_ms_per_round_trip"].items()),
                    ", ".join("%s %.1f" % kv
                              for kv in cc["l1_xen_domain_cpu_ms_per_round_trip"].items())))
            out.append("  per 64 B round trip: context switches (ctxt), interrupts (intr), "
                       "VIRQ_ARGO (argo_irq), by VM")
            for pid, cc in vm["costs"].items():
                out.append("    %-14s %s" % (pid, ", ".join(
                    "%s %.1f" % kv for kv in cc.get("counts_per_round_trip", {}).items())))
            out.append("  per 64 B round trip: each VM's CPU as it sees it (ms: busy, idle, "
                       "steal), and its busiest programs")
            for pid, cc in vm["costs"].items():
                out.append("    %-14s %s" % (pid, ", ".join(
                    "%s %.1f" % kv for kv in cc.get("vm_cpu_ms_per_round_trip", {}).items())))
                for v, progs in cc.get("programs_cpu_ms_per_round_trip", {}).items():
                    if progs:
                        out.append("    %-14s   %s: %s" % ("", v, ", ".join(
                            "%s %.1f" % kv for kv in progs.items())))
    out += ["", "targets"]
    for t in report["targets"]:
        state = {True: "met", False: "NOT met", None: "not measured"}[t["met"]]
        out.append("  %-48s %8s  (%s %s)  %s" % (t["target"], t["value"], t["op"], t["limit"],
                                                  state))
    out.append("  VM paths: " + report["vm_paths"])
    return "\n".join(out) + "\n"


def build(raw, out):
    meta = read_meta(raw)
    paths = read_paths(raw)
    lat, hists = read_latency(raw, paths)
    tput = read_throughput(raw)
    costs, instr = read_costs(raw)
    fig = figures(paths, lat, tput, costs, instr)
    vm = read_vm(raw)
    fig["vm"] = vm_figures(paths, lat, vm)
    machine_keys = ["date", "commit", "argo_bench", "simd_engine", "cpus", "cpu_model",
                    "memory_kib", "kernel", "loadavg_start", "loadavg_end", "socat"]
    report = {
        "schema": SCHEMA,
        "machine": {k: meta.get(k, "") for k in machine_keys},
        "config": {"bench": meta.get("bench"), "turns": int(meta.get("turns", 0)),
                   "round_trips_per_turn": int(meta.get("round_trips_per_turn", 0)),
                   "latency_sizes": meta.get("latency_sizes"),
                   "throughput_seconds_per_size": float(meta.get("throughput_seconds_per_size", 0)),
                   "cost_round_trips": int(meta.get("cost_round_trips", 0)),
                   "seconds": int(meta.get("seconds", 0))},
        "paths": paths,
        "latency": lat,
        "throughput": tput,
        "costs": costs,
        "instructions": instr,
        "figures": fig,
        "vm_paths": meta.get("vm_paths", ""),
        "vm": {"config": {"turns": int(meta.get("vm_turns", 0)),
                          "round_trips_per_turn": int(meta.get("vm_round_trips_per_turn", 0)),
                          "latency_sizes": meta.get("vm_latency_sizes", ""),
                          "cost_round_trips": int(meta.get("vm_cost_round_trips", 0)),
                          "seconds": int(meta.get("vm_seconds", 0))},
               "machine": {k[3:]: v for k, v in meta.items() if k.startswith("vm_") and k not in (
                   "vm_paths", "vm_turns", "vm_round_trips_per_turn", "vm_latency_sizes",
                   "vm_cost_round_trips", "vm_seconds")},
               "relays": {k: v for k, v in vm.items() if k.startswith("relay-")}}
        if fig["vm"] else None,
    }
    report["targets"] = targets(lat, tput, costs, instr, fig)
    report["plots"] = ["latency-cdf.png", "throughput.png", "hops.png"]
    if fig["vm"]:
        report["plots"] += ["vm-latency-cdf.png", "vm-hops.png"]
    os.makedirs(out, exist_ok=True)
    plots(out, paths, lat, hists, tput, fig)
    if fig["vm"]:
        vm_plots(out, paths, hists, fig["vm"])
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    with open(os.path.join(out, "results.txt"), "w") as f:
        f.write(text(report))


# ---- The check (make check) -----------------------------------------------------

def check(out):
    passed, failed = 0, 0

    def ok(cond, what):
        nonlocal passed, failed
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL %s" % what)

    try:
        report = json.load(open(os.path.join(out, "report.json")))
    except (OSError, ValueError) as e:
        print("FAIL report.json: %s" % e)
        print("0 passed, 1 failed")
        return 1
    ok(report.get("schema") == SCHEMA, "schema")
    for k in ("machine", "config", "paths", "latency", "throughput", "costs", "figures",
              "targets", "plots", "vm_paths"):
        ok(k in report, "key %s" % k)
    m = report.get("machine", {})
    ok(str(m.get("cpus", "")).isdigit() and int(m["cpus"]) >= 1, "machine: cpus")
    ok(bool(m.get("kernel")) and bool(m.get("commit")), "machine: kernel and commit")
    ok(m.get("simd_engine") in ("io_uring", "epoll"), "machine: argo-simd engine")
    ids = [p["id"] for p in report.get("paths", [])]
    for want in ("unix", "tcp", "sim", "socat-1", "relay-unix-1"):
        ok(want in ids, "path %s measured" % want)
    kinds = {p["id"]: p["kind"] for p in report.get("paths", [])}
    for pid in ids:
        if kinds[pid].startswith("vm"):
            cfg = (report.get("vm") or {}).get("config", {})
        else:
            cfg = report.get("config", {})
        turns, per = cfg.get("turns", 0), cfg.get("round_trips_per_turn", 0)
        sizes = report["latency"].get(pid, {})
        ok(bool(sizes), "%s: latency" % pid)
        for s, l in sizes.items():
            seq = [l["min"], l["p50"], l["p90"], l["p99"], l["p999"], l["max"]]
            ok(all(isinstance(v, (int, float)) and v > 0 for v in seq),
               "%s %s B: latencies positive" % (pid, s))
            ok(all(a <= b for a, b in zip(seq, seq[1:])),
               "%s %s B: min <= p50 <= p90 <= p99 <= p99.9 <= max" % (pid, s))
            ok(l["min"] <= l["mean"] <= l["max"], "%s %s B: mean within min..max" % (pid, s))
            ok(l["turns"] == turns and len(l["p50_per_turn"]) == turns,
               "%s %s B: one result per turn" % (pid, s))
            ok(l["round_trips"] == turns * per, "%s %s B: every round trip counted" % (pid, s))
    for pid, sizes in report.get("throughput", {}).items():
        ok(len(sizes) == 7, "%s: throughput at 7 sizes" % pid)
        for s, t in sizes.items():
            ok(t["mb_per_s"] > 0 and t["messages"] > 0 and t["seconds"] > 0,
               "%s %s B: throughput positive" % (pid, s))
            ok(abs(t["bytes"] - t["messages"] * int(s)) == 0, "%s %s B: bytes" % (pid, s))
    # System calls per message are a difference of two runs that noise
    # cannot move: never negative. Context switches include involuntary
    # ones, which the machine's load moves between the two runs, so a
    # process that rarely sleeps (socat) may come out slightly negative:
    # reported as measured, not checked.
    for pid, c in report.get("costs", {}).items():
        ok(c["processes"] and all(v["syscalls"] >= 0 for v in c["processes"].values()),
           "%s: costs not negative" % pid)
        # Every message needs at least one system call somewhere: none at
        # all would be a measurement that saw nothing.
        ok(c["total"]["syscalls"] >= 1, "%s: at least one system call per message" % pid)
    for name, v in report.get("instructions", {}).items():
        ok(v["per_message"] > 0, "instructions of %s" % name)
    for fig in report.get("figures", {}).get("latency", []):
        ok(fig["ratio"] is None or fig["ratio"] > 0, "ratio of %s" % fig["path"])
    vm = report.get("figures", {}).get("vm")
    if vm:
        for want in (VM_XEN, VM_SERIAL, VM_HEADLINE):
            ok(want in ids, "VM path %s measured" % want)
        for h in vm["headline"]:
            ok(h["ratio"] is not None and h["ratio"] > 0, "headline ratio at %d B" % h["size"])
        m = report["vm"]["machine"]
        ok(m.get("accel") in ("kvm", "tcg"), "VM machine: accelerator")
        ok(str(m.get("l1_dom0_cpus", "")).isdigit(), "VM machine: the L1 dom0's CPUs")
    for t in report.get("targets", []):
        ok(t["met"] in (True, False, None) and "value" in t and "limit" in t,
           "target %s" % t.get("target"))
    for png in report.get("plots", []):
        try:
            with open(os.path.join(out, png), "rb") as f:
                head = f.read(8)
            ok(head == b"\x89PNG\r\n\x1a\n" and os.path.getsize(os.path.join(out, png)) > 2000,
               "plot %s is a PNG" % png)
        except OSError:
            ok(False, "plot %s exists" % png)
    ok(os.path.getsize(os.path.join(out, "results.txt")) > 0, "results.txt")
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def main(argv):
    if len(argv) == 3 and argv[1] == "--check":
        return check(argv[2])
    if len(argv) == 3:
        build(argv[1], argv[2])
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
