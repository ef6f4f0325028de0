#!/usr/bin/python3
"""The OpenCV detectors per frame on one core, through the real server:

  bench/detector_bench.py BUILD_DIR [--frames N]

1. people (HOG) on vtest.avi, 768x576, at the default scale=1 and at the
   scale=1.6,pyramid=1.1 its tests use (vtest's people are small).
2. dnn with a generated YOLOv8-shaped network (tests/integration/
   onnx_models.py: strided 3x3 convolutions to stride 32, heads at 8, 16,
   32; 640x640 input, [1,84,8400] output; random weights) on 1280x720
   synthetic frames.

The server runs under `taskset -c 1` (OpenCV's worker threads share that
core) with mode=every,wait=1, so every frame is predicted. Two figures per
run: infer_us as results carry it (wall time inside predict: a busy machine
inflates it), and the server's CPU time (user + system, /proc) per result,
which a busy machine does not inflate; it includes the source's decoding
and conversion, small beside these detectors.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SRC, "tests", "integration"))


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(framecast, client, stream, predictor, frames, warmup=3):
    server = subprocess.Popen(["taskset", "-c", "1", framecast, "--listen", "127.0.0.1:0",
                               "--io-threads", "1", "--log-level", "warn", "--predict-timeout", "0",
                               "--predictor", predictor,
                               "--stream", f"s={stream},mode=every,wait=1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = server.stdout.readline().split("http://127.0.0.1:")[1].split("/")[0]
        sub = subprocess.Popen([client, "--timeout", "3600", f"ws://127.0.0.1:{port}/ws/s"],
                               stdout=subprocess.PIPE, text=True)
        results, cpu0 = [], None
        for line in sub.stdout:
            m = json.loads(line)
            if m["type"] != "result":
                continue
            assert "error" not in m, m
            results.append(m)
            if len(results) == warmup:
                cpu0 = cpu_seconds(server.pid)
            if len(results) == warmup + frames:
                cpu1 = cpu_seconds(server.pid)
                break
        sub.terminate()
        sub.wait()
    finally:
        server.terminate()
        server.wait()
    infer = sorted(r["infer_us"] / 1000 for r in results[warmup:])
    return infer[len(infer) // 2], sum(infer) / len(infer), (cpu1 - cpu0) * 1000 / frames


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--frames", type=int, default=30)
    args = ap.parse_args()
    framecast = os.path.join(args.build_dir, "framecast")
    client = os.path.join(args.build_dir, "framecast-client")
    vtest = os.path.join(SRC, "build", "testdata", "vtest.avi")
    for opts in ("people", "people:scale=1.6,pyramid=1.1"):
        p50, mean, cpu = run(framecast, client, f"{vtest},realtime=0", opts, args.frames)
        print(f"{opts} on vtest.avi 768x576, one core, {args.frames} frames: infer p50 {p50:.0f} ms, "
              f"mean {mean:.0f} ms; server CPU {cpu:.0f} ms per frame")
    import onnx_models  # python3-onnx, only needed here
    with tempfile.TemporaryDirectory(prefix="fc-dnn-bench-") as tmp:
        model = os.path.join(tmp, "yolo_shaped.onnx")
        onnx_models.yolo_shaped_model(model)
        p50, mean, cpu = run(framecast, client, "synthetic:size=1280x720,fps=max",
                             f"dnn:model={model}", args.frames)
        print(f"dnn (generated YOLOv8-shaped model, 640x640 input, ~3.5 GFLOPs) on 1280x720, one "
              f"core, {args.frames} frames: infer p50 {p50:.0f} ms, mean {mean:.0f} ms; "
              f"server CPU {cpu:.0f} ms per frame")


if __name__ == "__main__":
    main()
