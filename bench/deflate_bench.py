#!/usr/bin/python3
"""permessage-deflate in one run: framecast's clients with and without the
extension, and python-websockets with its default per-client compression.

    bench/deflate_bench.py BUILD_DIR [ROUNDS]        (make bench runs it)

Scenarios (the server on core 0 with one I/O thread, the load on core 1):
  S2   1000 clients x 30 results/s of about 400 B (three detections):
       framecast plain and compressed; compression costs per message, so
       the CPU per delivery should barely move;
  S3c  200 clients x 100 results/s of about 20 KB (400 detections):
       framecast plain and compressed, and python-websockets' broadcast()
       with compression on (it compresses every message for every client).

Each configuration runs ROUNDS times (default 3), alternating, and the
medians are printed: server CPU per delivery, p99 latency, deliveries per
second, and wire bytes per delivery (what the clients' sockets read) against
the message's own size. framecast-bench --deflate offers the extension and
inflates what comes compressed. Stdlib only; run with /usr/bin/python3."""

import json
import os
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SCENARIOS = {
    "S2": dict(fps=30, count=3, clients=1000, duration=8,
               runs=[("framecast", False), ("framecast", True)]),
    "S3c": dict(fps=100, count=400, clients=200, duration=10,
                runs=[("framecast", False), ("framecast", True), ("python", True)]),
}


def start(cmd):
    p = subprocess.Popen(["taskset", "-c", "0", *cmd], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        m = re.search(r"listening on https?://[^ ]*:(\d+)/", line)
        if m:
            return p, int(m.group(1))
        if not line and p.poll() is not None:
            break
    p.kill()
    raise RuntimeError(f"{cmd[0]} did not start: " + p.stderr.read())


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    p.stdout.close()
    p.stderr.close()


def run(build, sc, server, deflate, size):
    if server == "framecast":
        cmd = [f"{build}/framecast", "--listen", "127.0.0.1:0", "--io-threads", "1", "--source",
               f"synthetic:size=64x64,fps={sc['fps']}", "--predictor", f"fake:count={sc['count']}"]
    else:
        cmd = ["/usr/bin/python3", os.path.join(HERE, "peers", "py_broadcast.py"), "--rate",
               str(sc["fps"]), "--size", str(size), "--compression", "deflate"]
    p, port = start(cmd)
    try:
        out = subprocess.run(["taskset", "-c", "1", f"{build}/framecast-bench", "--url",
                              f"ws://127.0.0.1:{port}/ws/demo", "--clients", str(sc["clients"]),
                              "--duration", str(sc["duration"]), "--warmup", "2", "--server-pid",
                              str(p.pid), "--json", *(["--deflate"] if deflate else [])],
                             capture_output=True, text=True, timeout=sc["duration"] + 90)
        lines = out.stdout.strip().splitlines()
        if out.returncode or not lines:
            raise RuntimeError(f"framecast-bench failed: {out.stdout}{out.stderr}")
        return json.loads(lines[-1])
    finally:
        stop(p)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench/deflate_bench.py BUILD_DIR [ROUNDS]")
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for name, sc in SCENARIOS.items():
        figs = {r: [] for r in sc["runs"]}
        size = 0
        for _ in range(rounds):
            for server, deflate in sc["runs"]:
                d = run(build, sc, server, deflate, size or 20000)
                figs[(server, deflate)].append(d)
                if server == "framecast" and not size:
                    size = round(d["message_bytes_per_delivery"])
        print(f"{name}: {sc['clients']} clients x {sc['fps']} results/s of {size} B, "
              f"median of {rounds}")
        med = {}
        for (server, deflate), runs in figs.items():
            m = {k: statistics.median(x[k] for x in runs)
                 for k in ("server_cpu_us_per_delivery", "p99_us", "deliveries_per_s",
                           "wire_bytes_per_delivery", "message_bytes_per_delivery")}
            med[(server, deflate)] = m
            label = f"{server} {'compressed' if deflate else 'plain'}"
            print(f"  {label:22s} cpu {m['server_cpu_us_per_delivery']:7.2f} us/delivery  "
                  f"p99 {m['p99_us'] / 1000:7.1f} ms  {m['deliveries_per_s']:8.0f} deliveries/s  "
                  f"wire {m['wire_bytes_per_delivery']:8.1f} B/delivery "
                  f"(x{m['wire_bytes_per_delivery'] / m['message_bytes_per_delivery']:.3f} of "
                  f"the message)  gaps {sum(x['gaps'] for x in runs)}")
        plain, packed = med[("framecast", False)], med[("framecast", True)]
        print(f"  framecast compressed/plain: cpu x"
              f"{packed['server_cpu_us_per_delivery'] / plain['server_cpu_us_per_delivery']:.2f}, "
              f"p99 x{packed['p99_us'] / plain['p99_us']:.2f}, wire bytes x"
              f"{packed['wire_bytes_per_delivery'] / plain['wire_bytes_per_delivery']:.3f}")
        if ("python", True) in med:
            py = med[("python", True)]
            print(f"  framecast compressed/python compressed: cpu x"
                  f"{packed['server_cpu_us_per_delivery'] / py['server_cpu_us_per_delivery']:.2f}")


if __name__ == "__main__":
    main()
