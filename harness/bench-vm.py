#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The host hook of bench-headline (harness/scenarios.cfg): drives the VM
paths' latency benchmarks in one boot of the headline's VMs.

Every path is measured with argo-bench (one client, server and clock), in
turns whose order rotates, so that the machine's drift lands on all alike:

  vm-xen         L1 domU -> dom0 over Xen's Argo (argo.ko both ends), no relay
  vm-serial-l1   host -> L1 dom0 over a virtio-serial port, no Argo (the
                 server reads and writes the port in the guest; the client
                 connects to QEMU's chardev socket)
  vm-headline    L1 domU -> argo.ko -> relay l1 =serial=> relay l0 (host)
                 =serial=> relay dd -> the driver domain's fabric -> server
  and, to see where the headline's time goes:
  vm-relay-dom0  the same from the L1 dom0 (no domU hop)
  vm-xen-dom0    L1 dom0 -> dom0 over Xen's Argo (client and server in dom0)
  vm-serial-dd   host -> driver domain over a virtio-serial port, no Argo
  vm-dd-sim      the driver domain's sim fabric alone (client and server there)

The VMs answer on their port org.argo.bench.ctl (harness/scenarios/
bench-agent.sh). Writes $E2E_OUT/bench-raw/ in harness/bench.sh's formats
(paths.tsv, lat/ID/turn-N.json, meta lines vm_*), plus vm/cost.json (CPU
per 64 B round trip on each path: the host's processes, QEMU's vCPU and
other threads apart, and the L1 Xen's domains; differences of two runs)
and vm/relay-*.json (the three relays' status at the end);
harness/bench-vm.sh hands them to bench-report.py. Prints ARGO-E2E: CASE
lines (every path measured in every turn, never a speed) and a summary.

Environment: E2E_OUT, E2E_VMCTL, E2E_ACCEL, E2E_BACKEND, BUILD (from the
runner); BENCH_VM_TURNS (9), BENCH_VM_PER (round trips per size and turn,
100), BENCH_VM_SIZES (64,1K,16K), BENCH_VM_COST_N (100; 0: no cost runs),
BENCH_VM_PATHS (all of the above).
"""
import glob
import json
import os
import socket
import statistics
import subprocess
import sys
import time

OUT = os.environ["E2E_OUT"]
VMCTL = os.environ["E2E_VMCTL"]
BUILD = os.environ.get("BUILD", "build")
RAW = os.path.join(OUT, "bench-raw")
TURNS = int(os.environ.get("BENCH_VM_TURNS", "9"))
PER = int(os.environ.get("BENCH_VM_PER", "100"))
SIZES = os.environ.get("BENCH_VM_SIZES", "64,1K,16K")
WARMUP = max(5, PER // 10)
COST_N = int(os.environ.get("BENCH_VM_COST_N", "100"))
TIMEOUT_MS = 60000  # a round trip silent this long fails the run

# id: (where, kind, hops, transport, label, argo-bench target)
PATHS = {
    "vm-xen": ("domu", "vm-baseline", 0, "xen", "Xen Argo: L1 domU -> dom0 (argo.ko)",
               "--fabric xen: --to 0:7100"),
    "vm-serial-l1": ("host", "vm-baseline", 0, "virtio-serial",
                     "virtio-serial: host -> L1 dom0, raw", "--connect unix:{l1_raw}"),
    "vm-headline": ("domu", "vm", 2, "serial",
                    "headline: L1 domU -> relays l1, l0, dd -> driver domain",
                    "--fabric xen: --to 0:7000"),
    "vm-relay-dom0": ("dom0", "vm-profile", 2, "serial",
                      "L1 dom0 -> relays l1, l0, dd -> driver domain",
                      "--fabric xen: --to 0:7000 --port 40200"),
    "vm-xen-dom0": ("dom0", "vm-profile", 0, "xen", "Xen Argo: L1 dom0 -> dom0 (argo.ko)",
                    "--fabric xen: --to 0:7100 --port 40300"),
    "vm-serial-dd": ("host", "vm-profile", 0, "virtio-serial",
                     "virtio-serial: host -> driver domain, raw", "--connect unix:{dd_raw}"),
    "vm-dd-sim": ("dd", "vm-profile", 0, "none", "driver domain's sim fabric alone",
                  "--fabric sim:/run/argo-relay/dd.sock --to 5:7000"),
}
ESSENTIAL = ("vm-xen", "vm-serial-l1", "vm-headline")


def case(name, status, msg=""):
    print("ARGO-E2E: CASE %s %s%s" % (name, status, " " + msg if msg else ""), flush=True)


def note(msg):
    print("bench-vm: %s" % msg, flush=True)


def vmctl(vm, *args):
    return subprocess.run([VMCTL, vm] + list(args), capture_output=True, text=True).stdout.strip()


def wait_socket(vm, channel, seconds):
    end = time.time() + seconds
    while time.time() < end:
        path = vmctl(vm, "socket", channel)
        if path and os.path.exists(path):
            return path
        time.sleep(0.2)
    raise RuntimeError("no socket for %s's channel %s within %d s" % (vm, channel, seconds))


class Agent:
    """A VM's bench-agent on its control port: line requests, line answers."""

    def __init__(self, name, path):
        self.name, self.buf = name, b""
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.facts, self.problems = {}, []

    def line(self, seconds):
        end = time.time() + seconds
        while b"\n" not in self.buf:
            left = end - time.time()
            if left <= 0:
                raise TimeoutError("%s said nothing for %d s" % (self.name, seconds))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            if not data:
                raise ConnectionError("%s closed its control port" % self.name)
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace").rstrip("\r")

    def send(self, text):
        self.sock.sendall(text.encode() + b"\n")

    def ready(self, seconds):
        """Waits for "ready NAME", then takes its facts and problems."""
        end = time.time() + seconds
        while True:
            l = self.line(max(1, end - time.time()))
            if l.startswith("ready "):
                break
        # The facts follow at once; the first request's answer ends them.
        self.send("status 0")
        while True:
            l = self.line(120)
            word, _, rest = l.partition(" ")
            if word == "fact":
                k, _, v = rest.partition(" ")
                self.facts[k] = v
            elif word == "problem":
                self.problems.append(rest)
            elif word == "end" and rest.split()[0] == "0":
                break

    def request(self, text, seq, seconds):
        """Sends a request, returns (rc, stdout lines, stderr lines)."""
        self.send(text)
        out, err = [], []
        while True:
            l = self.line(seconds)
            word, _, rest = l.partition(" ")
            s, _, payload = rest.partition(" ")
            if word in ("out", "err", "end") and s != str(seq):
                continue  # a late answer to a request that timed out
            if word == "out":
                out.append(payload)
            elif word == "err":
                err.append(payload)
            elif word == "end":
                return int(payload or 1), out, err


# ---- CPU time of the host's processes -------------------------------------------

def qemu_pid(vm):
    d = os.path.join(OUT, "vm", vm)
    for f in [os.path.join(d, "qemu.pid")]:
        try:
            return int(open(f).read())
        except (OSError, ValueError):
            pass
    env = open(os.path.join(d, "vm.env")).read()
    dom = next((l.split("=", 1)[1] for l in env.splitlines() if l.startswith("VM_DOMAIN=")), "")
    try:
        return int(open("/run/libvirt/qemu/%s.pid" % dom).read())
    except (OSError, ValueError):
        return None


def thread_cpu(pid):
    """Nanoseconds on a CPU of each thread group of PID: vcpus (QEMU's
    "CPU n/TCG" or "CPU n/KVM" threads) and the others."""
    groups = {"vcpus": 0, "other": 0}
    for t in glob.glob("/proc/%d/task/*" % pid):
        try:
            comm = open(t + "/comm").read().strip()
            ns = int(open(t + "/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        groups["vcpus" if comm.startswith("CPU ") else "other"] += ns
    return groups


def parse_stats(lines):
    """bench_stats lines: "ctxt N", "intr N", "argo_irq N", "cpu_busy TICKS",
    "cpu_idle TICKS", "cpu_steal TICKS", "xen_cpu NAME S", "proc COMM TICKS"."""
    d = {}
    for line in lines:
        f = line.split()
        try:
            if len(f) == 2:
                d[f[0]] = float(f[1])
            elif len(f) == 3 and f[0] in ("xen_cpu", "proc"):
                d[f[0] + " " + f[1]] = float(f[2])
        except ValueError:
            pass
    return d


class CpuWatch:
    def __init__(self, procs):
        self.procs = {k: v for k, v in procs.items() if v}

    def sample(self):
        """CPU nanoseconds so far: QEMU's per thread group, the others whole."""
        s = {}
        for name, pid in self.procs.items():
            groups = thread_cpu(pid)
            if name.startswith("qemu"):
                for g, ns in groups.items():
                    s["%s/%s" % (name, g)] = ns
            else:
                s[name] = sum(groups.values())
        return s


# ---- The run ------------------------------------------------------------------------

def main():
    os.makedirs(os.path.join(RAW, "vm"), exist_ok=True)
    l0run = open(os.path.join(OUT, "l0-run")).read().strip()
    deploy = os.path.join(OUT, "deploy")
    try:
        l1_raw = wait_socket("l1", "org.argo.bench.raw", 120)
        dd_raw = wait_socket("dd", "org.argo.bench.raw", 120)
        l1 = Agent("L1 dom0", wait_socket("l1", "org.argo.bench.ctl", 120))
        dd = Agent("driver domain", wait_socket("dd", "org.argo.bench.ctl", 120))
    except (RuntimeError, OSError) as e:
        case("bench-connect", "FAIL", str(e))
        return 1
    try:
        dd.ready(600)
        l1.ready(900)
    except (TimeoutError, ConnectionError) as e:
        case("bench-ready", "FAIL", str(e))
        return 1
    problems = ["%s: %s" % (a.name, p) for a in (l1, dd) for p in a.problems]
    if problems:
        case("bench-ready", "FAIL", "; ".join(problems))
        return 1
    case("bench-ready", "PASS", "L1 dom0 (relay l1 linked, servers up, domU ready) and the "
         "driver domain (relay dd linked, servers up)")
    agents = {"domu": l1, "dom0": l1, "dd": dd}
    want = os.environ.get("BENCH_VM_PATHS", " ".join(PATHS)).split()
    paths = [p for p in PATHS if p in want]
    fmt = {"l1_raw": l1_raw, "dd_raw": dd_raw}

    procs = {"qemu-l1": qemu_pid("l1"), "qemu-dd": qemu_pid("dd")}
    for name, f in (("relay-l0", "argo-relayd.pid"), ("simd-l0", "argo-simd.pid")):
        try:
            procs[name] = int(open(os.path.join(deploy, "l0", f)).read())
        except (OSError, ValueError):
            procs[name] = None
    cpu = CpuWatch(procs)
    seq = [0]

    def bench(pid, sizes, count, warmup, with_err=False):
        """One argo-bench run on path PID: (error or None, its JSON, seconds
        [, its stderr lines])."""
        where, _, _, _, _, target = PATHS[pid]
        args = "latency %s --sizes %s --count %d --warmup %d --timeout %d --json --label %s" % (
            target.format(**fmt), sizes, count, warmup, TIMEOUT_MS, pid)
        seq[0] += 1
        t0 = time.time()
        if where == "host":
            r = subprocess.run([os.path.join(BUILD, "bin", "argo-bench")] + args.split(),
                               capture_output=True, text=True, timeout=3600)
            rc, out, err = r.returncode, r.stdout.splitlines(), r.stderr.splitlines()
        else:
            rc, out, err = agents[where].request("run %d %s %s" % (seq[0], where, args),
                                                 seq[0], 3600)
        secs = time.time() - t0
        why, doc = None, None
        if rc != 0:
            why = "rc=%d: %s" % (rc, " / ".join(l for l in err if not l.startswith("stat-"))[-300:]
                                 or "no output")
        else:
            try:
                doc = json.loads("\n".join(out))
            except ValueError as e:
                why = "its output is not JSON (%s): %s" % (e, (out or ["nothing"])[0][:120])
        return (why, doc, secs, err) if with_err else (why, doc, secs)

    def run(pid, turn):
        why, doc, secs = bench(pid, SIZES, PER, WARMUP)
        if why:
            return why
        d = os.path.join(RAW, "lat", pid)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "turn-%d.json" % turn), "w") as f:
            json.dump(doc, f)
        p50 = {r["size"]: r["p50"] / 1e3 for r in doc["results"]}
        note("turn %d %-14s %5.1f s  p50 %s" % (turn + 1, pid, secs, ", ".join(
            "%d B %.0f us" % (s, v) for s, v in sorted(p50.items()))))
        return None

    def stats(agent):
        """A VM's counters (bench-agent.sh's bench_stats): {key: value}."""
        seq[0] += 1
        rc, out, _ = agent.request("stats %d" % seq[0], seq[0], 120)
        return parse_stats(out if rc == 0 else [])

    def cost(pid):
        """Per 64 B round trip on path PID, from the difference of a run of
        COST_N and one of 3 * COST_N round trips (which cancels what a run
        costs around its round trips: starting argo-bench, the requests to
        the VMs): CPU of each host process (QEMU's vCPU threads and its
        others apart, relay l0, argo-simd) and of each L1 Xen domain; the
        context switches, interrupts and VIRQ_ARGO of the L1 dom0, the domU
        and the driver domain."""
        got = []
        for n in (COST_N, 3 * COST_N):
            s0 = {"dom0": stats(l1), "dd": stats(dd)}
            c0 = cpu.sample()
            why, doc, secs, err = bench(pid, "64", n, 0, with_err=True)
            c1 = cpu.sample()
            s1 = {"dom0": stats(l1), "dd": stats(dd)}
            if why:
                return why
            if PATHS[pid][0] == "domu":
                s0["domu"] = parse_stats(l[12:] for l in err if l.startswith("stat-before "))
                s1["domu"] = parse_stats(l[11:] for l in err if l.startswith("stat-after "))
            r = doc["results"][0]
            got.append((secs, r["mean"] * r["count"] / 1e9, c0, c1, s0, s1))
        (w1, m1, a0, a1, p0, p1), (w2, m2, b0, b1, q0, q1) = got
        rts = 2 * COST_N
        per = lambda x0, x1, y0, y1: ((y1 - y0) - (x1 - x0)) / rts
        entry = {
            "round_trips": rts, "size": 64,
            "round_trip_mean_ms": round((m2 - m1) * 1e3 / rts, 3),
            "wall_ms_per_round_trip": round((w2 - w1) * 1e3 / rts, 3),
            "host_cpu_ms_per_round_trip": {k: round(per(a0[k], a1[k], b0[k], b1[k]) / 1e6, 3)
                                           for k in sorted(a0) if k in b0},
            "l1_xen_domain_cpu_ms_per_round_trip": {},
            "counts_per_round_trip": {},
        }
        for k in sorted(p0["dom0"]):
            if k.startswith("xen_cpu ") and all(k in d["dom0"] for d in (p1, q0, q1)):
                entry["l1_xen_domain_cpu_ms_per_round_trip"][k[8:]] = round(1e3 * per(
                    p0["dom0"][k], p1["dom0"][k], q0["dom0"][k], q1["dom0"][k]), 2)
        entry["vm_cpu_ms_per_round_trip"] = {}
        entry["programs_cpu_ms_per_round_trip"] = {}
        tick_ms = 1e3 / 100  # USER_HZ
        for vm in ("dom0", "domu", "dd"):
            have = lambda k: all(k in d.get(vm, {}) for d in (p0, p1, q0, q1))
            val = lambda k: per(p0[vm].get(k, 0), p1[vm].get(k, 0), q0[vm].get(k, 0),
                                q1[vm].get(k, 0))
            for k in ("ctxt", "intr", "argo_irq"):
                if have(k):
                    entry["counts_per_round_trip"]["%s %s" % (vm, k)] = round(val(k), 2)
            for k in ("cpu_busy", "cpu_idle", "cpu_steal"):
                if have(k):
                    entry["vm_cpu_ms_per_round_trip"]["%s %s" % (vm, k[4:])] = round(
                        val(k) * tick_ms, 2)
            progs = {k for d in (p0, p1, q0, q1) for k in d.get(vm, {}) if k.startswith("proc ")}
            top = sorted(((val(k) * tick_ms, k[5:]) for k in progs), reverse=True)[:6]
            entry["programs_cpu_ms_per_round_trip"][vm] = {c: round(v, 2) for v, c in top
                                                           if v > 0}
        costs[pid] = entry
        note("cost %-14s round trip %.1f ms; host CPU ms: %s; L1 domains CPU ms: %s; counts: %s" % (
            pid, entry["round_trip_mean_ms"],
            ", ".join("%s %.1f" % kv for kv in entry["host_cpu_ms_per_round_trip"].items()),
            ", ".join("%s %.1f" % kv for kv in entry["l1_xen_domain_cpu_ms_per_round_trip"].items()),
            ", ".join("%s %.1f" % kv for kv in entry["counts_per_round_trip"].items())))
        note("     %-14s VMs' CPU ms: %s; programs: %s" % (pid, ", ".join(
            "%s %.1f" % kv for kv in entry["vm_cpu_ms_per_round_trip"].items()), "; ".join(
            "%s: %s" % (vm, ", ".join("%s %.1f" % kv for kv in progs.items()))
            for vm, progs in entry["programs_cpu_ms_per_round_trip"].items())))
        return None

    started = time.time()
    note("%d turns of %d round trips per size (%s) on %d paths" % (TURNS, PER, SIZES, len(paths)))
    failed = {}
    for t in range(TURNS):
        for k in range(len(paths)):
            pid = paths[(t + k) % len(paths)]
            if pid in failed:
                continue
            why = run(pid, t)
            if why:
                note("turn %d %s failed: %s; once more" % (t + 1, pid, why))
                why = run(pid, t)
            if why:
                failed[pid] = "turn %d: %s" % (t + 1, why)
    costs = {}
    if COST_N > 0:
        note("costs: CPU per 64 B round trip, runs of %d and %d round trips" % (COST_N, 3 * COST_N))
        for pid in paths:
            if pid not in failed:
                why = cost(pid)
                if why:
                    note("cost of %s not measured: %s" % (pid, why))
    json.dump(costs, open(os.path.join(RAW, "vm", "cost.json"), "w"), indent=1)
    for pid in paths:
        if pid in failed:
            case("bench-%s" % pid, "FAIL", failed[pid])
        else:
            case("bench-%s" % pid, "PASS", "%d turns of %d round trips at %s, every reply checked"
                 % (TURNS, PER, SIZES))

    # The relays' view at the end: their links' round trips, their counters.
    for name, agent in (("l1", l1), ("dd", dd)):
        seq[0] += 1
        rc, out, _ = agent.request("status %d" % seq[0], seq[0], 120)
        if rc == 0:
            open(os.path.join(RAW, "vm", "relay-%s.json" % name), "w").write("\n".join(out) + "\n")
    r = subprocess.run([os.path.join(BUILD, "bin", "argo-relayctl"), "-s",
                        os.path.join(l0run, "l0.ctl"), "status", "--json"],
                       capture_output=True, text=True)
    if r.returncode == 0:
        open(os.path.join(RAW, "vm", "relay-l0.json"), "w").write(r.stdout)
    for agent in (l1, dd):
        agent.send("quit")

    # The files bench-report.py reads.
    with open(os.path.join(RAW, "paths.tsv"), "w") as f:
        for pid in paths:
            if pid not in failed:
                _, kind, hops, transport, label, _ = PATHS[pid]
                f.write("%s\t%s\t%d\t%s\t%s\n" % (pid, kind, hops, transport, label))
    size = {}
    for vm in ("l1", "dd"):
        try:
            size[vm] = open(os.path.join(OUT, "vm", vm, "size")).read().split()
        except OSError:
            size[vm] = ["", "", ""]
    xen_cmdline = open(os.path.join(OUT, "vm", "l1", "cmdline")).read().strip()
    meta = {
        "vm_turns": TURNS, "vm_round_trips_per_turn": PER, "vm_latency_sizes": SIZES,
        "vm_cost_round_trips": COST_N,
        "vm_seconds": int(time.time() - started),
        "vm_accel": os.environ.get("E2E_ACCEL", ""), "vm_backend": os.environ.get("E2E_BACKEND", ""),
        "vm_qemu": subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                  text=True).stdout.splitlines()[0],
        "vm_l1_mem_mib": size["l1"][0], "vm_l1_vcpus": size["l1"][1], "vm_l1_cpu": size["l1"][2],
        "vm_l1_xen_cmdline": xen_cmdline,
        "vm_dd_mem_mib": size["dd"][0], "vm_dd_vcpus": size["dd"][1], "vm_dd_cpu": size["dd"][2],
        "vm_failed": "; ".join("%s %s" % kv for kv in failed.items()),
    }
    for a in (l1, dd):
        for k, v in a.facts.items():
            meta["vm_" + k] = v
    with open(os.path.join(RAW, "meta"), "w") as f:
        for k, v in meta.items():
            f.write("%s=%s\n" % (k, str(v).replace("\n", " ")))
    summary(paths, failed)
    return 0 if all(p not in failed for p in ESSENTIAL) else 1


def summary(paths, failed):
    """p50 per size (median of the turns' p50s) and the headline's ratio."""
    p50 = {}
    for pid in paths:
        if pid in failed:
            continue
        per = {}
        for f in glob.glob(os.path.join(RAW, "lat", pid, "turn-*.json")):
            t = int(f.rsplit("-", 1)[1].split(".")[0])
            for r in json.load(open(f))["results"]:
                per.setdefault(r["size"], {})[t] = r["p50"] / 1e3
        p50[pid] = per
    sizes = sorted({s for v in p50.values() for s in v})
    note("round trip p50, median of %d turns (us):" % TURNS)
    note("  %-14s" % "path" + "".join("%11d" % s for s in sizes))
    for pid in p50:
        note("  %-14s" % pid + "".join("%11.0f" % statistics.median(p50[pid][s].values())
                                       if s in p50[pid] else "%11s" % "-" for s in sizes))
    if all(p in p50 for p in ESSENTIAL):
        for s in sizes:
            h, x, v = (p50[p].get(s, {}) for p in ("vm-headline", "vm-xen", "vm-serial-l1"))
            turns = [t for t in h if t in x and t in v]
            if turns:
                r = statistics.median(h[t] / (x[t] + v[t]) for t in turns)
                note("  headline / (intra-Xen + raw virtio-serial), %d B: %.2f (target <= 1.5)"
                     % (s, r))


if __name__ == "__main__":
    sys.exit(main())
