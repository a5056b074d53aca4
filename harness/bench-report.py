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


def figures(paths, lat, tput, costs, instr):
    size = "64" if all("64" in lat.get(p["id"], {}) for p in paths) else None
    if size is None:
        size = sorted(lat[paths[0]["id"]].keys(), key=int)[0]
    ratio = lambda x, y: x / y if y else None
    diff = lambda x, y: x - y
    f = {"latency_size": int(size), "latency": [], "throughput": [], "hops": [], "costs": []}

    # Every path's p50 against the unix baseline, in the same turns.
    for p in paths:
        if p["id"] not in lat:
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
    return out


# ---- Plots ------------------------------------------------------------------

def gnuplot(out, name, script):
    path = os.path.join(out, name + ".gp")
    with open(path, "w") as f:
        f.write(script)
    subprocess.run(["gnuplot", name + ".gp"], check=True, cwd=out)


def plots(out, paths, lat, hists, tput, fig):
    size = fig["latency_size"]
    term = 'set terminal pngcairo size 1000,620 font "Sans,10"\n'
    # Latency CDF per path, from the merged histograms.
    lines = []
    for i, p in enumerate(paths):
        buckets = hists.get((p["id"], size))
        if not buckets:
            continue
        total = sum(c for _, _, c in buckets)
        dat = "cdf-%s.dat" % p["id"]
        with open(os.path.join(out, dat), "w") as f:
            seen = 0
            for lower, width, count in buckets:
                seen += count
                f.write("%.3f %.6f\n" % ((lower + width) / 1e3, seen / total))
        lines.append('"%s" using 1:2 with steps lw 2 title "%s"' % (dat, p["label"]))
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
        if not l:
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
    }
    report["targets"] = targets(lat, tput, costs, instr, fig)
    report["plots"] = ["latency-cdf.png", "throughput.png", "hops.png"]
    os.makedirs(out, exist_ok=True)
    plots(out, paths, lat, hists, tput, fig)
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
    turns = report.get("config", {}).get("turns", 0)
    for pid in ids:
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
            ok(l["round_trips"] == turns * report["config"]["round_trips_per_turn"],
               "%s %s B: every round trip counted" % (pid, s))
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
