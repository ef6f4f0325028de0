#!/usr/bin/python3
"""What batching buys a model whose calls cost more than their frames:

  bench/batch_bench.py BUILD_DIR [--seconds S]

A Python model through the kit (`predict_batch`) that takes 20 ms per call
plus 1 ms per frame, sleeping (as a host waits for a GPU: the figure does
not depend on how busy the machine's cores are). A synthetic source that
runs as fast as the model takes frames (fps=max, mode=every), 320x180
BGR frames; results per second with exec batch=1, 4, 16 and 64, and the
sizes of the batches the model got (each result is labelled with its
batch's size). One call of k frames takes 20 + k ms, so the ceiling is
k / (20 + k) ms: 48/s, 167/s, 444/s and 762/s.
"""

import argparse
import collections
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from predict_bench import collect, rate  # noqa: E402

MODEL = """
import time
def predict_batch(frames):
    time.sleep(0.020 + 0.001 * len(frames))
    return [[{"label": str(len(frames)), "score": 1, "box": [0, 0, 4, 4]}] for f in frames]
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--seconds", type=float, default=8)
    args = ap.parse_args()
    framecast = os.path.join(args.build_dir, "framecast")
    client = os.path.join(args.build_dir, "framecast-client")
    tmp = tempfile.mkdtemp(prefix="fc-batch-bench-")
    os.environ["PYTHONPATH"] = os.path.join(SRC, "python")
    try:
        with open(os.path.join(tmp, "gpu_like.py"), "w") as f:
            f.write(MODEL)
        base = None
        for batch in (1, 4, 16, 64):
            spec = (f"exec:batch={batch},format=bgr24,"
                    f"cmd=/usr/bin/python3 -m framecast.model {tmp}/gpu_like.py:predict_batch")
            res = [r for r in collect(framecast, client, "synthetic:size=320x180,fps=max,mode=every", spec,
                                      args.seconds) if "error" not in r][5:]
            if len(res) < 2:
                print(f"batch={batch}: no results", file=sys.stderr)
                return 1
            per_sec = rate(res)
            base = base or per_sec
            # Each result says its call's size k: k results of size k are one call.
            by_size = collections.Counter(int(r["detections"][0]["label"]) for r in res)
            calls = collections.Counter({k: n // k for k, n in by_size.items() if n // k})
            common = ", ".join(f"{k} x{n}" for k, n in calls.most_common(3))
            ceiling = batch / (0.020 + 0.001 * batch)
            print(f"exec batch={batch}: {per_sec:.0f} results/s ({per_sec / base:.1f}x batch=1; "
                  f"ceiling {ceiling:.0f}/s), {len(res)} results; frames per call, most common: {common}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
