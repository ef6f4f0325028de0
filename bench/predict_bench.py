#!/usr/bin/python3
"""Predictor benchmarks, through the real server and a framecast-client:

  bench/predict_bench.py BUILD_DIR [--seconds S]

1. Worker scaling: a CPU-bound predictor (fake:busy_ms=20, 20 ms of thread
   CPU time per frame) on a source that runs as fast as the workers take
   frames; results/s with workers=1 and workers=2, and the ratio.
2. exec bridge overhead: 640x360 RGB frames at 30 fps to a null model
   (examples/predict_null.py); percentiles of infer_us, which is the whole
   round trip: header and 691 KB of pixels down the pipe, one JSON line back.
"""

import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def collect(framecast, client, stream_args, predictor, seconds):
    """Runs a server with one stream 's' (wait=1) and returns its results."""
    server = subprocess.Popen([framecast, "--listen", "127.0.0.1:0", "--io-threads", "1",
                               "--log-level", "warn", "--predictor", predictor,
                               "--stream", "s=" + stream_args + ",wait=1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().split("http://127.0.0.1:")[1].split("/")[0]
        out = subprocess.run([client, "--timeout", str(seconds), f"ws://127.0.0.1:{port}/ws/s"],
                             capture_output=True, text=True)
    finally:
        server.terminate()
        server.wait()
    msgs = [json.loads(l) for l in out.stdout.splitlines()]
    return [m for m in msgs if m["type"] == "result"]


def rate(results):
    if len(results) < 2:
        return 0.0
    span = (results[-1]["publish_us"] - results[0]["publish_us"]) / 1e6
    return (len(results) - 1) / span


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--seconds", type=float, default=10)
    args = ap.parse_args()
    framecast = os.path.join(args.build_dir, "framecast")
    client = os.path.join(args.build_dir, "framecast-client")

    rates = {}
    for workers in (1, 2):
        res = collect(framecast, client, f"synthetic:size=320x180,fps=max,workers={workers}",
                      "fake:count=1,busy_ms=20", args.seconds)
        rates[workers] = rate(res)
        print(f"workers={workers}: {rates[workers]:.1f} results/s (20 ms CPU-bound predictor, "
              f"{len(res)} results in {args.seconds:g} s)")
    if rates[1]:
        print(f"workers=2 / workers=1 throughput ratio: {rates[2] / rates[1]:.2f} "
              "(2 cores, shared with the source thread, the I/O thread and the client)")

    null_model = os.path.join(SRC, "examples", "predict_null.py")
    res = collect(framecast, client, "synthetic:size=640x360,fps=30",
                  f"exec:format=rgb24,cmd=/usr/bin/python3 {null_model}", args.seconds)
    infer = [r["infer_us"] for r in res if "error" not in r][5:]  # skip the child's start-up
    if not infer:
        print("exec: no results", file=sys.stderr)
        return 1
    print(f"exec round trip, 640x360 RGB (691 KB) to a null Python model, {len(infer)} frames: "
          f"p50 {percentile(infer, 50)} us, p99 {percentile(infer, 99)} us, max {max(infer)} us; "
          "target p99 < 1000 us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
