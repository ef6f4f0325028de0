#!/usr/bin/python3
"""A framecast model in Python, for
    --predictor 'exec:name=bright,format=bgr24,cmd=python3 examples/predict_numpy.py'
(quote the whole spec: the command has spaces).

It finds bright regions: pixels brighter than THRESHOLD, grouped into boxes
on a coarse grid, with numpy only (Debian's python3-numpy). Replace predict()
with your model; or keep your model in a module of its own and run it with
`python3 -m framecast.model mymodel:predict` (docs/predictors.md).

The model kit (python/framecast/ in this repository) does the rest:
it reads each frame framecast writes to our stdin into a writable numpy
array (height, width, 3) in BGR order (OpenCV's), calls predict(), checks
what it returns (numpy numbers are fine; NaN, negative sizes or an
exception become that frame's error, and the model goes on) and answers on
file descriptor 3. Anything we print goes to framecast's log, never into
results.
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.realpath(__file__)), "..", "python"))
from framecast.model import serve  # noqa: E402  (the model kit, python/framecast/)

THRESHOLD = 200
CELL = 16


def predict(frame):
    """Returns a list of detections {label, score, box: [x, y, w, h]} in frame pixels."""
    luma = frame if frame.ndim == 2 else frame.mean(axis=2)
    h, w = luma.shape
    gh, gw = h // CELL, w // CELL
    cells = luma[: gh * CELL, : gw * CELL].reshape(gh, CELL, gw, CELL).mean(axis=(1, 3))
    hot = cells > THRESHOLD
    detections = []
    seen = np.zeros_like(hot)
    for y, x in zip(*np.nonzero(hot)):
        if seen[y, x]:
            continue
        # grow a rectangle of hot cells to the right and down
        x1 = x
        while x1 + 1 < gw and hot[y, x1 + 1]:
            x1 += 1
        y1 = y
        while y1 + 1 < gh and hot[y1 + 1, x:x1 + 1].all():
            y1 += 1
        seen[y:y1 + 1, x:x1 + 1] = True
        score = cells[y:y1 + 1, x:x1 + 1].mean() / 255  # a numpy float: the kit takes it
        detections.append({"label": "bright", "score": round(score, 3),
                           "box": [x * CELL, y * CELL, (x1 - x + 1) * CELL, (y1 - y + 1) * CELL]})
    return detections


def main():
    global THRESHOLD
    ap = argparse.ArgumentParser(description="framecast exec model: bright regions")
    ap.add_argument("--threshold", type=int, default=THRESHOLD, help="mean luma of a bright cell")
    THRESHOLD = ap.parse_args().threshold
    print(f"predict_numpy: threshold {THRESHOLD}", flush=True)  # goes to framecast's log
    serve(predict)


if __name__ == "__main__":
    main()
