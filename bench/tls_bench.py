#!/usr/bin/python3
"""wss:// against ws:// in one run: the S2 and S3 scenarios of run_bench.py
(1000 clients x 30 results/s of ~340 B; 200 clients x 100 results/s of
20 KB, 5 of them stalled) served by the same framecast binary with and
without TLS, alternating, ROUNDS times each; then full TLS handshakes per
second on one core (the openssl command's s_time as the client).

    bench/tls_bench.py BUILD_DIR [ROUNDS]        (make bench runs it)

The server runs on core 0 (taskset -c 0), the load on core 1. Prints the
median of each figure and the wss/ws ratio. A self-signed certificate is
made for the run with the openssl command. Kernel TLS: the server's log
says whether this kernel offers it (framecast encrypts in user space
either way)."""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

SCENARIOS = {
    "S2": dict(fps=30, count=2, clients=1000, stalled=0, duration=8),
    "S3": dict(fps=100, count=400, clients=200, stalled=5, duration=10),
}


def start_server(build, args):
    p = subprocess.Popen(["taskset", "-c", "0", f"{build}/framecast", "--listen", "127.0.0.1:0",
                          "--io-threads", "1", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        line = p.stdout.readline()
        m = re.search(r"listening on https?://[^ ]*:(\d+)/", line)
        if m:
            return p, int(m.group(1))
    p.kill()
    raise RuntimeError("framecast did not start: " + p.stderr.read())


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    err = p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    return err


def run(build, sc, tls, cert, key):
    args = ["--source", f"synthetic:size=64x64,fps={sc['fps']}", "--predictor",
            f"fake:count={sc['count']}"]
    if tls:
        args += ["--tls-cert", cert, "--tls-key", key]
    p, port = start_server(build, args)
    try:
        out = subprocess.run(["taskset", "-c", "1", f"{build}/framecast-bench", "--url",
                              f"{'wss' if tls else 'ws'}://127.0.0.1:{port}/ws/demo",
                              "--clients", str(sc["clients"]), "--stalled", str(sc["stalled"]),
                              "--duration", str(sc["duration"]), "--warmup", "2", "--server-pid",
                              str(p.pid), "--json"], capture_output=True, text=True,
                             timeout=sc["duration"] + 60)
        d = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        log = stop(p)
    return d, log


def handshakes(build, cert, key, seconds=5):
    p, port = start_server(build, ["--source", "synthetic:size=64x64,fps=1", "--tls-cert", cert,
                                   "--tls-key", key])
    try:
        out = subprocess.run(["taskset", "-c", "1", "openssl", "s_time", "-connect",
                              f"127.0.0.1:{port}", "-new", "-time", str(seconds)],
                             capture_output=True, text=True, timeout=seconds + 30).stdout
    finally:
        stop(p)
    m = re.search(r"(\d+) connections in ([\d.]+) real seconds", out)
    return int(m.group(1)) / float(m.group(2)) if m else None


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench/tls_bench.py BUILD_DIR [ROUNDS]")
    build = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = os.path.join(tmp, "c.pem"), os.path.join(tmp, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        offload = ""
        for name, sc in SCENARIOS.items():
            fig = {False: [], True: []}
            for _ in range(rounds):
                for tls in (False, True):
                    d, log = run(build, sc, tls, cert, key)
                    fig[tls].append(d)
                    if tls and not offload:
                        m = re.search(r"kernel TLS: [^\n]*", log)
                        offload = m.group(0) if m else "kernel TLS: (not reported)"
            print(f"{name}: {sc['clients']} clients ({sc['stalled']} stalled) x {sc['fps']}/s, "
                  f"median of {rounds}")
            row = {}
            for tls in (False, True):
                cpu = statistics.median(x["server_cpu_us_per_delivery"] for x in fig[tls])
                p99 = statistics.median(x["p99_us"] for x in fig[tls])
                rss = statistics.median(x["server_rss_peak_kb"] for x in fig[tls]) / 1024
                gaps = sum(x["gaps"] for x in fig[tls])
                row[tls] = (cpu, p99)
                print(f"  {'wss' if tls else 'ws '}  cpu {cpu:6.2f} us/delivery  p99 {p99 / 1000:7.1f} ms"
                      f"  RSS peak {rss:6.1f} MiB  gaps {gaps}")
            print(f"  wss/ws: cpu x{row[True][0] / row[False][0]:.2f}, "
                  f"p99 x{row[True][1] / row[False][1]:.2f}")
        print(offload)
        hs = handshakes(build, cert, key)
        print(f"TLS handshakes (openssl s_time -new, RSA-2048 certificate), server on one core: "
              f"{hs:.0f}/s" if hs else "TLS handshakes: s_time gave no figure")


if __name__ == "__main__":
    main()
