#!/usr/bin/python3
"""Runs framecast and its peers through the benchmark scenarios in one go
and prints the figures side by side (called by bench/run_all.sh).

For each scenario and server: start the server pinned to core 0 on a
kernel-chosen port, wait (with a deadline) for its "listening on" line, run
framecast-bench pinned to core 1 against it, stop the server. The peers get
the message size framecast actually sent in the same scenario.

Scenarios (SCENARIOS="S1 S2 S3 MC", default all):
  S1  1000 clients, ~300 B messages, as fast as each server goes
  S2  1000 clients, ~300 B messages, 30 msgs/s
  S3  200 clients of which 5 stalled, 20 KB messages, 100 msgs/s, 20 s;
      and the same without stalled clients (S3-base), the reference for p99
  MC  framecast --io-threads 1 vs 2, S1 load, server allowed both cores

Stdlib only; run with /usr/bin/python3.
"""

import argparse
import json
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
REF = "py_broadcast"  # the ratios are against python-websockets' broadcast()

QUICK = os.environ.get("BENCH_QUICK") == "1"  # short runs, for checking the harness


def dur(s):
    return max(3, s // 4) if QUICK else s


# fc_count: framecast's fake:count= giving about `size` bytes on a 64x64 source
# (2 -> ~298 B, 400 -> ~20 KB; measured, then passed on to the peers).
SCENARIOS = {
    "S1": dict(title="S1: 1000 clients, ~300 B, as fast as possible", clients=1000, stalled=0,
               rate=0, size=300, fc_count=2, duration=dur(10), warmup=2),
    "S2": dict(title="S2: 1000 clients x 30 msgs/s, ~300 B", clients=1000, stalled=0, rate=30,
               size=300, fc_count=2, duration=dur(10), warmup=2),
    "S3": dict(title="S3: 200 clients (5 stalled), 100 msgs/s, 20 KB", clients=200, stalled=5,
               rate=100, size=20000, fc_count=400, duration=dur(20), warmup=2),
    "S3-base": dict(title="S3-base: as S3 without stalled clients", clients=200, stalled=0,
                    rate=100, size=20000, fc_count=400, duration=dur(20), warmup=2),
    "MC": dict(title="MC: framecast --io-threads 1 vs 2 (S1 load, server on cores 0,1)",
               clients=1000, stalled=0, rate=0, size=300, fc_count=2, duration=dur(10), warmup=2),
}
PEERS = ["py_broadcast", "py_wait", "node_ws"]


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Runner:
    def __init__(self, build, outdir, budget_s):
        self.framecast = os.path.join(build, "framecast")
        self.client = os.path.join(build, "framecast-client")
        self.bench = os.path.join(build, "framecast-bench")
        self.outdir = outdir
        self.deadline = time.monotonic() + budget_s
        self.pidfile = os.path.join(outdir, "pids")
        self.live = []

    # ---- servers -------------------------------------------------------

    def server_cmd(self, name, sc, io_threads=1):
        if name.startswith("framecast"):
            fps = "max" if sc["rate"] == 0 else ("%g" % sc["rate"])
            return [self.framecast, "--listen", "127.0.0.1:0", "--io-threads", str(io_threads),
                    "--source", f"synthetic:size=64x64,fps={fps}",
                    "--predictor", f"fake:count={sc['fc_count']}"]
        script = os.path.join(HERE, "peers", {"py_broadcast": "py_broadcast.py",
                                              "py_wait": "py_wait.py",
                                              "node_ws": "node_ws.mjs"}[name])
        interp = ["node"] if script.endswith(".mjs") else [PY]
        return interp + [script, "--port", "0", "--rate", "%g" % sc["rate"],
                         "--size", str(sc["msg_size"])]

    def start_server(self, tag, cmd, cores):
        err = open(os.path.join(self.outdir, f"{tag}.server.err"), "w")
        # taskset execs the server, so the pid is the server's own.
        p = subprocess.Popen(["taskset", "-c", cores] + cmd, stdout=subprocess.PIPE, stderr=err,
                             text=True, start_new_session=True, cwd=ROOT)
        self.track(p)
        # Read the "listening on" line with a deadline (select on the pipe).
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + 15
        port = None
        buf = ""
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
            raise RuntimeError(f"server did not print 'listening on' within 15 s: {buf.strip()!r}")
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
        """SIGTERM, then SIGKILL after grace seconds; returns a note."""
        note = ""
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                note = f"did not exit within {grace}s of SIGTERM (killed)"
        else:
            note = f"server had exited ({p.returncode}) before the end of the run"
        if not note and p.returncode not in (0, -signal.SIGTERM):
            note = f"exit status {p.returncode} after SIGTERM"
        if getattr(p, "_drain", None):
            p._drain.join(timeout=5)
        self.untrack(p)
        return note

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
            if p.poll() is None:
                p.kill()
                p.wait()
            self.untrack(p)

    def message_size(self, port):
        """Mean size of a few results as framecast-client prints them."""
        try:
            out = subprocess.run([self.client, "--count", "5", "--timeout", "5",
                                  f"ws://127.0.0.1:{port}/ws/demo"], capture_output=True,
                                 text=True, timeout=10).stdout
            # Only results: framecast also sends a short status message on connect.
            lines = [len(x.encode()) for x in out.splitlines() if '"type":"result"' in x]
            return round(statistics.mean(lines)) if lines else None
        except (subprocess.TimeoutExpired, OSError):
            return None

    # ---- one measurement ------------------------------------------------

    def run_bench(self, tag, port, pid, sc):
        cmd = ["taskset", "-c", BENCH_CORES, self.bench,
               "--url", f"ws://127.0.0.1:{port}/ws/demo", "--clients", str(sc["clients"]),
               "--stalled", str(sc["stalled"]), "--duration", str(sc["duration"]),
               "--warmup", str(sc["warmup"]), "--server-pid", str(pid), "--json",
               "--connect-timeout", "30"]
        limit = sc["duration"] + sc["warmup"] + 30 + 30
        log("  " + " ".join(cmd))
        with open(os.path.join(self.outdir, f"{tag}.bench.out"), "w") as out, \
                open(os.path.join(self.outdir, f"{tag}.bench.err"), "w") as err:
            b = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
            self.track(b)
            try:
                rc = b.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                b.kill()
                b.wait()
                self.untrack(b)
                return None, f"framecast-bench did not finish within {limit}s (killed)", cmd
            self.untrack(b)
        lines = open(os.path.join(self.outdir, f"{tag}.bench.out")).read().strip().splitlines()
        res = None
        if lines:
            try:
                res = json.loads(lines[-1])
            except ValueError:
                res = None
        if res is None:
            tail = open(os.path.join(self.outdir, f"{tag}.bench.err")).read().strip()[-300:]
            return None, f"framecast-bench exit {rc}, no JSON: {tail!r}", cmd
        return res, ("" if rc == 0 else f"framecast-bench exit {rc}"), cmd

    def measure(self, scn, name, sc, cores=SERVER_CORES, io_threads=1):
        tag = f"{scn}.{name}"
        entry = {"scenario": scn, "server": name, "server_cores": cores, "bench_cores": BENCH_CORES,
                 "result": None, "notes": []}
        if time.monotonic() > self.deadline:
            entry["notes"].append("skipped: time budget used up")
            return entry
        cmd = self.server_cmd(name, sc, io_threads)
        entry["server_cmd"] = "taskset -c %s %s" % (cores, " ".join(os.path.relpath(c, ROOT)
                                                                    if c.startswith(ROOT) else c
                                                                    for c in cmd))
        log(f"{scn} {name}: {entry['server_cmd']}")
        try:
            p, port = self.start_server(tag, cmd, cores)
        except (RuntimeError, OSError) as e:
            entry["notes"].append(f"server did not start: {e}")
            return entry
        try:
            if name.startswith("framecast") and "msg_size" not in sc:
                size = self.message_size(port)
                sc["msg_size"] = size or sc["size"]
                entry["notes"].append(f"message size {sc['msg_size']} B")
            res, note, bcmd = self.run_bench(tag, port, p.pid, sc)
            entry["bench_cmd"] = " ".join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
                                          for c in bcmd)
            entry["result"] = res
            if note:
                entry["notes"].append(note)
            if p.poll() is not None:
                entry["notes"].append(f"server died during the run (status {p.returncode})")
        finally:
            note = self.stop_server(p)
            if note:
                entry["notes"].append(note)
        if res is not None:
            if res.get("connected", 0) < sc["clients"]:
                entry["notes"].append(f"only {res.get('connected')} of {sc['clients']} connected")
            if not res.get("deliveries"):
                entry["notes"].append("delivered nothing")
        log(f"  -> {summary(res)} {'; '.join(entry['notes'])}")
        return entry


# ---- presentation ------------------------------------------------------------


def summary(r):
    if not r:
        return "no result"
    return (f"{r.get('deliveries_per_s', 0):.0f} deliv/s, p99 {fmt_us(r.get('p99_us'))}, "
            f"cpu {r.get('server_cpu_us_per_delivery')} us/deliv")


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
    line = lambda r: "  ".join(str(c).rjust(w) if i else str(c).ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


HEADER = ["server", "conn", "deliv/s", "cpu us/deliv", "p50", "p99", "p99.9", "max", "gaps",
          "msgs min..max", "closed", "RSS peak MiB", "bench CPU%", "x deliv/s", "x cpu",
          "x p99"]


def scenario_rows(entries):
    ref = next((e["result"] for e in entries if e["server"] == REF and e["result"]), None)
    rows, notes = [], []
    for e in entries:
        r = e["result"] or {}
        rss = r.get("server_rss_peak_kb")
        rows.append([
            e["server"], fmt_num(r.get("connected")), fmt_num(r.get("deliveries_per_s")),
            fmt_num(r.get("server_cpu_us_per_delivery"), "{:.2f}"), fmt_us(r.get("p50_us")),
            fmt_us(r.get("p99_us")), fmt_us(r.get("p999_us")), fmt_us(r.get("max_us")),
            fmt_num(r.get("gaps")), f"{fmt_num(r.get('min_msgs'))}..{fmt_num(r.get('max_msgs'))}",
            fmt_num(r.get("closed_by_server")), fmt_num(rss / 1024 if rss else None, "{:.1f}"),
            fmt_num(r.get("bench_cpu_pct")),
            fmt_num(ratio(r.get("deliveries_per_s"), (ref or {}).get("deliveries_per_s")), "{:.2f}"),
            fmt_num(ratio(r.get("server_cpu_us_per_delivery"),
                          (ref or {}).get("server_cpu_us_per_delivery")), "{:.2f}"),
            fmt_num(ratio(r.get("p99_us"), (ref or {}).get("p99_us")), "{:.2f}"),
        ])
        for n in e["notes"]:
            notes.append(f"  {e['server']}: {n}")
    return table(rows, HEADER) + ("\n" + "\n".join(notes) if notes else "")


def got_every_message(r, sc):
    """The non-stalled clients saw every message of the window, in order."""
    if not r:
        return False
    expected = sc["rate"] * sc["duration"]
    # closed_by_server also counts stalled clients, so it is not checked here: a
    # fast client the server closed has fewer messages than the window had.
    return (r.get("gaps") == 0 and r.get("reorders", 0) == 0 and
            (r.get("min_msgs") or 0) >= 0.97 * expected)


def targets(results):
    """Lines saying whether each target of the issue is met."""
    by = {(e["scenario"], e["server"]): e["result"] for e in results}
    out = []

    def verdict(ok):
        return "n/a" if ok is None else ("MET" if ok else "NOT MET")

    fc, py = by.get(("S2", "framecast")), by.get(("S2", REF))
    if fc or py:
        c = ratio((fc or {}).get("server_cpu_us_per_delivery"),
                  (py or {}).get("server_cpu_us_per_delivery"))
        l = ratio((fc or {}).get("p99_us"), (py or {}).get("p99_us"))
        out.append(f"S2 CPU/delivery framecast/python broadcast() = {fmt_num(c, '{:.2f}')} "
                   f"(target <= 0.5): {verdict(None if c is None else c <= 0.5)}")
        out.append(f"S2 p99 framecast/python broadcast() = {fmt_num(l, '{:.2f}')} "
                   f"(target <= 0.6): {verdict(None if l is None else l <= 0.6)}")
    fc, py = by.get(("S1", "framecast")), by.get(("S1", REF))
    if fc or py:
        d = ratio((fc or {}).get("deliveries_per_s"), (py or {}).get("deliveries_per_s"))
        out.append(f"S1 deliveries/s framecast/python broadcast() = {fmt_num(d, '{:.2f}')} "
                   f"(target >= 1.5): {verdict(None if d is None else d >= 1.5)}")
        for name in ["framecast"] + PEERS:
            r = by.get(("S1", name))
            if r and r.get("bench_cpu_pct") is not None:
                b = r["bench_cpu_pct"]
                out.append(f"  S1 {name}: load generator at {b:.0f}% of its core -> "
                           + ("the LOAD GENERATOR is (near) the bottleneck" if b >= 90 else
                              "the server is the bottleneck"))
    if ("S3", "framecast") in by:
        sc = SCENARIOS["S3"]
        for name in ["framecast"] + PEERS:
            r, base = by.get(("S3", name)), by.get(("S3-base", name))
            if ("S3", name) not in by:
                continue
            every = got_every_message(r, sc)
            l = ratio((r or {}).get("p99_us"), (base or {}).get("p99_us"))
            rss = (r or {}).get("server_rss_peak_kb")
            line = (f"S3 {name}: fast clients got every message: {'yes' if every else 'NO'}; "
                    f"p99 stalled/unstalled = {fmt_num(l, '{:.2f}')} (<= 1.2: "
                    f"{verdict(None if l is None else l <= 1.2)}); RSS peak "
                    f"{fmt_num(rss / 1024 if rss else None, '{:.1f}')} MiB (< 64: "
                    f"{verdict(None if rss is None else rss < 64 * 1024)})")
            if name == "framecast":
                line += f" -> all S3 targets: {verdict(bool(every and l is not None and l <= 1.2 and rss is not None and rss < 64 * 1024))}"
            out.append(line)
    one, two = by.get(("MC", "framecast io1")), by.get(("MC", "framecast io2"))
    if one or two:
        d = ratio((two or {}).get("deliveries_per_s"), (one or {}).get("deliveries_per_s"))
        out.append(f"MC deliveries/s --io-threads 2 / 1 = {fmt_num(d, '{:.2f}')} (bench CPU "
                   f"{fmt_num((one or {}).get('bench_cpu_pct'))}% / "
                   f"{fmt_num((two or {}).get('bench_cpu_pct'))}%; server cores 0,1 shared with "
                   f"the bench on core 1)")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    chosen = os.environ.get("SCENARIOS", "S1 S2 S3 MC").split()
    for s in chosen:
        if s not in ("S1", "S2", "S3", "MC"):
            sys.exit(f"SCENARIOS: '{s}' is not valid (expected S1, S2, S3, MC)")
    os.makedirs(a.out, exist_ok=True)
    runner = Runner(a.build, a.out, float(os.environ.get("BENCH_BUDGET_S", "560")))
    stop = {"sig": None}

    def on_signal(sig, _frame):
        stop["sig"] = sig
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    results = []
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    try:
        for scn in ["S1", "S2", "S3", "MC"]:
            if scn not in chosen:
                continue
            if scn == "MC":
                sc = dict(SCENARIOS["MC"])
                for io in (1, 2):
                    results.append(runner.measure("MC", f"framecast io{io}", sc, cores="0,1",
                                                  io_threads=io))
                continue
            for variant in ([scn, "S3-base"] if scn == "S3" else [scn]):
                sc = dict(SCENARIOS[variant])
                if variant == "S3-base":  # same size as S3's framecast run
                    prev = next((e for e in results if e["scenario"] == "S3" and
                                 e["server"] == "framecast"), None)
                    if prev and prev.get("msg_size"):
                        sc["msg_size"] = prev["msg_size"]
                for name in ["framecast"] + PEERS:
                    e = runner.measure(variant, name, sc)
                    e["msg_size"] = sc.get("msg_size")
                    if "msg_size" not in sc:  # framecast did not start: peers use nominal
                        sc["msg_size"] = sc["size"]
                    results.append(e)
                    time.sleep(0.5)
    except KeyboardInterrupt:
        log(f"interrupted ({stop['sig'] or 'SIGINT'}); stopping servers")
    finally:
        runner.kill_all()

    text = [f"framecast benchmarks, {started}; nproc {os.cpu_count()}; "
            f"servers on core {SERVER_CORES}, framecast-bench on core {BENCH_CORES}"
            + (" (BENCH_QUICK=1: short runs)" if QUICK else "")]
    for scn in ["S1", "S2", "S3", "S3-base", "MC"]:
        entries = [e for e in results if e["scenario"] == scn]
        if not entries:
            continue
        sc = SCENARIOS[scn]
        text.append("")
        text.append(f"{sc['title']} (duration {sc['duration']} s after {sc['warmup']} s warm-up, "
                    f"message ~{entries[0].get('msg_size') or sc['size']} B)")
        text.append(scenario_rows(entries))
    text.append("")
    text.append("Ratios (x ...) are against python-websockets broadcast() in the same scenario.")
    text.append("Targets:")
    text += ["  " + t for t in targets(results)]
    report = "\n".join(text)
    print(report, flush=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump({"started": started, "quick": QUICK, "results": results,
                   "scenarios": SCENARIOS}, f, indent=1)
    with open(os.path.join(a.out, "report.txt"), "w") as f:
        f.write(report + "\n")
    log(f"raw results and logs in {a.out}")
    return 130 if stop["sig"] else 0


if __name__ == "__main__":
    sys.exit(main())
