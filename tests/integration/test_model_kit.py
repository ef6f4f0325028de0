"""The Python model kit (python/framecast/): a predict(frame) written for
OpenCV runs behind framecast unchanged.

Two halves. The kit alone, driven the way framecast drives it (frames on its
stdin, answers read from its fd 3) by a test harness: channel orders and
formats, every return form, every bad return value, setup(), batches (of
one, and of several frames with exec's batch=N headers), targets that do
not exist. Then through the real server: the program shown in
docs/predictors.md runs with the command shown there and its boxes reach
a WebSocket client (on a clip whose colours tell BGR from RGB); bad return
values are error results while the stream goes on, without a restart; a
model process killed mid-stream is started again and its setup() runs once
per process, before its first frame."""

import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
KIT = os.path.join(SRC, "python")
PYTHON = "/usr/bin/python3"
HEADER = struct.Struct("<IIqqIIIIII")
GRAY8, RGB24, BGR24, YUV420P = 1, 2, 3, 4
ANSWER_SECONDS = 30


class Kit:
    """`python3 -m framecast.model ARGS` fed frames the way framecast feeds them."""

    def __init__(self, args, cwd, env=None):
        r, w = os.pipe()
        self.proc = subprocess.Popen([PYTHON, "-m", "framecast.model", *args], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, pass_fds=(w,),
                                     env={**os.environ, "PYTHONPATH": KIT, "FRAMECAST_ANSWER_FD": str(w),
                                          **(env or {})})
        os.close(w)
        self.answers = os.fdopen(r, "rb")
        self.index = 0
        self.log = None

    def send(self, pixels, width, height, fmt):
        """Sends one frame; returns its answer, parsed."""
        self.proc.stdin.write(HEADER.pack(0x32464346, 48, self.index, self.index * 33333, width, height,
                                          fmt, len(pixels), width, height) + pixels)
        self.proc.stdin.flush()
        line = self.answers.readline()
        if not line:
            raise AssertionError(f"the kit exited: {self.close()}")
        answer = json.loads(line)
        assert answer["frame"] == self.index, answer
        self.index += 1
        return answer

    def send_batch(self, frames, left=None):
        """Sends frames [(pixels, width, height, fmt)] as one batch, the way
        exec's batch=N does (56-byte headers counting down the frames left;
        left overrides those counts); returns their answers, parsed."""
        left = left or [len(frames) - place for place in range(len(frames))]
        data = b""
        for place, (pixels, width, height, fmt) in enumerate(frames):
            i = self.index + place
            data += HEADER.pack(0x32464346, 56, i, i * 33333, width, height, fmt, len(pixels), width,
                                height) + struct.pack("<II", left[place], 0) + pixels
        self.proc.stdin.write(data)
        self.proc.stdin.flush()
        answers = []
        for _ in frames:
            line = self.answers.readline()
            if not line:
                raise AssertionError(f"the kit exited: {self.close()}")
            answer = json.loads(line)
            assert answer["frame"] == self.index, answer
            self.index += 1
            answers.append(answer)
        return answers

    def close(self):
        """Ends the input; returns (exit status, its log)."""
        if self.log is None:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                pass
            self.log = self.proc.stdout.read().decode()
            self.proc.wait(timeout=ANSWER_SECONDS)
            self.answers.close()
        return self.proc.returncode, self.log


def solid(width, height, rgb):
    """rgb24 bytes of one colour."""
    return bytes(rgb) * (width * height)


def as_bgr(pixels):
    b = bytearray(pixels)
    b[0::3], b[2::3] = pixels[2::3], pixels[0::3]
    return bytes(b)


def docs_model():
    """The model program and the exec spec that docs/predictors.md shows."""
    with open(os.path.join(SRC, "docs", "predictors.md")) as f:
        text = f.read()
    code = re.search(r"<!-- checked: mymodel.py.*?-->\s*```python\n(.*?)```", text, re.S)
    spec = re.search(r"<!-- checked: command.*?-->\s*```sh\n.*?--predictor '([^']*)'", text, re.S)
    if not code or not spec:
        raise AssertionError("docs/predictors.md no longer shows the model kit's example")
    return code.group(1), spec.group(1)


class KitTest(unittest.TestCase):
    """The kit alone, without framecast."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-kit-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def model(self, code, name="m"):
        with open(os.path.join(self.dir, f"{name}.py"), "w") as f:
            f.write(code)

    def kit(self, *args, env=None):
        k = Kit(args, self.dir, env)
        self.addCleanup(k.close)
        return k

    def test_channel_orders_and_formats(self):
        self.model("""
def predict(frame):
    if frame.ndim == 3:
        label = "%d %d %d" % tuple(frame[0, 0])
        frame[0, 0] = 0  # writable, as OpenCV drawing code needs
    else:
        label = "shape %s mean %d" % ("x".join(map(str, frame.shape)), frame.mean())
    return [{"label": label, "box": [0, 0, 1, 1]}]
""")
        red = solid(4, 2, (250, 20, 10))
        for args, fmt, pixels, expect in [
            ((), RGB24, red, "10 20 250"),            # BGR by default: reordered
            ((), BGR24, as_bgr(red), "10 20 250"),    # as it comes
            (("rgb=1",), RGB24, red, "250 20 10"),
            (("rgb=1",), BGR24, as_bgr(red), "250 20 10"),
            ((), GRAY8, bytes([7]) * 8, "shape 2x4 mean 7"),
            ((), YUV420P, bytes([9]) * 12, "shape 3x4 mean 9"),  # OpenCV's I420 layout
        ]:
            k = self.kit("m:predict", *args)
            width, height = (4, 2)
            self.assertEqual(k.send(pixels, width, height, fmt)["detections"][0]["label"], expect,
                             f"{args} format {fmt}")
            code, log = k.close()
            self.assertEqual(code, 0, log)
            reordered = "frames arrive as" in log
            self.assertEqual(reordered, fmt in (RGB24, BGR24) and (fmt == RGB24) != bool(args), log)
        k = self.kit("m:predict")
        self.assertEqual(k.send(bytes(6 + 2 * 2 * 1), 3, 2, YUV420P)["detections"][0]["label"],
                         "shape 10 mean 0", "odd sides: the planes, flat")

    def test_return_forms(self):
        self.model("""
import numpy as np
LABELS = ["person", "car"]
CASES = [
    [{"label": "a", "score": 0.5, "box": [1, 2, 3, 4]}, {"box": (5, 6, 7, 8)}],  # dicts; defaults
    [("a", np.float32(0.25), np.int64(1), 2.5, 3, 4)],                           # a tuple, numpy numbers
    np.array([[1, 0.9, 10, 20, 30, 40], [0, 0.8, 0, 0, 5, 5]]),                  # class, score, box
    np.array([[0.7, 1, 2, 3, 4]], dtype=np.float32),                             # score, box
    np.array([[1, 2, 3, 4]]),                                                    # box
    np.zeros((0, 6)),                                                            # nothing
    [],
    (d for d in [{"label": 1, "box": [0, 0, 1, 1]}]),                            # a generator; a class
    [{"label": "far", "score": 7, "box": [-10, 90, 30, 30]}],                    # clipped, clamped
    [{"label": "gone", "score": -1, "box": [200, 0, 5, 5]}],                     # no area left
    [{"label": "x" * 40, "box": [0, 0, 1, 1]}, {"label": "\u00e9" * 20, "box": [0, 0, 1, 1]}],
    [{"label": "s", "score": np.array(0.5), "box": np.array([1.5, 2, 3, 4])}],   # 0-d and 1-d arrays
    [np.array([0, 0.5, 1, 2, 3, 4])],                                            # rows in a list
]
n = -1
def predict(frame):
    global n
    n += 1
    return CASES[n]
""")
        k = self.kit("m")  # the function defaults to predict
        W, H = 100, 100
        frame = solid(W, H, (0, 0, 0))
        answers = [k.send(frame, W, H, BGR24) for _ in range(13)]
        self.assertEqual([a for a in answers if "error" in a], [])
        dets = [a["detections"] for a in answers]
        self.assertEqual(dets[0], [{"label": "a", "score": 0.5, "box": [1, 2, 3, 4]},
                                   {"label": "object", "score": 1, "box": [5, 6, 7, 8]}])
        self.assertEqual(dets[1], [{"label": "a", "score": 0.25, "box": [1, 2.5, 3, 4]}])
        self.assertEqual(dets[2], [{"label": "car", "score": 0.9, "box": [10, 20, 30, 40]},
                                   {"label": "person", "score": 0.8, "box": [0, 0, 5, 5]}])
        self.assertEqual(dets[3], [{"label": "object", "score": 0.7, "box": [1, 2, 3, 4]}])
        self.assertEqual(dets[4], [{"label": "object", "score": 1, "box": [1, 2, 3, 4]}])
        self.assertEqual(dets[5], [])
        self.assertEqual(dets[6], [])
        self.assertEqual(dets[7], [{"label": "car", "score": 1, "box": [0, 0, 1, 1]}])
        self.assertEqual(dets[8], [{"label": "far", "score": 1, "box": [0, 90, 20, 10]}])
        self.assertEqual(dets[9], [{"label": "gone", "score": 0, "box": [100, 0, 0, 5]}])
        self.assertEqual(dets[10][0]["label"], "x" * 32)
        self.assertEqual(dets[10][1]["label"], "\u00e9" * 16, "cut at 32 bytes, between characters")
        self.assertEqual(dets[11], [{"label": "s", "score": 0.5, "box": [1.5, 2, 3, 4]}])
        self.assertEqual(dets[12], [{"label": "person", "score": 0.5, "box": [1, 2, 3, 4]}])
        code, log = k.close()
        self.assertEqual(code, 0, log)
        self.assertNotIn("error", log.lower())

    def test_bad_returns_are_that_frames_error(self):
        """Each bad value is answered with an error that says what is wrong;
        the next frame is answered normally by the same process."""
        self.model("""
import numpy as np
BAD = [
    [{"label": "a", "score": float("nan"), "box": [1, 1, 2, 2]}],
    [{"label": "a", "score": 0.5, "box": [1, 1, -2, 2]}],
    [("a", 0.5, 10, 10, 5, -1)],
    [{"label": "a", "score": 0.5, "box": [1, 1, float("inf"), 2]}],
    np.array([[0.5, 1, 1, np.nan, 2]]),
    "person",
    None,
    {"label": "a", "box": [1, 1, 2, 2]},
    [{"label": 1.5, "box": [1, 1, 2, 2]}],
    [{"label": None, "box": [1, 1, 2, 2]}],
    [{"label": "a", "score": "high", "box": [1, 1, 2, 2]}],
    [{"label": "a", "score": True, "box": [1, 1, 2, 2]}],
    [{"label": "a", "bbox": [1, 1, 2, 2]}],
    [{"label": "a", "box": [1, 1, 2]}],
    [("a", 0.5, 1, 2)],
    ("a", 0.5, 1, 1, 2, 2),
    [42],
    np.array([["a", "b", "c", "d"]]),
    np.zeros((2, 3)),
    [{"label": 5, "box": [1, 1, 2, 2]}],
]
n = -1
def predict(frame):
    global n
    n += 1
    if n == len(BAD):
        raise KeyError("missing")
    if n == len(BAD) + 1:
        return [{"label": "fine", "box": [1, 1, 2, 2]}]
    return BAD[n]
LABELS = {0: "zero"}
""")
        expect = [
            r"^predict's detection 0: score is nan \(expected a finite number\)$",
            r"^predict's detection 0: box \[1, 1, -2, 2\] has a negative width \(a box is \[x, y, width, "
            r"height\]; corners \[x1, y1, x2, y2\] are \[x1, y1, x2 - x1, y2 - y1\]\)$",
            r"^predict's detection 0: box \[10, 10, 5, -1\] has a negative height",
            r"^predict's detection 0: box width is inf \(expected a finite number\)$",
            r"^predict's detection 0: box width is nan",
            r"^predict returned 'person', a str \(expected a list of detections\)$",
            r"^predict returned None \(expected a list of detections; \[\] for none\)$",
            r"^predict returned \{'label': 'a', .*\}, a dict \(expected a list of detections\)$",
            r"^predict's detection 0: label is 1\.5, a float \(expected a string, or a class number\)$",
            r"^predict's detection 0: label is None, a NoneType",
            r"^predict's detection 0: score is 'high', a str \(expected a number\)$",
            r"^predict's detection 0: score is True \(expected a number, not a bool\)$",
            r"^predict's detection 0 has no \"box\" \(its keys: label, bbox; expected",
            r"^predict's detection 0: \"box\" is \[1, 1, 2\] \(expected \[x, y, w, h\]\)$",
            r"^predict's detection 0 is \('a', 0\.5, 1, 2\): 4 values \(a tuple is \(label, score, x, y, w, h\)\)$",
            r"^predict returned one detection, \('a', 0\.5, 1, 1, 2, 2\) \(expected a list of detections",
            r"^predict's detection 0 is 42, a int \(expected a dict \{label, score, box\}, or a tuple",
            r"^predict returned a numpy array of shape \(1, 4\) and type <U1 \(expected numbers in rows",
            r"^predict returned a numpy array of shape \(2, 3\)",
            r"^predict's detection 0: label is class 5, which LABELS does not name \(1 names\)$",
            r"^predict raised KeyError: 'missing' \(m\.py:\d+\)$",
        ]
        k = self.kit("m:predict")
        frame = solid(16, 16, (0, 0, 0))
        for i, pattern in enumerate(expect):
            answer = k.send(frame, 16, 16, BGR24)
            self.assertNotIn("detections", answer, f"case {i}")
            self.assertRegex(answer["error"], pattern, f"case {i}")
        self.assertEqual(k.send(frame, 16, 16, BGR24),
                         {"frame": len(expect), "detections": [{"label": "fine", "score": 1, "box": [1, 1, 2, 2]}]})
        code, log = k.close()
        self.assertEqual(code, 0, log)
        # The first few errors are in the log, the exception with its traceback; then it stops.
        self.assertIn("framecast.model: frame 0: predict's detection 0: score is nan", log)
        self.assertIn("more errors are not logged", log)
        self.assertEqual(log.count("framecast.model: frame "), 5, log)

    def test_exception_traceback_in_the_log_once(self):
        self.model("""
def predict(frame):
    return [{"label": "a", "box": [0, 0, 1, 1]}][1]
""")
        k = self.kit("m:predict")
        for _ in range(3):
            self.assertRegex(k.send(solid(2, 2, (0, 0, 0)), 2, 2, BGR24)["error"],
                             r"^predict raised IndexError: list index out of range \(m\.py:3\)$")
        code, log = k.close()
        self.assertEqual(log.count("Traceback (most recent call last)"), 1, log)
        self.assertIn('m.py", line 3, in predict', log)

    def test_setup_runs_once_before_the_first_frame(self):
        self.model("""
import time
calls = []
def setup():
    time.sleep(0.2)  # loading weights
    calls.append("setup")
def predict(frame):
    calls.append("predict")
    return [{"label": ",".join(calls), "box": [0, 0, 1, 1]}]
""")
        k = self.kit("m:predict")
        labels = [k.send(solid(2, 2, (0, 0, 0)), 2, 2, BGR24)["detections"][0]["label"] for _ in range(3)]
        self.assertEqual(labels, ["setup,predict", "setup,predict,predict", "setup,predict,predict,predict"])
        code, log = k.close()
        self.assertRegex(log, r"framecast.model: serving m:predict \(BGR frames, after setup\(\)\)\n")
        self.assertRegex(log, r"framecast.model: setup\(\) took 0\.[2-9]\d s\n")

    def test_a_failing_setup_exits_with_its_traceback(self):
        """framecast then restarts the process, and gives up after give_up_after
        quick exits with this last line in the stream's error."""
        self.model("""
def setup():
    raise FileNotFoundError("weights.pt")
def predict(frame):
    return []
""")
        k = self.kit("m:predict")
        code, log = k.close()
        self.assertEqual(code, 1)
        self.assertTrue(log.rstrip().endswith("FileNotFoundError: weights.pt"), log)

    def test_batches_hold_one_frame(self):
        self.model("""
def predict_batch(frames):
    assert isinstance(frames, list)
    out = [[{"label": "batch of %d" % len(frames), "box": [0, 0, 1, 1]}] for f in frames]
    return out if frames[0][0, 0, 0] == 0 else out * 2
""")
        k = self.kit("m")  # only predict_batch: taken as a batch function
        self.assertEqual(k.send(solid(2, 2, (0, 0, 0)), 2, 2, BGR24)["detections"][0]["label"], "batch of 1")
        self.assertEqual(k.send(solid(2, 2, (1, 1, 1)), 2, 2, BGR24)["error"],
                         "predict_batch returned 2 results for 1 frame (expected a list with one result "
                         "per frame, in order)")
        self.model("""
def detect_all(frames):
    return [[("batch", 1, 0, 0, 1, 1)] for f in frames]
""", "n")
        k = self.kit("n:detect_all", "batch=1")
        self.assertEqual(k.send(solid(2, 2, (0, 0, 0)), 2, 2, BGR24)["detections"][0]["label"], "batch")

    def test_batches_of_several_frames(self):
        """With exec's batch=N headers the kit collects a batch and calls
        predict_batch once for it; each frame has an array of its own (also
        when its channels are reordered), and its own answer, in order."""
        self.model("""
calls = 0
def predict_batch(frames):
    global calls
    calls += 1
    if frames[0][0, 0, 2] == 99:
        raise ValueError("no 99s")
    if frames[0][0, 0, 2] == 98:
        return [[]]
    return [[{"label": "r%d of %d, call %d" % (f[0, 0, 2], len(frames), calls), "box": [0, 0, 1, 1]}]
            for f in frames]
""")
        k = self.kit("m")

        def labels(answers):
            return [a["detections"][0]["label"] if "detections" in a else a["error"] for a in answers]

        rgb = [(solid(2, 2, (r, 0, 0)), 2, 2, RGB24) for r in (10, 20, 30)]  # reordered to BGR
        self.assertEqual(labels(k.send_batch(rgb)), ["r10 of 3, call 1", "r20 of 3, call 1", "r30 of 3, call 1"])
        bgr = [(as_bgr(solid(2, 2, (r, 0, 0))), 2, 2, BGR24) for r in (40, 50)]  # views of the input
        self.assertEqual(labels(k.send_batch(bgr)), ["r40 of 2, call 2", "r50 of 2, call 2"])
        self.assertEqual(labels(k.send_batch(rgb[:1])), ["r10 of 1, call 3"])
        self.assertEqual(k.send(solid(2, 2, (60, 0, 0)), 2, 2, RGB24)["detections"][0]["label"],
                         "r60 of 1, call 4")  # a 48-byte header: a batch of one
        # A frame whose pixels do not fit its header is its own error; the others
        # are predicted together.
        bad = (solid(2, 2, (70, 0, 0))[:11], 2, 2, RGB24)
        self.assertEqual(labels(k.send_batch([rgb[0], bad, rgb[1]])),
                         ["r10 of 2, call 5", "a 2x2 rgb24 frame of 11 bytes, expected 12", "r20 of 2, call 5"])
        # What goes wrong with the call is each of its frames' error.
        raised = labels(k.send_batch([(solid(2, 2, (99, 0, 0)), 2, 2, RGB24)] * 2))
        self.assertEqual(len(set(raised)), 1, raised)
        self.assertRegex(raised[0], r"^predict_batch raised ValueError: no 99s \(m\.py:\d+\)$")
        self.assertEqual(labels(k.send_batch([(solid(2, 2, (98, 0, 0)), 2, 2, RGB24)] * 3)),
                         ["predict_batch returned 1 results for 3 frames (expected a list with one result "
                          "per frame, in order)"] * 3)
        # A plain predict is called frame by frame, whatever the batch.
        self.model("""
def predict(frame):
    return [{"label": "r%d" % frame[0, 0, 2], "box": [0, 0, 1, 1]}]
""", "single")
        k = self.kit("single:predict")
        self.assertEqual(labels(k.send_batch(rgb)), ["r10", "r20", "r30"])

    def test_a_batch_that_does_not_count_down_is_a_protocol_error(self):
        self.model("def predict_batch(frames):\n    return [[] for f in frames]\n")
        k = self.kit("m")
        with self.assertRaises(AssertionError):
            k.send_batch([(solid(2, 2, (0, 0, 0)), 2, 2, RGB24)] * 2, left=[2, 2])
        status, log = k.close()
        self.assertEqual(status, 2, log)
        self.assertIn("framecast.model: frame 1: its header says 2 frames of its batch are left, expected 1 "
                      "after frame 0", log)

    def test_a_file_path_target_runs_without_its_main(self):
        os.mkdir(os.path.join(self.dir, "models"))
        with open(os.path.join(self.dir, "models", "helper.py"), "w") as f:
            f.write("LABEL = 'from helper'\n")
        with open(os.path.join(self.dir, "models", "cv.py"), "w") as f:
            f.write("""
import helper  # a neighbour of the model file
def detect(frame):
    return [(helper.LABEL, 1, 0, 0, 1, 1)]
if __name__ == "__main__":
    raise SystemExit("the model's own main must not run")
""")
        k = self.kit("models/cv.py:detect")
        self.assertEqual(k.send(solid(2, 2, (0, 0, 0)), 2, 2, BGR24)["detections"][0]["label"], "from helper")

    def test_targets_and_options_that_do_not_exist(self):
        self.model("def predict_frame(frame):\n    return []\n")
        self.model("import no_such_dependency\n", "broken")
        for args, code, message in [
            (["nomodule:predict"], 2, "framecast.model: cannot import 'nomodule': no such module in "),
            (["m:predict"], 2, "framecast.model: 'm' has no function 'predict'"),
            (["m"], 2, "framecast.model: 'm' has no function 'predict_batch'"),
            (["missing/file.py"], 2, "framecast.model: 'missing/file.py': no such file"),
            (["m:predict_frame", "bgr=1"], 2, "framecast.model: 'bgr=1' is not an option (expected rgb=0|1 or batch=0|1)"),
            (["broken"], 1, "ModuleNotFoundError: No module named 'no_such_dependency'"),
        ]:
            k = self.kit(*args)
            status, log = k.close()
            self.assertEqual(status, code, log)
            self.assertIn(message, log)

    def test_run_by_hand_it_says_what_runs_it(self):
        self.model("def predict(frame):\n    return []\n")
        p = subprocess.run([PYTHON, "-m", "framecast.model", "m:predict"], cwd=self.dir, stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=ANSWER_SECONDS,
                           env={**os.environ, "PYTHONPATH": KIT, "FRAMECAST_ANSWER_FD": "97"})
        self.assertEqual(p.returncode, 2)
        self.assertIn("file descriptor 97 (answers) is not open: this program is started by framecast's "
                      "exec predictor", p.stdout)


class KitThroughFramecastTest(unittest.TestCase):
    """The kit behind the real server."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-kit-server-")
        # Blue with a red 80x60 rectangle at (100, 50), lossless: read in the
        # wrong channel order, the blue background is what looks red.
        cls.clip = os.path.join(cls.dir, "red_on_blue.mkv")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=blue:size=320x240:rate=10", "-vf",
                        "drawbox=x=100:y=50:w=80:h=60:color=red:t=fill", "-frames:v", "8",
                        "-pix_fmt", "yuv420p", "-c:v", "ffv1", cls.clip], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def serve_clip(self, spec, cwd, frames=8):
        """Every frame of the clip through the predictor spec; returns the results."""
        # No PYTHONPATH: framecast puts the kit on the model's. python3: Debian's, with numpy.
        env = {"PYTHONPATH": "", "PATH": "/usr/bin:/bin"}
        with fc.Server("--stream", f"clip={self.clip},realtime=0,mode=every,wait=1",
                       "--predictor", spec, env=env, cwd=cwd) as server:
            sub = Subscriber(server.url("clip"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 60, "the clip to end")
            finally:
                sub.close()
        results = sub.results()
        self.assertEqual([r["frame"]["index"] for r in results], list(range(frames)))
        return results, "".join(server.stderr_lines)

    def assert_red_box(self, results):
        for r in results:
            self.assertNotIn("error", r, r)
            [d] = r["detections"]
            self.assertEqual(d["label"], "red")
            self.assertGreater(d["score"], 0.95)
            for got, want in zip(d["box"], [100, 50, 80, 60]):
                self.assertLessEqual(abs(got - want), 2, d["box"])

    def test_the_documented_program_runs_unchanged(self):
        """docs/predictors.md's program and command, as they are there: the boxes
        arrive at a WebSocket client; with exec's default format (rgb24) the kit
        reorders the channels and says how to avoid it."""
        code, spec = docs_model()
        self.assertIn("format=bgr24", spec)
        self.assertIn("cmd=python3 -m framecast.model mymodel:predict", spec)
        workdir = os.path.join(self.dir, "project")
        os.makedirs(workdir, exist_ok=True)
        with open(os.path.join(workdir, "mymodel.py"), "w") as f:
            f.write(code)
        results, log = self.serve_clip(spec, workdir)
        self.assert_red_box(results)
        self.assertIn("model: framecast.model: serving mymodel:predict (BGR frames)", log)
        self.assertNotIn("reordered", log)
        results, log = self.serve_clip(spec.replace("format=bgr24,", ""), workdir)
        self.assert_red_box(results)
        self.assertIn("model: framecast.model: frames arrive as rgb24 and are reordered to BGR for predict: "
                      "add format=bgr24 to the exec options", log)

    def test_an_install_finds_its_own_kit(self):
        """framecast installed under a prefix puts PREFIX/share/framecast/python
        on the model's PYTHONPATH, not the source tree's."""
        build = os.environ.get("FC_BUILD_DIR", os.path.dirname(os.path.abspath(fc.FRAMECAST)))
        prefix = os.path.join(self.dir, "prefix")
        subprocess.run(["cmake", "--install", build, "--prefix", prefix], check=True, capture_output=True)
        model = os.path.join(self.dir, "where.py")
        with open(model, "w") as f:
            f.write("""
import framecast
def setup():
    print("kit at " + framecast.__file__)
def predict(frame):
    return [("kit", 1, 0, 0, 4, 4)]
""")
        with fc.Server("--stream", f"clip={self.clip},realtime=0,wait=1", "--predictor",
                       f"exec:format=bgr24,cmd=python3 -m framecast.model {model}",
                       binary=os.path.join(prefix, "bin", "framecast"),
                       env={"PYTHONPATH": "", "PATH": "/usr/bin:/bin"}) as server:
            sub = Subscriber(server.url("clip"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 60, "the clip to end")
            finally:
                sub.close()
        self.assertTrue(sub.results(), "results")
        self.assertEqual(sub.results()[0]["detections"][0]["label"], "kit")
        log = "".join(server.stderr_lines)
        self.assertIn(f"model: kit at {os.path.realpath(prefix)}/share/framecast/python/framecast/__init__.py", log)

    def test_rgb_on_request(self):
        model = os.path.join(self.dir, "colour.py")
        with open(model, "w") as f:
            f.write("""
def predict(frame):
    c = frame[10, 10]  # the blue background
    return [{"label": "first %d last %d" % (c[0], c[2]), "box": [0, 0, 1, 1]}]
""")
        for opts, first_high in (("", True), (" rgb=1", False)):
            results, _ = self.serve_clip(f"exec:cmd=python3 -m framecast.model {model}{opts}", self.dir)
            for r in results:
                first, last = map(int, re.match(r"first (\d+) last (\d+)$", r["detections"][0]["label"]).groups())
                self.assertEqual(first > 200 and last < 50, first_high, (opts, r["detections"]))
                self.assertEqual(last > 200 and first < 50, not first_high, (opts, r["detections"]))

    def test_bad_returns_are_error_results_and_the_stream_goes_on(self):
        model = os.path.join(self.dir, "cycle.py")
        with open(model, "w") as f:
            f.write("""
import numpy as np
from cycle_labels import LABELS  # from the PYTHONPATH framecast was given
n = -1
def predict(frame):                      # call n is frame n (mode=every)
    global n
    n += 1
    k = n % 8
    if k == 1:
        return [{"label": "a", "score": float("nan"), "box": [1, 1, 5, 5]}]
    if k == 2:
        return [{"label": "a", "score": 0.5, "box": [1, 1, -5, 5]}]
    if k == 3:
        return "oops"
    if k == 4:
        return 1 / 0
    if k == 5:
        return [("car", 0.5, 150, 100, 20, 30)]      # clipped to the 160x120 frame
    if k == 6:
        return np.array([[1, 0.75, 10, 10, 20, 20]])
    if k == 7:
        return [{"label": "n%d" % n, "score": 0.25, "box": np.array([np.inf, 0, 1, 1])}]
    return [{"label": "n%d" % n, "score": 0.5, "box": [n % 40, 5, 10, 10]}]
""")
        spec = f"exec:format=bgr24,cmd=python3 -m framecast.model {model}"
        # A PYTHONPATH of the user's own is kept, before the kit's.
        extra = os.path.join(self.dir, "extra")
        os.makedirs(extra, exist_ok=True)
        with open(os.path.join(extra, "cycle_labels.py"), "w") as f:
            f.write('LABELS = ["person", "car"]\n')
        env = {"PYTHONPATH": extra, "PATH": "/usr/bin:/bin"}
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=20,wait=1,mode=every",
                       "--predictor", spec, env=env) as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                fc.wait_for(lambda: len(sub.results()) >= 40, 90, "40 results")
                metrics = fc.metrics(server.port)
            finally:
                sub.close()
        results = sub.results()[:40]
        self.assertEqual([r["frame"]["index"] for r in results], list(range(40)), "every frame, in order")
        errors = {
            1: r"^model: predict's detection 0: score is nan \(expected a finite number\)$",
            2: r"^model: predict's detection 0: box \[1, 1, -5, 5\] has a negative width",
            3: r"^model: predict returned 'oops', a str \(expected a list of detections\)$",
            4: r"^model: predict raised ZeroDivisionError: division by zero \(cycle\.py:\d+\)$",
            7: r"^model: predict's detection 0: box x is inf \(expected a finite number\)$",
        }
        for r in results:
            i = r["frame"]["index"]
            k = i % 8
            if k in errors:
                self.assertRegex(r.get("error", ""), errors[k], r)
                self.assertEqual(r["detections"], [], r)
                continue
            self.assertNotIn("error", r, r)
            want = {0: [{"label": f"n{i}", "score": 0.5, "box": [i % 40, 5, 10, 10]}],
                    5: [{"label": "car", "score": 0.5, "box": [150, 100, 10, 20]}],
                    6: [{"label": "car", "score": 0.75, "box": [10, 10, 20, 20]}]}[k]
            self.assertEqual(r["detections"], want, r)
        self.assertEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 0,
                         "the model never died")
        log = "".join(server.stderr_lines)
        self.assertEqual(log.count("exec predictor: started"), 1, log)
        self.assertIn("stream 'cam': model: Traceback (most recent call last):", log)

    def test_a_killed_model_is_restarted_and_set_up_again(self):
        state = os.path.join(self.dir, "calls.txt")
        model = os.path.join(self.dir, "pid_model.py")
        with open(model, "w") as f:
            f.write("""
import os
STATE = os.environ["KIT_STATE"]
ready = False
def note(what):
    with open(STATE, "a") as f:
        f.write("%s %d\\n" % (what, os.getpid()))
def setup():
    global ready
    note("setup")
    ready = True
def predict(frame):
    if not ready:
        raise RuntimeError("predict before setup")
    note("predict")
    return [{"label": "pid%d" % os.getpid(), "score": 1, "box": [0, 0, 8, 8]}]
""")
        env = {"PYTHONPATH": "", "PATH": "/usr/bin:/bin", "KIT_STATE": state}
        spec = f"exec:format=bgr24,cmd=python3 -m framecast.model {model}"
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=20", "--predictor", spec, env=env) as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                def labels():
                    return [r["detections"][0]["label"] for r in sub.results() if r["detections"]]
                fc.wait_for(lambda: len(labels()) >= 5, 60, "5 results from the model")
                first = labels()[0]
                os.kill(int(first[3:]), signal.SIGKILL)
                fc.wait_for(lambda: len([x for x in labels() if x != first]) >= 5, 60,
                            "5 results from a new model process")
                metrics = fc.metrics(server.port)
                n = len(sub.results())
            finally:
                sub.close()
        results = sub.results()[:n]
        seqs = [r["seq"] for r in results]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "the stream went on")
        died = [r for r in results if "error" in r]
        self.assertTrue(died, "the frame in flight, or the frames while it restarted, say so")
        self.assertRegex(died[0]["error"], r"^exec: the model process (was killed by signal 9|exited|closed)")
        self.assertGreaterEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 1)
        self.assertTrue(any(s.get("predictor_state") == "restarting" for s in sub.statuses()), sub.statuses())
        with open(state) as f:
            calls = [line.split() for line in f]
        pids = []
        for what, pid in calls:
            if pid not in pids:
                self.assertEqual(what, "setup", f"process {pid}'s first call")
                pids.append(pid)
        self.assertGreaterEqual(len(pids), 2)
        for pid in pids:
            self.assertEqual(calls.count(["setup", pid]), 1, f"setup() once in process {pid}")
        self.assertEqual([r["frame"]["index"] for r in results], sorted(r["frame"]["index"] for r in results))


if __name__ == "__main__":
    fc.main()
