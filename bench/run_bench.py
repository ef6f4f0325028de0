#!/usr/bin/python3
"""Runs framecast and its peers through the benchmark scenarios in one go
and prints the figures side by side (called by bench/run_all.sh).

For each scenario and server: start the server pinned to core 0 on a
kernel-chosen port, wait (with a deadline) for its "listening on" line, run
framecast-bench pinned to core 1 against it, stop the server. The peers get
the message size framecast actually sent in the same scenario.

Scenarios (SCENARIOS="S1 S2 S3 MC", default all):
  S1       1000 clients, ~300 B, each server as fast as it goes (framecast
           fps=max; peers publish in a loop that yields once per message)
  S1-rate  framecast at fixed rates of k x the message rate python's
           broadcast() reached in S1 (k = 1.5, 3, 5, 8; stops at the first rate
           not sustained): the deliveries/s framecast sustains with every
           client getting every message. Part of S1.
  S2       1000 clients, ~300 B, 30 msgs/s
  S3       200 clients of which 5 stalled, 20 KB, 100 msgs/s, 20 s; each
           server also runs S3-base (no stalled client) right after, the
           reference for the p99 target
  MC       framecast --io-threads 1 vs 2, server allowed cores 0 and 1 (the
           bench stays on core 1), at 5x and 8x python broadcast()'s S1 message
           rate (fps=max is left out: S1 shows what it does)

Every run also records how much CPU other processes on the machine took
while it ran ("others%", in % of one core): the machine is shared.

Stdlib only; run with /usr/bin/python3.
"""

import argparse
import json
import math
import os
import re
import selectors
import signal
import statistics
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PY = "/usr/bin/python3"
SERVER_CORES = "0"
BENCH_CORES = "1"
REF = "py_broadcast"  # ratios are against python-websockets' broadcast()
PEERS = ["py_broadcast", "py_wait", "node_ws"]
CONNECT_TIMEOUT = 20

QUICK = os.environ.get("BENCH_QUICK") == "1"  # short runs, for checking the harness


def dur(s):
    return max(3, s // 4) if QUICK else s


# fc_count: framecast's fake:count= for about `size` bytes on a 64x64 source
# (2 -> ~300 B, 400 -> ~20 KB); the size framecast really sends is measured
# and given to the peers.
SMALL = dict(size=312, fc_count=2)  # size: the fallback when it cannot be measured
BIG = dict(size=20000, fc_count=400)
SCENARIOS = {
    "S1": dict(SMALL, title="S1: 1000 clients, ~300 B, as fast as possible", clients=1000,
               stalled=0, rate=0, duration=dur(8), warmup=2),
    "S1-rate": dict(SMALL, title="S1-rate: framecast at fixed rates (k x python broadcast()'s "
                    "S1 message rate), 1000 clients", clients=1000, stalled=0, rate=None,
                    duration=dur(5), warmup=2),
    "S2": dict(SMALL, title="S2: 1000 clients x 30 msgs/s, ~300 B", clients=1000, stalled=0,
               rate=30, duration=dur(8), warmup=2),
    "S3": dict(BIG, title="S3: 200 clients (5 stalled), 100 msgs/s, 20 KB", clients=200,
               stalled=5, rate=100, duration=dur(20), warmup=2),
    "S3-base": dict(BIG, title="S3-base: as S3 without stalled clients", clients=200, stalled=0,
                    rate=100, duration=dur(20), warmup=2),
    "MC": dict(SMALL, title="MC: framecast --io-threads 1 vs 2, 1000 clients, server on cores 0,1 "
               "(bench on core 1)", clients=1000, stalled=0, rate=None, duration=dur(5), warmup=2),
}
SWEEP = [1.5, 3, 5, 8]
MC_RATE_K = (5, 8)  # MC's fixed rates, in multiples of python broadcast()'s S1 message rate
FALLBACK_REF_RATE = 60  # msgs/s, when S1 has no python broadcast() figure
FC_MAX_FPS = 1000  # the synthetic source's highest fixed rate
# S3 and S3-base alternate this many times for framecast: its p99 target
# compares two latencies of a few ms, which one run on a shared machine cannot.
S3_PAIRS = int(os.environ.get("BENCH_S3_PAIRS", "1" if QUICK else "3"))


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def cpu_busy_ticks():
    """Busy clock ticks of the whole machine (all cores) from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - v[4]  # minus idle and iowait


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads
    except (OSError, IndexError, ValueError):
        return None


TCK = os.sysconf("SC_CLK_TCK")


class Runner:
    def __init__(self, build, outdir, budget_s):
        self.framecast = os.path.join(build, "framecast")
        self.client = os.path.join(build, "framecast-client")
        self.bench = os.path.join(build, "framecast-bench")
        self.outdir = outdir
        self.deadline = time.monotonic() + budget_s
        self.pidfile = os.path.join(outdir, "pids")
        self.live = []
        self.quiet_budget = float(os.environ.get("BENCH_QUIET_WAIT_S", "30"))

    # ---- children -------------------------------------------------------

    # The pid file lists the children not yet reaped, for run_all.sh's trap
    # in case this runner is killed before it can stop them itself.
    def track(self, p):
        self.live.append(p)
        self.write_pids()

    def untrack(self, p):
        if p in self.live:
            self.live.remove(p)
        self.write_pids()

    def write_pids(self):
        with open(self.pidfile + ".tmp", "w") as f:
            f.write("".join(f"{p.pid}\n" for p in self.live))
        os.replace(self.pidfile + ".tmp", self.pidfile)

    def kill_all(self):
        for p in list(self.live):
            if p.returncode is None and p.poll() is None:
                p.kill()
                p.wait()
            self.untrack(p)

    # ---- servers --------------------------------------------------------

    def server_cmd(self, name, sc, rate, io_threads=1):
        if name.startswith("framecast"):
            fps = "max" if rate == 0 else ("%g" % rate)
            # As fast as possible, the stream starts once every client is
            # subscribed (wait=N): otherwise the clients already connected take
            # all of the load generator's time and the rest cannot connect.
            wait = f",wait={sc['clients']}" if rate == 0 else ""
            return [self.framecast, "--listen", "127.0.0.1:0", "--io-threads", str(io_threads),
                    "--source", f"synthetic:size=64x64,fps={fps}{wait}",
                    "--predictor", f"fake:count={sc['fc_count']}"]
        script = os.path.join(HERE, "peers", {"py_broadcast": "py_broadcast.py",
                                              "py_wait": "py_wait.py",
                                              "node_ws": "node_ws.mjs"}[name])
        interp = ["node"] if script.endswith(".mjs") else [PY]
        return interp + [script, "--port", "0", "--rate", "%g" % rate,
                         "--size", str(sc["msg_size"])]

    def start_server(self, tag, cmd, cores):
        err = open(os.path.join(self.outdir, f"{tag}.server.err"), "w")
        # taskset execs the server, so the pid is the server's own.
        p = subprocess.Popen(["taskset", "-c", cores] + cmd, stdout=subprocess.PIPE, stderr=err,
                             text=True, start_new_session=True, cwd=ROOT)
        err.close()
        self.track(p)
        # Read the "listening on" line with a deadline.
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        port, buf = None, ""
        while port is None and time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                break
            line = p.stdout.readline()
            if not line:
                break
            buf += line
            m = re.search(r"listening on http://[^ ]*:(\d+)/", line)
            if m:
                port = int(m.group(1))
        sel.close()
        if port is None:
            self.stop_server(p)
            with open(os.path.join(self.outdir, f"{tag}.server.err")) as f:
                tail = f.read().strip()[-200:]
            raise RuntimeError(f"no 'listening on' line within 15 s (stdout {buf.strip()!r}, "
                               f"stderr {tail!r})")
        # Keep draining stdout so the server never blocks on a full pipe.
        out = open(os.path.join(self.outdir, f"{tag}.server.out"), "w")
        out.write(buf)

        def drain():
            for line in p.stdout:
                out.write(line)
            out.close()

        p._drain = threading.Thread(target=drain, daemon=True)
        p._drain.start()
        return p, port

    def stop_server(self, p, grace=10):
        """SIGTERM, then SIGKILL after grace seconds; returns a note or ''."""
        note = ""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                note = f"server did not exit within {grace}s of SIGTERM (killed)"
        else:
            note = f"server had exited (status {p.returncode}) before the end of the run"
        if not note and p.returncode not in (0, -signal.SIGTERM):
            note = f"server exit status {p.returncode} after SIGTERM"
        if getattr(p, "_drain", None):
            p._drain.join(timeout=5)
        self.untrack(p)
        return note

    def message_size(self, port):
        """Mean size of a few results as framecast-client prints them."""
        try:
            out = subprocess.run([self.client, "--count", "6", "--timeout", "5",
                                  f"ws://127.0.0.1:{port}/ws/demo"], capture_output=True,
                                 text=True, timeout=10).stdout
            # Only results: framecast also sends a short status message on connect.
            sizes = [len(x.encode()) for x in out.splitlines() if '"type":"result"' in x]
            return round(statistics.mean(sizes)) if sizes else None
        except (subprocess.TimeoutExpired, OSError):
            return None

    def background(self):
        """CPU other processes use now (% of one core, over 1 s); waits a
        little (bounded) for a quieter moment if the machine is busy."""
        waited = 0.0
        while True:
            t0, b0 = time.monotonic(), cpu_busy_ticks()
            time.sleep(1.0)
            pct = (cpu_busy_ticks() - b0) / TCK / (time.monotonic() - t0) * 100
            if pct < 30 or waited >= 5 or self.quiet_budget <= 0:
                return pct
            waited += 1
            self.quiet_budget -= 1

    # ---- one measurement ------------------------------------------------

    def run_bench(self, tag, port, server_pid, sc):
        cmd = ["taskset", "-c", BENCH_CORES, self.bench,
               "--url", f"ws://127.0.0.1:{port}/ws/demo", "--clients", str(sc["clients"]),
               "--stalled", str(sc["stalled"]), "--duration", str(sc["duration"]),
               "--warmup", str(sc["warmup"]), "--server-pid", str(server_pid), "--json",
               "--connect-timeout", str(CONNECT_TIMEOUT)]
        limit = sc["duration"] + sc["warmup"] + CONNECT_TIMEOUT + 30
        outp = os.path.join(self.outdir, f"{tag}.bench.out")
        errp = os.path.join(self.outdir, f"{tag}.bench.err")
        log("  " + " ".join(rel(c) for c in cmd))
        t0, busy0, srv0 = time.monotonic(), cpu_busy_ticks(), proc_ticks(server_pid)
        with open(outp, "w") as out, open(errp, "w") as err:
            b = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        self.track(b)
        # wait4 rather than wait: its rusage is the bench's own CPU time.
        rc, ru, timed_out = None, None, False
        while rc is None:
            pid, status, ru = os.wait4(b.pid, os.WNOHANG)
            if pid == b.pid:
                rc = os.waitstatus_to_exitcode(status)
                b.returncode = rc
                break
            if time.monotonic() - t0 > limit:
                b.kill()
                _, status, ru = os.wait4(b.pid, 0)
                rc = b.returncode = os.waitstatus_to_exitcode(status)
                timed_out = True
                break
            time.sleep(0.05)
        self.untrack(b)
        elapsed = time.monotonic() - t0
        busy = (cpu_busy_ticks() - busy0) / TCK
        srv1 = proc_ticks(server_pid)
        srv = (srv1 - srv0) / TCK if srv0 is not None and srv1 is not None else 0.0
        bench = ru.ru_utime + ru.ru_stime if ru else 0.0
        others = max(0.0, busy - srv - bench) / elapsed * 100
        if timed_out:
            return None, f"framecast-bench did not finish within {limit}s (killed)", cmd, others
        lines = open(outp).read().strip().splitlines()
        res = None
        if lines:
            try:
                res = json.loads(lines[-1])
            except ValueError:
                res = None
        if res is None:
            tail = (open(errp).read().strip() + " " + open(outp).read().strip())[-300:]
            return None, f"framecast-bench exit {rc}, no JSON: {tail!r}", cmd, others
        note = ""
        if rc != 0:
            tail = open(errp).read().strip()[-200:]
            note = f"framecast-bench exit {rc}" + (f": {tail}" if tail else "")
        return res, note, cmd, others

    def measure(self, scn, name, sc, rate, cores=SERVER_CORES, io_threads=1, label=None):
        label = label or name
        tag = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{scn}.{label}")
        entry = {"scenario": scn, "server": label, "rate": rate, "server_cores": cores,
                 "bench_cores": BENCH_CORES, "result": None, "notes": []}
        if time.monotonic() > self.deadline:
            entry["notes"].append("skipped: time budget (BENCH_BUDGET_S) used up")
            return entry
        entry["background_pct"] = self.background()
        cmd = self.server_cmd(name, sc, rate, io_threads)
        entry["server_cmd"] = f"taskset -c {cores} " + " ".join(rel(c) for c in cmd)
        log(f"{scn} {label}: {entry['server_cmd']}")
        try:
            p, port = self.start_server(tag, cmd, cores)
        except (RuntimeError, OSError) as e:
            entry["notes"].append(f"server did not start: {e}")
            return entry
        res = None
        try:
            if name == "framecast" and "msg_size" not in sc:
                size = self.message_size(port)
                sc["msg_size"] = size or sc["size"]
            res, note, bcmd, others = self.run_bench(tag, port, p.pid, sc)
            entry["bench_cmd"] = " ".join(rel(c) for c in bcmd)
            entry["others_pct"] = others
            entry["result"] = res
            if note:
                entry["notes"].append(note)
            if p.poll() is not None:
                entry["notes"].append(f"server died during the run (status {p.returncode})")
        finally:
            note = self.stop_server(p)
            if note:
                entry["notes"].append(note)
        entry["msg_size"] = sc.get("msg_size")
        if res is not None:
            if res.get("connected", 0) < sc["clients"]:
                entry["notes"].append(f"only {res.get('connected')} of {sc['clients']} clients "
                                      f"connected within {CONNECT_TIMEOUT} s")
            elif not res.get("deliveries"):
                entry["notes"].append("delivered nothing")
        log(f"  -> {summary(res)} {'; '.join(entry['notes'])}")
        return entry


def rel(c):
    return os.path.relpath(c, ROOT) if c.startswith(ROOT + "/") else c


# ---- judging --------------------------------------------------------------


def got_every_message(r, sc, rate):
    """The non-stalled clients saw every message of the window, in order
    (closed_by_server also counts stalled clients, so it is not used: a fast
    client the server closed has fewer messages than the window had)."""
    if not r or not rate:
        return False
    expected = rate * r.get("duration_s", sc["duration"])
    return (r.get("gaps") == 0 and r.get("reorders", 0) == 0 and
            (r.get("min_msgs") or 0) >= 0.97 * expected)


# ---- presentation ---------------------------------------------------------


def summary(r):
    if not r:
        return "no result"
    return (f"{r.get('deliveries_per_s') or 0:.0f} deliv/s, p99 {fmt_us(r.get('p99_us'))}, "
            f"cpu {fmt_num(r.get('server_cpu_us_per_delivery'), '{:.2f}')} us/deliv")


def fmt_us(v):
    if v is None:
        return "-"
    if v >= 100000:
        return f"{v / 1e6:.2f}s"
    if v >= 1000:
        return f"{v / 1000:.1f}ms"
    return f"{v:.0f}us"


def fmt_num(v, spec="{:.0f}"):
    return "-" if v is None else spec.format(v)


def ratio(a, b):
    try:
        return a / b if a is not None and b else None
    except TypeError:
        return None


def table(rows, header):
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


HEADER = ["server", "msgs/s", "conn", "deliv/s", "cpu us/deliv", "p50", "p99", "p99.9", "max",
          "gaps", "msgs min..max", "closed", "RSS peak MiB", "bench CPU%", "bench lag",
          "others%", "x deliv/s", "x cpu", "x p99"]


def scenario_rows(entries, ref):
    rows, notes = [], []
    for e in entries:
        r = e["result"] or {}
        rss = r.get("server_rss_peak_kb")
        lag = r.get("bench_loop_lag_max_ms")
        rows.append([
            e["server"], "max" if e["rate"] == 0 else fmt_num(e["rate"]),
            fmt_num(r.get("connected")), fmt_num(r.get("deliveries_per_s")),
            fmt_num(r.get("server_cpu_us_per_delivery"), "{:.2f}"), fmt_us(r.get("p50_us")),
            fmt_us(r.get("p99_us")), fmt_us(r.get("p999_us")), fmt_us(r.get("max_us")),
            fmt_num(r.get("gaps")), f"{fmt_num(r.get('min_msgs'))}..{fmt_num(r.get('max_msgs'))}",
            fmt_num(r.get("closed_by_server")), fmt_num(rss / 1024 if rss else None, "{:.1f}"),
            fmt_num(r.get("bench_cpu_pct")), fmt_us(lag * 1000 if lag is not None else None),
            fmt_num(e.get("others_pct")),
            fmt_num(ratio(r.get("deliveries_per_s"), (ref or {}).get("deliveries_per_s")), "{:.2f}"),
            fmt_num(ratio(r.get("server_cpu_us_per_delivery"),
                          (ref or {}).get("server_cpu_us_per_delivery")), "{:.2f}"),
            fmt_num(ratio(r.get("p99_us"), (ref or {}).get("p99_us")), "{:.2f}"),
        ])
        for n in e["notes"]:
            notes.append(f"  {e['server']}: {n}")
    return table(rows, HEADER) + ("\n" + "\n".join(notes) if notes else "")


def verdict(ok):
    return "n/a" if ok is None else ("MET" if ok else "NOT MET")


def targets(results):
    """Lines saying whether each target of the issue is met."""
    by = {(e["scenario"], e["server"]): e for e in results}
    res = {k: e["result"] for k, e in by.items()}
    out = []

    fc, py = res.get(("S2", "framecast")), res.get(("S2", REF))
    if ("S2", "framecast") in by:
        c = ratio((fc or {}).get("server_cpu_us_per_delivery"),
                  (py or {}).get("server_cpu_us_per_delivery"))
        l = ratio((fc or {}).get("p99_us"), (py or {}).get("p99_us"))
        out.append(f"S2 CPU per delivery, framecast / python broadcast() = {fmt_num(c, '{:.2f}')} "
                   f"(target <= 0.5): {verdict(None if c is None else c <= 0.5)}")
        out.append(f"S2 p99, framecast / python broadcast() = {fmt_num(l, '{:.2f}')} "
                   f"(target <= 0.6): {verdict(None if l is None else l <= 0.6)}")

    if ("S1", "framecast") in by:
        fc, py = res.get(("S1", "framecast")), res.get(("S1", REF))
        d = ratio((fc or {}).get("deliveries_per_s"), (py or {}).get("deliveries_per_s"))
        out.append(f"S1 deliveries/s as fast as possible (framecast fps=max), framecast / python "
                   f"broadcast() = {fmt_num(d, '{:.2f}')} (target >= 1.5): "
                   f"{verdict(None if d is None else d >= 1.5)}")
        sus = [e for e in results if e["scenario"] == "S1-rate" and
               got_every_message(e["result"], SCENARIOS["S1-rate"], e["rate"])]
        if sus:
            best = max(sus, key=lambda e: e["result"]["deliveries_per_s"])
            d2 = ratio(best["result"]["deliveries_per_s"], (py or {}).get("deliveries_per_s"))
            bc = best["result"].get("bench_cpu_pct")
            out.append(f"S1 deliveries/s framecast sustains with every client getting every "
                       f"message (S1-rate, {fmt_num(best['rate'])} msgs/s) / python broadcast() "
                       f"= {fmt_num(d2, '{:.2f}')} (target >= 1.5): "
                       f"{verdict(None if d2 is None else d2 >= 1.5)}; load generator at "
                       f"{fmt_num(bc)}% of its core"
                       + (" (the load generator limits this figure)" if (bc or 0) >= 85 else ""))
        elif any(e["scenario"] == "S1-rate" for e in results):
            out.append("S1-rate: framecast sustained none of the fixed rates")
        for name in ["framecast"] + PEERS:
            r = res.get(("S1", name))
            if r and r.get("bench_cpu_pct") is not None:
                b = r["bench_cpu_pct"]
                lag = r.get("bench_loop_lag_max_ms")
                out.append(f"  S1 {name}: load generator used {b:.0f}% of its core"
                           + (f", loop lag max {lag:.0f} ms" if lag is not None else "") + " -> "
                           + ("the LOAD GENERATOR is (near) the bottleneck" if b >= 85 else
                              "not the load generator (it had CPU to spare)"))

    for name in ["framecast"] + PEERS:
        labels = [e["server"] for e in results if e["scenario"] == "S3" and
                  (e["server"] == name or e["server"].startswith(name + " #"))]
        if not labels:
            continue
        every = all(got_every_message(res.get(("S3", l)), SCENARIOS["S3"], SCENARIOS["S3"]["rate"])
                    for l in labels)
        ratios = [ratio((res.get(("S3", l)) or {}).get("p99_us"),
                        (res.get(("S3-base", l)) or {}).get("p99_us")) for l in labels]
        ratios = [x for x in ratios if x is not None]
        l = statistics.median(ratios) if ratios else None
        rsss = [(res.get(("S3", x)) or {}).get("server_rss_peak_kb") for x in labels]
        rss = max((x for x in rsss if x is not None), default=None)
        pairs = (f"median of {len(ratios)} pairs ({', '.join('%.2f' % x for x in ratios)})"
                 if len(ratios) > 1 else "one pair")
        line = (f"S3 {name}: fast clients got every message: {'yes' if every else 'NO'}; "
                f"p99 with/without stalled = {fmt_num(l, '{:.2f}')}, {pairs} (<= 1.2: "
                f"{verdict(None if l is None else l <= 1.2)}); RSS peak "
                f"{fmt_num(rss / 1024 if rss else None, '{:.1f}')} MiB (< 64: "
                f"{verdict(None if rss is None else rss < 64 * 1024)})")
        if name == "framecast":
            ok = every and l is not None and l <= 1.2 and rss is not None and rss < 64 * 1024
            line += f" -> S3 targets: {verdict(ok)}"
        out.append(line)

    mc = [e for e in results if e["scenario"] == "MC"]
    for rate in sorted({e["rate"] for e in mc}, key=lambda x: (x == 0, x)):
        one = next((e["result"] for e in mc if e["rate"] == rate and e["server"].endswith("io1")), None)
        two = next((e["result"] for e in mc if e["rate"] == rate and e["server"].endswith("io2")), None)
        d = ratio((two or {}).get("deliveries_per_s"), (one or {}).get("deliveries_per_s"))
        c = ratio((two or {}).get("server_cpu_us_per_delivery"),
                  (one or {}).get("server_cpu_us_per_delivery"))
        out.append(f"MC at {'fps=max' if rate == 0 else fmt_num(rate) + ' msgs/s'}: --io-threads "
                   f"2 / 1: deliveries/s x{fmt_num(d, '{:.2f}')}, CPU per delivery "
                   f"x{fmt_num(c, '{:.2f}')}, p99 {fmt_us((one or {}).get('p99_us'))} -> "
                   f"{fmt_us((two or {}).get('p99_us'))}, bench CPU "
                   f"{fmt_num((one or {}).get('bench_cpu_pct'))}% -> "
                   f"{fmt_num((two or {}).get('bench_cpu_pct'))}%")
    return out


def report(results, started, order):
    text = [f"framecast benchmarks, {started}; nproc {os.cpu_count()}; servers on core "
            f"{SERVER_CORES} (MC: 0,1), framecast-bench on core {BENCH_CORES}"
            + ("; BENCH_QUICK=1: short runs" if QUICK else "")]
    for scn in order:
        entries = [e for e in results if e["scenario"] == scn]
        if not entries:
            continue
        sc = SCENARIOS[scn]
        ref_scn = "S1" if scn == "S1-rate" else scn
        ref = next((e["result"] for e in results if e["scenario"] == ref_scn and
                    e["server"] == REF and e["result"]), None)
        text.append("")
        size = next((e.get("msg_size") for e in entries if e.get("msg_size")), sc["size"])
        text.append(f"{sc['title']} (window {sc['duration']} s after {sc['warmup']} s warm-up, "
                    f"message ~{size} B)")
        text.append(scenario_rows(entries, ref))
    text += ["",
             "x ...: ratio to python-websockets broadcast() in the same scenario (S1-rate: to "
             "its S1 figure).",
             "others%: CPU other processes on the machine used during the run, % of one core.",
             "bench lag: the load generator's longest event-loop stall (CPU starvation inflates "
             "latencies).",
             "", "Targets:"]
    text += ["  " + t for t in targets(results)]
    return "\n".join(text)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    chosen = os.environ.get("SCENARIOS", "S1 S2 S3 MC").split()
    for s in chosen:
        if s not in ("S1", "S2", "S3", "MC"):
            sys.exit(f"SCENARIOS: '{s}' is not valid (expected some of S1 S2 S3 MC)")
    os.makedirs(a.out, exist_ok=True)
    runner = Runner(a.build, a.out, float(os.environ.get("BENCH_BUDGET_S", "540")))
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results = []
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    def ref_msg_rate():
        r = next((e["result"] for e in results if e["scenario"] == "S1" and
                  e["server"] == REF and e["result"]), None)
        if r and r.get("deliveries_per_s") and r.get("connected"):
            return r["deliveries_per_s"] / (r["connected"] - r.get("stalled", 0))
        return FALLBACK_REF_RATE

    try:
        for scn in ["S1", "S2", "S3", "MC"]:
            if scn not in chosen:
                continue
            if scn in ("S1", "S2"):
                sc = dict(SCENARIOS[scn])
                for name in ["framecast"] + PEERS:
                    results.append(runner.measure(scn, name, sc, sc["rate"]))
                    sc.setdefault("msg_size", sc["size"])  # framecast did not start
                if scn == "S1":
                    sc2 = dict(SCENARIOS["S1-rate"], msg_size=sc["msg_size"])
                    base = ref_msg_rate()
                    done = set()
                    for k in SWEEP:
                        rate = min(math.ceil(k * base), FC_MAX_FPS)
                        if rate in done:
                            break
                        done.add(rate)
                        e = runner.measure("S1-rate", "framecast", sc2, rate,
                                           label=f"framecast {k:g}x")
                        results.append(e)
                        if not got_every_message(e["result"], sc2, rate):
                            break
            elif scn == "S3":
                sc, scb = dict(SCENARIOS["S3"]), dict(SCENARIOS["S3-base"])
                for name in ["framecast"] + PEERS:
                    for i in range(S3_PAIRS if name == "framecast" else 1):
                        label = name + (f" #{i + 1}" if i else "")
                        results.append(runner.measure("S3", name, sc, sc["rate"], label=label))
                        sc.setdefault("msg_size", sc["size"])
                        scb["msg_size"] = sc["msg_size"]
                        results.append(runner.measure("S3-base", name, scb, scb["rate"],
                                                      label=label))
            else:
                sc = dict(SCENARIOS["MC"])
                for rate in sorted({min(math.ceil(k * ref_msg_rate()), FC_MAX_FPS)
                                    for k in MC_RATE_K}):
                    for io in (1, 2):
                        results.append(runner.measure("MC", "framecast", sc, rate, cores="0,1",
                                                      io_threads=io,
                                                      label=f"framecast io{io}"))
    except KeyboardInterrupt:
        log(f"interrupted ({'SIGTERM' if stop['sig'] else 'SIGINT'}); stopping servers")
    finally:
        runner.kill_all()

    text = report(results, started, ["S1", "S1-rate", "S2", "S3", "S3-base", "MC"])
    print(text, flush=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"started": started, "quick": QUICK, "nproc": os.cpu_count(),
                   "results": results, "scenarios": SCENARIOS}, f, indent=1)
    with open(os.path.join(a.out, "report.txt"), "w") as f:
        f.write(text + "\n")
    log(f"raw results and logs in {a.out}")
    return 130 if stop["sig"] else 0


if __name__ == "__main__":
    sys.exit(main())
