#!/usr/bin/python3
"""What a client costs the server in memory and descriptors, for sizing
(docs/deploy.md): framecast serving S2's stream (synthetic 64x64 at 30
fps, fake:count=2, ~310 B results) on one I/O thread, its RSS and open
descriptors measured idle and with N clients that keep up, for each N.

    bench/client_memory.py build/release [N ...]     (default: 1000 2000)

The server runs on core 0, framecast-bench on core 1 (taskset). Prints
one line per N: RSS idle and with the clients, KiB per client,
descriptors per client, and the server's CPU per delivery."""

import json
import os
import re
import subprocess
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1])


def fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: bench/client_memory.py BUILD_DIR [N ...]")
    build = sys.argv[1]
    counts = [int(n) for n in sys.argv[2:]] or [1000, 2000]
    for n in counts:
        srv = subprocess.Popen(
            ["taskset", "-c", "0", f"{build}/framecast", "--listen", "127.0.0.1:0",
             "--io-threads", "1", "--source", "synthetic:size=64x64,fps=30",
             "--predictor", "fake:count=2"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = None
            deadline = time.monotonic() + 15
            while port is None and time.monotonic() < deadline:
                m = re.search(r"listening on http://[^ ]*:(\d+)/", srv.stdout.readline())
                port = m and m.group(1)
            if port is None:
                sys.exit("framecast did not start")
            time.sleep(2)  # the stream live, its buffers allocated
            rss0, fd0 = rss_kib(srv.pid), fds(srv.pid)
            bench = subprocess.Popen(
                ["taskset", "-c", "1", f"{build}/framecast-bench", "--url",
                 f"ws://127.0.0.1:{port}/ws/demo", "--clients", str(n), "--duration", "5",
                 "--warmup", "2", "--server-pid", str(srv.pid), "--json"],
                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            # Descriptors while every client is connected (the window).
            fd_peak = fd0
            while bench.poll() is None:
                fd_peak = max(fd_peak, fds(srv.pid))
                time.sleep(0.2)
            out = bench.stdout.read().strip().splitlines()
            if bench.returncode != 0 or not out:
                sys.exit(f"framecast-bench failed ({bench.returncode})")
            figures = json.loads(out[-1])
            peak = figures["server_rss_peak_kb"]
            print(f"{n} clients: RSS {rss0} KiB idle, {peak} KiB with them: "
                  f"{(peak - rss0) / n:.2f} KiB per client; descriptors {fd0} idle, "
                  f"{fd_peak} with them ({(fd_peak - fd0) / n:.3f} per client); "
                  f"{figures['deliveries_per_s']:.0f} deliveries/s, "
                  f"{figures['server_cpu_us_per_delivery']:.2f} us of server CPU per delivery")
        finally:
            srv.terminate()
            srv.wait()


if __name__ == "__main__":
    main()
