#!/usr/bin/python3
"""Ingest benchmark: decode throughput against the ffmpeg command, and the
latency framecast adds between decoding a frame and publishing its result.

  bench/ingest_bench.py BUILD_DIR [--runs N] [--seconds S]

1. Makes a 1080p30 H.264 clip (S seconds, default 10) with the ffmpeg command.
2. Decodes it alternately with `ffmpeg -threads 1 -i CLIP -f null -` and with
   `framecast --exit-when-done --stream x=CLIP,realtime=0,mode=every,threads=1`
   (null predictor), N runs each (default 5); prints wall-time medians and the
   framecast/ffmpeg ratio (run pairs side by side, so drift cancels).
3. Plays the clip in real time (30 fps) through framecast with the null
   predictor and a framecast-client subscriber, and prints percentiles of
   publish_us - capture_us - infer_us: decode-to-publish latency without the
   predictor's own time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time


def run_timed(cmd):
    t0 = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.monotonic() - t0


def percentile(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    framecast = os.path.join(args.build_dir, "framecast")
    client = os.path.join(args.build_dir, "framecast-client")

    with tempfile.TemporaryDirectory(prefix="fc-ingest-bench-") as d:
        clip = os.path.join(d, "clip1080.mp4")
        print(f"making a {args.seconds} s 1080p30 H.264 clip ...", flush=True)
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=1920x1080:rate=30", "-t", str(args.seconds), "-c:v", "libx264",
                        "-preset", "veryfast", "-pix_fmt", "yuv420p", clip], check=True)
        frames = args.seconds * 30

        ffmpeg_cmd = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-threads", "1", "-i", clip,
                      "-f", "null", "-"]
        fc_cmd = [framecast, "--listen", "127.0.0.1:0", "--io-threads", "1", "--log-level", "warn",
                  "--exit-when-done", "--stream", f"x={clip},realtime=0,mode=every,threads=1"]
        run_timed(ffmpeg_cmd)  # warm the page cache
        ff, fcs = [], []
        for _ in range(args.runs):
            ff.append(run_timed(ffmpeg_cmd))
            fcs.append(run_timed(fc_cmd))
        ratios = [b / a for a, b in zip(ff, fcs)]
        print(f"decode {frames} frames of 1080p30 H.264, one decode thread, {args.runs} runs each:")
        print(f"  ffmpeg -threads 1 -f null   median {statistics.median(ff):.3f} s "
              f"(min {min(ff):.3f}, max {max(ff):.3f}) = {frames / statistics.median(ff):.0f} fps")
        print(f"  framecast realtime=0 null   median {statistics.median(fcs):.3f} s "
              f"(min {min(fcs):.3f}, max {max(fcs):.3f}) = {frames / statistics.median(fcs):.0f} fps")
        print(f"  framecast / ffmpeg          median ratio {statistics.median(ratios):.3f} "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f}); target <= 1.15")

        server = subprocess.Popen([framecast, "--listen", "127.0.0.1:0", "--io-threads", "1",
                                   "--log-level", "warn", "--stream", f"x={clip},wait=1,threads=1"],
                                  stdout=subprocess.PIPE, text=True)
        try:
            line = server.stdout.readline()
            port = line.split("http://127.0.0.1:")[1].split("/")[0]
            out = subprocess.run([client, "--count", str(frames), "--timeout", str(args.seconds + 20),
                                  f"ws://127.0.0.1:{port}/ws/x"], capture_output=True, text=True)
        finally:
            server.terminate()
            server.wait()
        lat = []
        for l in out.stdout.splitlines():
            m = json.loads(l)
            if m["type"] == "result":
                lat.append(m["publish_us"] - m["capture_us"] - m["infer_us"])
        if not lat:
            print("no results received", file=sys.stderr)
            return 1
        print(f"decode-to-publish latency at 30 fps (1080p, null predictor, {len(lat)} results, "
              f"excluding infer_us):")
        print(f"  p50 {percentile(lat, 50)} us, p99 {percentile(lat, 99)} us, max {max(lat)} us; "
              f"target p99 < 2000 us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
