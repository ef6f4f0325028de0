#!/usr/bin/python3
"""A framecast model in Python, for `--predictor exec:cmd=python3 examples/predict_numpy.py`.

framecast starts this program once and keeps it running. For each frame it
writes a 48-byte little-endian header and the pixels to our stdin; we answer
with one line of JSON on stdout (see docs/predictors.md). Replace predict()
with your model: the frame arrives as a numpy array (height, width, 3) in RGB
order (or (height, width) for format=gray8).

This example finds bright regions: pixels brighter than THRESHOLD, grouped
into boxes on a coarse grid. It uses only numpy (Debian's python3-numpy).
"""

import argparse
import json
import struct
import sys

import numpy as np

HEADER = struct.Struct("<IIqqIIIIII")  # magic, header size, index, pts_us, width, height,
MAGIC = 0x31464346                     # format, payload bytes, source width, source height
FORMATS = {1: 1, 2: 3, 3: 3}           # gray8, rgb24, bgr24: bytes per pixel
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
        score = float(cells[y:y1 + 1, x:x1 + 1].mean() / 255)
        detections.append({"label": "bright", "score": round(score, 3),
                           "box": [int(x * CELL), int(y * CELL),
                                   int((x1 - x + 1) * CELL), int((y1 - y + 1) * CELL)]})
    return detections


def read_exact(stream, n):
    data = stream.read(n)
    if len(data) != n:
        sys.exit(0)  # framecast closed our stdin: we are done
    return data


def main():
    global THRESHOLD
    ap = argparse.ArgumentParser(description="framecast exec model: bright regions")
    ap.add_argument("--threshold", type=int, default=THRESHOLD, help="mean luma of a bright cell")
    THRESHOLD = ap.parse_args().threshold
    stdin, stdout = sys.stdin.buffer, sys.stdout
    while True:
        (magic, hsize, index, pts_us, width, height, fmt, size,
         src_w, src_h) = HEADER.unpack(read_exact(stdin, HEADER.size))
        if magic != MAGIC:
            sys.exit("predict_numpy: bad frame header")
        pixels = read_exact(stdin, size)
        if fmt not in FORMATS:
            stdout.write(json.dumps({"error": f"format {fmt} not supported here"}) + "\n")
            stdout.flush()
            continue
        shape = (height, width) if FORMATS[fmt] == 1 else (height, width, 3)
        frame = np.frombuffer(pixels, dtype=np.uint8).reshape(shape)
        try:
            answer = {"detections": predict(frame)}
        except Exception as e:  # a failing frame is reported, the stream goes on
            answer = {"error": f"{type(e).__name__}: {e}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


if __name__ == "__main__":
    main()
