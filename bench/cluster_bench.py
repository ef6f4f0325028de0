#!/usr/bin/python3
"""Cluster benchmark (docs/cluster.md): what the NATS hop costs.

  bench/cluster_bench.py BUILD_DIR [--seconds S] [--clients N]

Starts its own nats-server on a free loopback port, then:

1. Latency at 30 results/s: framecast-bench's receipt time - publish_us for
   N clients (default 10) over S seconds (default 10), on a single node
   (no NATS), then on an edge fed by an ingest node through NATS. publish_us
   is set by the ingest node, so the difference of the two is the NATS hop
   (ingest publish -> nats-server -> edge -> its fan-out).
2. Saturation: an ingest node with a source as fast as it goes
   (synthetic fps=max) and results of about 300 bytes, 2 edges with 2
   clients each: results/s made by the ingest node, handed to NATS, dropped
   (its queue full), received and dropped by each edge, delivered to the
   clients, and each process's share of a core, to say what saturates.

Every process shares the machine's cores (2 here): the figures say where
the limit is on this machine, not on a real cluster.
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def http_get(port, path):
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    return data.partition(b"\r\n\r\n")[2]


def metrics(port):
    out = {}
    for line in http_get(port, "/metrics").decode().splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


class Proc:
    def __init__(self, cmd):
        self.p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        self.port = None
        deadline = time.monotonic() + 20
        while self.port is None and time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if not line:
                raise SystemExit(f"{cmd[0]} exited before listening")
            m = re.search(r"listening on http://[^ ]*:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
        if self.port is None:
            raise SystemExit(f"{cmd} did not listen in time")

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def wait_for(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def bench(build, port, clients, seconds, pid):
    out = subprocess.run([os.path.join(build, "framecast-bench"), "--url",
                          f"ws://127.0.0.1:{port}/ws/demo", "--clients", str(clients),
                          "--duration", str(seconds), "--warmup", "2", "--json",
                          "--server-pid", str(pid)],
                         capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--clients", type=int, default=10)
    args = ap.parse_args()
    fcbin = os.path.join(args.build, "framecast")
    nats_bin = shutil.which("nats-server") or "/usr/sbin/nats-server"
    nport = free_port()
    nats = subprocess.Popen([nats_bin, "-a", "127.0.0.1", "-p", str(nport)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"nats://127.0.0.1:{nport}"
    procs = []
    try:
        time.sleep(0.5)
        src30 = "synthetic:size=64x64,fps=30"
        # 1. Latency at 30 results/s
        single = Proc([fcbin, "--listen", "127.0.0.1:0", "--source", src30, "--predictor",
                       "fake:count=2"])
        procs.append(single)
        a = bench(args.build, single.port, args.clients, args.seconds, single.p.pid)
        single.stop()
        procs.remove(single)
        ingest = Proc([fcbin, "--listen", "127.0.0.1:0", "--role", "ingest", "--nats", url,
                       "--source", src30, "--predictor", "fake:count=2"])
        edge = Proc([fcbin, "--listen", "127.0.0.1:0", "--role", "edge", "--nats", url])
        procs += [ingest, edge]
        wait_for(lambda: b'"demo"' in http_get(edge.port, "/api/streams"), 15, "the edge")
        b = bench(args.build, edge.port, args.clients, args.seconds, edge.p.pid)
        print(f"latency at 30 results/s, {args.clients} clients, {args.seconds} s window "
              "(receipt - publish_us, us):")
        print(f"  {'':24} {'p50':>8} {'p90':>8} {'p99':>8} {'max':>8} {'deliveries':>11} gaps")
        for name, r in (("single node", a), ("edge via NATS", b)):
            print(f"  {name:24} {r['p50_us']:8.0f} {r['p90_us']:8.0f} {r['p99_us']:8.0f} "
                  f"{r['max_us']:8.0f} {r['deliveries']:11d} {r['gaps']}")
        print(f"  NATS hop (edge - single): p50 {b['p50_us'] - a['p50_us']:.0f} us, "
              f"p99 {b['p99_us'] - a['p99_us']:.0f} us")
        for p in (ingest, edge):
            p.stop()
        procs.clear()

        # 2. Saturation: ~300-byte results, 2 edges
        ingest = Proc([fcbin, "--listen", "127.0.0.1:0", "--role", "ingest", "--nats", url,
                       "--source", "synthetic:size=32x32,fps=max,objects=1",
                       "--predictor", "fake:count=2", "--preview", "off"])
        edges = [Proc([fcbin, "--listen", "127.0.0.1:0", "--role", "edge", "--nats", url])
                 for _ in range(2)]
        procs += [ingest, *edges]
        for e in edges:
            wait_for(lambda: b'"demo"' in http_get(e.port, "/api/streams"), 15, "the edges")
        size = subprocess.run([os.path.join(args.build, "framecast-client"), "--count", "1",
                               f"ws://127.0.0.1:{ingest.port}/ws/demo"],
                              capture_output=True, text=True, timeout=20).stdout
        size = max((len(line) for line in size.splitlines() if '"result"' in line), default=0)
        clients = [subprocess.Popen([os.path.join(args.build, "framecast-bench"), "--url",
                                     f"ws://127.0.0.1:{e.port}/ws/demo", "--clients", "2",
                                     "--duration", str(args.seconds), "--warmup", "2", "--json"],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
                   for e in edges]
        time.sleep(2.5)  # connected, warmed up
        pids = {"ingest": ingest.p.pid, "nats-server": nats.pid, "edge A": edges[0].p.pid,
                "edge B": edges[1].p.pid}
        m0 = [metrics(ingest.port)] + [metrics(e.port) for e in edges]
        c0 = {k: cpu_s(v) for k, v in pids.items()}
        t0 = time.monotonic()
        time.sleep(args.seconds - 1)
        dt = time.monotonic() - t0
        m1 = [metrics(ingest.port)] + [metrics(e.port) for e in edges]
        c1 = {k: cpu_s(v) for k, v in pids.items()}
        res = [json.loads(c.communicate(timeout=60)[0].strip().splitlines()[-1]) for c in clients]

        def rate(i, key, stream=False):
            key = key + '{stream="demo"}' if stream else key
            return (m1[i].get(key, 0) - m0[i].get(key, 0)) / dt
        q = 'framecast_nats_dropped_total{reason="queue"}'
        n = 'framecast_nats_dropped_total{reason="nats"}'
        print(f"\nsaturation: results of {size} bytes, fps=max, 2 edges x 2 clients, "
              f"{dt:.1f} s:")
        print(f"  ingest results made         {rate(0, 'framecast_results_total', True):10.0f}/s")
        print(f"  handed to NATS              {rate(0, 'framecast_nats_published_total'):10.0f}/s")
        print(f"  dropped, publisher queue    {rate(0, q):10.0f}/s")
        print(f"  dropped, NATS buffer        {rate(0, n):10.0f}/s")
        for i, name in ((1, "A"), (2, "B")):
            print(f"  edge {name} received            "
                  f"{rate(i, 'framecast_edge_results_received_total', True):10.0f}/s, "
                  f"held for a tick (inbox full) "
                  f"{rate(i, 'framecast_edge_results_delayed_total', True):.0f}/s, "
                  f"gaps {rate(i, 'framecast_edge_gaps_total', True) * dt:.0f}")
        for name, r in zip(("A", "B"), res):
            print(f"  edge {name} clients got          {r['deliveries_per_s'] / 2:10.0f}/s each, "
                  f"p99 {r['p99_us'] / 1000 if r['p99_us'] else 0:.1f} ms, seq gaps {r['gaps']}")
        print("  CPU, share of one core:     " +
              ", ".join(f"{k} {(c1[k] - c0[k]) / dt * 100:.0f} %" for k in pids))
    finally:
        for p in procs:
            p.stop()
        nats.send_signal(signal.SIGTERM)
        nats.wait()


if __name__ == "__main__":
    main()
