"""The dnn predictor end to end with ONNX models generated here
(onnx_models.py, Debian's python3-onnx): real model loading in OpenCV, the
letterbox, both output layouts, class-wise NMS and boxes mapped back to
frame pixels, on non-square frames, checked against boxes computed in this
file from the models' known outputs. Also the errors a wrong model or
option gives at start-up."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
import onnx_models  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SIZE = 640
N = (SIZE // onnx_models.CELL) ** 2
CLASSES = ["person", "car"]
CONF = 0.25

# Candidates of the constant models, in input (letterbox) pixels: centre x,
# centre y, w, h, then (class, score).
CANDIDATES = [
    ((320, 320, 100, 200), (0, 0.90)),  # kept
    ((325, 322, 100, 200), (0, 0.80)),  # same class, IoU 0.92 with the first: suppressed
    ((325, 322, 100, 200), (1, 0.70)),  # other class: kept (NMS is class-wise)
    ((400, 300, 50, 50), (0, 0.20)),    # below conf
    ((100, 200, 40, 40), (1, 0.60)),    # kept
    ((320, 30, 40, 40), (0, 0.95)),     # only in the padding of a landscape frame
    ((20, 300, 80, 80), (0, 0.50)),     # beyond the left edge: clipped
]


def constant_rows(fmt):
    """The constant model's [N, A] output rows for CANDIDATES."""
    a = 4 + len(CLASSES) + (1 if fmt == "yolov5" else 0)
    rows = np.zeros((N, a), np.float32)
    for i, (box, (cls, score)) in enumerate(CANDIDATES):
        rows[i, :4] = box
        if fmt == "yolov8":
            rows[i, 4 + cls] = score
        else:  # objectness times class score: split the score between them
            rows[i, 4] = np.sqrt(score)
            rows[i, 5 + cls] = np.sqrt(score)
    if fmt == "yolov5":  # high objectness, low class scores: below conf
        rows[len(CANDIDATES), :5] = (500, 500, 60, 60, 0.9)
        rows[len(CANDIDATES), 5:] = 0.2
    return rows


def expected_constant(frame_w, frame_h):
    """The detections the constant model must give on a frame_w x frame_h
    frame: letterbox scale and padding, NMS and clipping done here."""
    scale = SIZE / max(frame_w, frame_h)
    pad_x, pad_y = (SIZE - frame_w * scale) / 2, (SIZE - frame_h * scale) / 2
    kept = []
    for (cx, cy, w, h), (cls, score) in sorted(CANDIDATES, key=lambda c: -c[1][1]):
        if score < CONF:
            continue
        box = (cx - w / 2, cy - h / 2, w, h)
        if any(k[0] == cls and iou(k[2], box) > 0.45 for k in kept):
            continue
        kept.append((cls, score, box))
    out = []
    for cls, score, (x, y, w, h) in kept:
        x0, y0 = max(0, (x - pad_x) / scale), max(0, (y - pad_y) / scale)
        x1, y1 = min(frame_w, (x + w - pad_x) / scale), min(frame_h, (y + h - pad_y) / scale)
        if x1 > x0 and y1 > y0:
            out.append((CLASSES[cls], score, [x0, y0, x1 - x0, y1 - y0]))
    return out


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    inter = (x1 - x0) * (y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def run(source, predictor, count=3):
    """The detections of the first `count` results, checked for errors."""
    with fc.Server("--stream", f"cam={source}", "--predictor", predictor) as server:
        sub = Subscriber(server.url("cam"), timeout=120)
        try:
            fc.wait_for(lambda: len(sub.results()) >= count, 90, f"{count} results")
            results = sub.results()[:count]
        finally:
            sub.close()
    for r in results:
        assert "error" not in r, r
    return results


class DnnTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-dnn-")
        cls.classes = os.path.join(cls.dir, "classes.txt")
        with open(cls.classes, "w") as f:
            f.write("\n".join(CLASSES) + "\n")
        for fmt in ("yolov8", "yolov5"):
            a = 4 + len(CLASSES) + (1 if fmt == "yolov5" else 0)
            onnx_models.grid_model(os.path.join(cls.dir, f"const_{fmt}.onnx"), constant_rows(fmt),
                                   np.zeros((a, 3)), fmt)
        # The grid model: one box per 32x32 cell whose "person" score is the
        # cell's mean brightness (R+G+B)/3; "car" is never scored.
        rows = np.zeros((N, 6), np.float32)
        rows[:, :4] = onnx_models.cell_boxes(SIZE)
        weights = np.zeros((6, 3))
        weights[4] = 1 / 3
        onnx_models.grid_model(os.path.join(cls.dir, "grid.onnx"), rows, weights, "yolov8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check_constant(self, fmt, w, h, tol=0.6):
        model = os.path.join(self.dir, f"const_{fmt}.onnx")
        results = run(f"synthetic:size={w}x{h},fps=10",
                      f"dnn:model={model},classes={self.classes},format={fmt},conf={CONF}")
        want = expected_constant(w, h)
        self.assertTrue(want)
        for r in results:
            self.assertEqual(r["model"], f"dnn:const_{fmt}.onnx")
            self.assertEqual((r["frame"]["width"], r["frame"]["height"]), (w, h))
            got = sorted(r["detections"], key=lambda d: -d["score"])
            self.assertEqual(len(got), len(want), (got, want))
            for d, (label, score, box) in zip(got, want):
                self.assertEqual(d["label"], label)
                self.assertAlmostEqual(d["score"], score, places=3)
                for g, e in zip(d["box"], box):
                    self.assertAlmostEqual(g, e, delta=tol, msg=(d, box))

    def test_yolov8_landscape(self):
        """1280x720: the source scales it to 640x360, padded 140 above and below."""
        self.check_constant("yolov8", 1280, 720)

    def test_yolov5_landscape(self):
        self.check_constant("yolov5", 1280, 720)

    def test_yolov8_portrait(self):
        """720x1280: padded left and right; the candidate in the top padding of
        a landscape frame is inside this one."""
        self.check_constant("yolov8", 720, 1280)

    def test_yolov5_odd_size(self):
        """An aspect ratio whose letterbox does not land on whole pixels: the
        source's frame is 640x359 (not 359.68), so boxes may be off by the
        rounding, under 1.5 pixels here."""
        self.check_constant("yolov5", 1000, 562, tol=1.5)

    def test_grid_model_finds_the_bright_rectangle(self):
        """A white rectangle on black, 1280x720: in the letterbox (x/2, y/2 +
        140) it covers the cells 4..7 across and 7..9 down exactly, whose
        person score is 1; other cells are black (0) or padding (114/255)."""
        clip = os.path.join(self.dir, "rect.mkv")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=black:s=1280x720:r=10:d=1", "-vf",
                        "drawbox=x=256:y=168:w=256:h=192:color=white:t=fill",
                        "-c:v", "ffv1", "-pix_fmt", "yuv420p", clip], check=True)
        results = run(f"{clip},realtime=0,mode=every,wait=1",
                      f"dnn:model={os.path.join(self.dir, 'grid.onnx')},conf=0.5")
        want = sorted([c * 64, (r * 32 - 140) * 2, 64, 64] for r in range(7, 10) for c in range(4, 8))
        for r in results:
            got = sorted(d["box"] for d in r["detections"])
            self.assertEqual(len(got), len(want), got)
            for g, e in zip(got, want):
                for a, b in zip(g, e):
                    self.assertAlmostEqual(a, b, delta=0.6, msg=(g, e))
            for d in r["detections"]:
                self.assertEqual(d["label"], "0")  # no classes file: the index
                self.assertGreater(d["score"], 0.95)

    def test_errors(self):
        v8 = os.path.join(self.dir, "const_yolov8.onnx")
        v5 = os.path.join(self.dir, "const_yolov5.onnx")
        one = os.path.join(self.dir, "one.txt")
        with open(one, "w") as f:
            f.write("person\n")
        for pred, want in [
            ("dnn:", "model= is required"),
            (f"dnn:model={self.dir}/nosuch.onnx", "No such file"),
            (f"dnn:model={self.classes}", "cannot read it as an ONNX model"),
            (f"dnn:model={v8},format=yolov7", "format='yolov7' (expected yolov8 or yolov5)"),
            (f"dnn:model={v8},format=yolov5", "is it a yolov8 model (format=yolov8)?"),
            (f"dnn:model={v5}", "is it a yolov5 model (format=yolov5)?"),
            (f"dnn:model={v8},classes={one}", "the model has 2 classes"),
            (f"dnn:model={v8},classes={self.dir}/none.txt", "cannot read classes file"),
            (f"dnn:model={v8},size=320", "running it on a 320x320 input failed"),
            (f"dnn:model={v8},size=100", "not a multiple of 32"),
            (f"dnn:model={v8},conf=2", "conf"),
            (f"dnn:model={v8},iou=0.5", "unknown option 'iou'"),
        ]:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", pred],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, (pred, p.stderr))
            self.assertIn(want, p.stderr, pred)


if __name__ == "__main__":
    fc.main()
