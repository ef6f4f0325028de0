#!/usr/bin/python3
"""A framecast model in Python, for
    --predictor 'exec:name=bright,cmd=python3 examples/predict_numpy.py'
(quote the whole spec: the command has spaces).

framecast starts this program once and keeps it running. For each frame it
writes a 48-byte little-endian header and the pixels to our stdin; we answer
with one line of JSON on file descriptor 3 that names the frame (see
docs/predictors.md). Anything we print() or log goes to framecast's log,
never into the results, so debug prints are safe.

Replace predict() with your model. The frame arrives as a writable numpy
array (height, width, 3) in RGB order by default; OpenCV code expects BGR:
ask for it with `exec:format=bgr24,...` (or gray8 for (height, width)).
predict() may return numpy numbers (np.int64, np.float32...): answer()
converts them. An exception in predict() becomes that frame's error; the
model keeps running.

This example finds bright regions: pixels brighter than THRESHOLD, grouped
into boxes on a coarse grid. It uses only numpy (Debian's python3-numpy).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

HEADER = struct.Struct("<IIqqIIIIII")  # magic, header size, index, pts_us, width, height,
MAGIC = 0x32464346                     # format, payload bytes, source width, source height
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
        score = cells[y:y1 + 1, x:x1 + 1].mean() / 255  # a numpy float: fine, see answer()
        detections.append({"label": "bright", "score": round(score, 3),
                           "box": [x * CELL, y * CELL, (x1 - x + 1) * CELL, (y1 - y + 1) * CELL]})
    return detections


# ---- the exec protocol: keep this part as it is ----------------------------

def plain(value):
    """json.dumps cannot write numpy numbers or arrays: turn them into Python's."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def answer(fd, index, predict_fn, frame):
    """Runs predict_fn on the frame and writes its answer line, naming the frame."""
    try:
        line = json.dumps({"frame": index, "detections": predict_fn(frame)}, default=plain)
    except Exception as e:  # a failing frame is reported, the model keeps running
        line = json.dumps({"frame": index, "error": f"{type(e).__name__}: {e}"})
    os.write(fd, line.encode() + b"\n")  # one write: the line is never split


def read_into(stream, view):
    """Fills view from stream; False when framecast closed our stdin."""
    got = 0
    while got < len(view):
        n = stream.readinto(view[got:])
        if not n:
            return False
        got += n
    return True


def serve(predict_fn):
    """Reads frames until framecast closes our stdin, answering each one."""
    fd = int(os.environ.get("FRAMECAST_ANSWER_FD", "3"))
    stdin = sys.stdin.buffer
    head = bytearray(HEADER.size)
    pixels = bytearray()
    while read_into(stdin, memoryview(head)):
        (magic, hsize, index, pts_us, width, height, fmt, size,
         src_w, src_h) = HEADER.unpack(head)
        if magic != MAGIC:
            sys.exit(f"bad frame header (magic {magic:#x}, expected {MAGIC:#x}): "
                     "is this framecast's exec protocol FCF2?")
        if len(pixels) != size:
            pixels = bytearray(size)
        if not read_into(stdin, memoryview(pixels)):
            break
        if fmt not in FORMATS:
            os.write(fd, json.dumps({"frame": index, "error": f"format {fmt} not supported here"})
                     .encode() + b"\n")
            continue
        shape = (height, width) if FORMATS[fmt] == 1 else (height, width, 3)
        # A view of our own bytearray: writable, and no copy. The next frame
        # reuses the buffer, so copy the array if you keep it.
        frame = np.frombuffer(pixels, dtype=np.uint8).reshape(shape)
        answer(fd, index, predict_fn, frame)


def main():
    global THRESHOLD
    ap = argparse.ArgumentParser(description="framecast exec model: bright regions")
    ap.add_argument("--threshold", type=int, default=THRESHOLD, help="mean luma of a bright cell")
    THRESHOLD = ap.parse_args().threshold
    print(f"predict_numpy: threshold {THRESHOLD}", flush=True)  # goes to framecast's log
    serve(predict)


if __name__ == "__main__":
    main()
