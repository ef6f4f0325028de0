#!/usr/bin/python3
"""The Python model kit's cost, through the real server and a framecast-client:

  bench/kit_bench.py BUILD_DIR [--seconds S] [--rounds N]

640x360 frames at 30 fps to an exec model; the figure is each result's
infer_us, which is the whole round trip (header and pixels down the pipe,
the model's answer line back), first 5 frames (start-up) left out:

- bridge: examples/predict_null.py, the protocol by hand, no numpy (the
  exec bridge's own cost);
- kit, null: `python3 -m framecast.model` with predict(frame) returning []
  (bgr24 frames, as the docs ask: no reordering);
- kit, 20 boxes: predict returns 20 dicts with numpy numbers, which the kit
  checks, clips and writes;
- kit, rgb24: frames in the other order, which the kit reorders for predict.

The kit's overhead beyond the model is the kit's round trip minus the
bridge's (the model itself takes ~0 here). Rounds are interleaved, so a
busy moment of the machine hits every configuration alike.

Then the same models driven directly (this script writes the frames and
reads the answers, no server): the model process's CPU time per frame
(user + system, from wait4: 1020 frames less 20, so start-up cancels out),
which a busy machine does not inflate as it does wall-clock times.
"""

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from predict_bench import collect, percentile  # noqa: E402

MODELS = {
    "kit_null.py": "def predict(frame):\n    return []\n",
    "kit_boxes.py": """
import numpy as np
XS = np.arange(20, dtype=np.int64) * 30
def predict(frame):
    return [{"label": "object", "score": np.float32(0.5), "box": [x, 10, 25, 40]} for x in XS]
""",
}


HEADER = struct.Struct("<IIqqIIIIII")


def model_cpu(cmd, fmt, frames, cwd):
    """Runs cmd as framecast would, answers `frames` 640x360 frames; returns
    the process's CPU seconds (user + system)."""
    r, w = os.pipe()
    env = {**os.environ, "FRAMECAST_ANSWER_FD": str(w), "PYTHONPATH": os.path.join(SRC, "python")}
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, pass_fds=(w,), env=env, cwd=cwd,
                         stdout=subprocess.DEVNULL)
    os.close(w)
    answers = os.fdopen(r, "rb")
    pixels = bytes(640 * 360 * 3)
    for i in range(frames):
        p.stdin.write(HEADER.pack(0x32464346, 48, i, i, 640, 360, fmt, len(pixels), 640, 360) + pixels)
        p.stdin.flush()
        if not answers.readline():
            raise RuntimeError(f"{cmd}: no answer")
    p.stdin.close()
    _, status, usage = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    answers.close()
    return usage.ru_utime + usage.ru_stime


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build_dir")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    framecast = os.path.join(args.build_dir, "framecast")
    client = os.path.join(args.build_dir, "framecast-client")
    tmp = tempfile.mkdtemp(prefix="fc-kit-bench-")
    try:
        for name, code in MODELS.items():
            with open(os.path.join(tmp, name), "w") as f:
                f.write(code)
        kit = "cmd=/usr/bin/python3 -m framecast.model"
        configs = [
            ("bridge (predict_null.py)",
             f"exec:format=rgb24,cmd=/usr/bin/python3 {os.path.join(SRC, 'examples', 'predict_null.py')}"),
            ("kit, null predict, bgr24", f"exec:format=bgr24,{kit} {tmp}/kit_null.py"),
            ("kit, 20 boxes, bgr24", f"exec:format=bgr24,{kit} {tmp}/kit_boxes.py"),
            ("kit, null predict, rgb24 (reordered)", f"exec:format=rgb24,{kit} {tmp}/kit_null.py"),
        ]
        infer = {label: [] for label, _ in configs}
        for _ in range(args.rounds):
            for label, spec in configs:
                res = collect(framecast, client, "synthetic:size=640x360,fps=30", spec, args.seconds)
                infer[label] += [r["infer_us"] for r in res if "error" not in r][5:]
        base = None
        for label, _ in configs:
            v = infer[label]
            if not v:
                print(f"{label}: no results", file=sys.stderr)
                return 1
            p50, p99 = percentile(v, 50), percentile(v, 99)
            extra = "" if base is None else f"; over the bridge: p50 +{p50 - base[0]} us, p99 +{p99 - base[1]} us"
            base = base or (p50, p99)
            print(f"exec round trip 640x360, {label}, {len(v)} frames: p50 {p50} us, p99 {p99} us, "
                  f"max {max(v)} us{extra}")
        py = "/usr/bin/python3"
        direct = [
            ("bridge (predict_null.py)", [py, os.path.join(SRC, "examples", "predict_null.py")], 2),
            ("kit, null predict, bgr24", [py, "-m", "framecast.model", "kit_null.py"], 3),
            ("kit, 20 boxes, bgr24", [py, "-m", "framecast.model", "kit_boxes.py"], 3),
            ("kit, null predict, rgb24 (reordered)", [py, "-m", "framecast.model", "kit_null.py"], 2),
        ]
        base = None
        for label, cmd, fmt in direct:
            per = min((model_cpu(cmd, fmt, 1020, tmp) - model_cpu(cmd, fmt, 20, tmp)) / 1000
                      for _ in range(args.rounds))
            extra = "" if base is None else f"; over the bridge: +{(per - base) * 1e6:.0f} us"
            base = per if base is None else base
            print(f"model process CPU per 640x360 frame, {label}: {per * 1e6:.0f} us{extra}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
