"""The people predictor (OpenCV's HOG pedestrian detector) on vtest.avi,
scored against the hand-checked labels in tests/labels/vtest_people.txt:
precision and recall at IoU >= 0.5 over the 32 labelled frames, through the
real binary, source and client. Also its option errors."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
TESTDATA = os.environ.get("FC_TESTDATA", os.path.join(SRC, "build", "testdata"))
VTEST = os.path.join(TESTDATA, "vtest.avi")
LABELS = os.path.join(SRC, "tests", "labels", "vtest_people.txt")
EVERY = 25  # the labelled frames are 0, 25, ..., 775
# vtest's people are 50 to 150 pixels tall; HOG's window finds about 96.
OPTIONS = "people:scale=1.6,pyramid=1.1"
MIN_PRECISION, MIN_RECALL = 0.75, 0.70


def load_labels():
    labels = {}
    with open(LABELS) as f:
        for line in f:
            p = line.split()
            if not p or p[0].startswith("#"):
                continue
            labels.setdefault(int(p[0]), []).append(([float(v) for v in p[1:5]], p[5:] == ["ignore"]))
    return labels


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    if x1 <= x0 or y1 <= y0:
        return 0.0
    inter = (x1 - x0) * (y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def score(detections_by_frame, labels):
    """Greedy matching by descending score, each label matched once. A
    detection on an `ignore` label counts neither way."""
    tp = fp = fn = 0
    for frame, truth in labels.items():
        used = [False] * len(truth)
        for d in sorted(detections_by_frame[frame], key=lambda d: -d["score"]):
            best, best_i = 0.5, -1
            for i, (box, ignore) in enumerate(truth):
                if not used[i] and not ignore and iou(d["box"], box) >= best:
                    best, best_i = iou(d["box"], box), i
            if best_i >= 0:
                used[best_i] = True
                tp += 1
            elif not any(ignore and iou(d["box"], box) >= 0.5 for box, ignore in truth):
                fp += 1
        fn += sum(1 for i, (_, ignore) in enumerate(truth) if not ignore and not used[i])
    return tp, fp, fn


class PeopleTest(unittest.TestCase):
    def test_labels_file(self):
        """The label file has the 32 frames and boxes inside the frame."""
        labels = load_labels()
        self.assertEqual(sorted(labels), list(range(0, 776, EVERY)))
        people = [b for boxes in labels.values() for b, ignore in boxes if not ignore]
        self.assertGreaterEqual(len(people), 150)
        for b in people:
            self.assertTrue(0 <= b[0] and 0 <= b[1] and b[0] + b[2] <= 768 and b[1] + b[3] <= 576, b)

    def test_precision_and_recall_on_vtest(self):
        self.assertTrue(os.path.exists(VTEST), f"{VTEST} is missing: scripts/bootstrap --tests "
                        "extracts it from Debian's opencv-doc")
        labels = load_labels()
        tmp = tempfile.mkdtemp(prefix="fc-people-")
        try:
            # The labelled frames only, losslessly (FFV1 keeps the decoded
            # YUV420P as it is), so frame k of the clip is frame 25k.
            clip = os.path.join(tmp, "labelled.mkv")
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-i", VTEST,
                            "-vf", f"select='not(mod(n\\,{EVERY}))'", "-vsync", "0",
                            "-c:v", "ffv1", "-pix_fmt", "yuv420p", clip], check=True)
            with fc.Server("--stream", f"walk={clip},realtime=0,mode=every,wait=1",
                           "--predictor", OPTIONS) as server:
                sub = Subscriber(server.url("walk"), timeout=600)
                try:
                    fc.wait_for(lambda: len(sub.results()) >= len(labels), 500,
                                f"{len(labels)} results")
                    results = sub.results()
                finally:
                    sub.close()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        by_frame = {}
        infer_ms = []
        for r in results:
            self.assertNotIn("error", r)
            self.assertEqual(r["model"], "people")
            self.assertEqual((r["frame"]["width"], r["frame"]["height"]), (768, 576))
            by_frame[r["frame"]["index"] * EVERY] = r["detections"]
            infer_ms.append(r["infer_us"] / 1000)
            for d in r["detections"]:
                self.assertEqual(d["label"], "person")
                self.assertTrue(0 < d["score"] <= 1, d)
        self.assertEqual(sorted(by_frame), sorted(labels))
        tp, fp, fn = score(by_frame, labels)
        precision, recall = tp / max(1, tp + fp), tp / (tp + fn)
        infer_ms.sort()
        print(f"people ({OPTIONS}) on {len(labels)} labelled frames of vtest.avi: "
              f"precision {precision:.3f}, recall {recall:.3f} (tp {tp}, fp {fp}, fn {fn}); "
              f"infer p50 {infer_ms[len(infer_ms) // 2]:.0f} ms")
        self.assertGreaterEqual(precision, MIN_PRECISION)
        self.assertGreaterEqual(recall, MIN_RECALL)

    def test_bad_options(self):
        for pred, want in [("people:scale=9", "scale"), ("people:stride=6", "multiple of 4"),
                           ("people:size=3", "'size'"), ("people:min_score=1", "min_score")]:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", pred],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(want, p.stderr)


if __name__ == "__main__":
    fc.main()
