"""Predictors end to end: the exec bridge with the numpy example (and a
model that dies or hangs), C plugins built with one cc command, the ABI
check, and results in frame order with several workers."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
NUMPY_MODEL = os.path.join(SRC, "examples", "predict_numpy.py")


def child_pids(marker):
    out = subprocess.run(["pgrep", "-f", "--", marker], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


class ExecTest(unittest.TestCase):
    def test_numpy_model_and_restart(self):
        # a copy under a unique name, so the test finds its own model process
        tmp = tempfile.mkdtemp(prefix="fc-exec-")
        marker = os.path.join(tmp, f"model_{os.getpid()}.py")
        shutil.copy(NUMPY_MODEL, marker)
        cmd = f"exec:timeout_ms=5000,cmd=/usr/bin/python3 {marker} --threshold 150"
        with fc.Server("--stream", "cam=synthetic:size=320x180,fps=15,objects=3", "--predictor", cmd) as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                fc.wait_for(lambda: len([r for r in sub.results() if r["detections"]]) >= 10, 60,
                            "10 results with detections")
                r = [r for r in sub.results() if r["detections"]][-1]
                self.assertEqual(r["model"], "exec")
                d = r["detections"][0]
                self.assertEqual(d["label"], "bright")
                self.assertTrue(0 < d["score"] <= 1)
                self.assertEqual(len(d["box"]), 4)
                self.assertNotIn("error", r)
                model = "^/usr/bin/python3 " + marker  # the model, not the shell around it
                pids = fc.wait_for(lambda: child_pids(model), 10, "the model process")
                os.kill(pids[0], signal.SIGKILL)
                fc.wait_for(lambda: any("error" in r for r in sub.results()), 20,
                            "a frame reported as an error")
                err = next(r for r in sub.results() if "error" in r)
                self.assertIn("model process", err["error"])
                n = len(sub.results())
                fc.wait_for(lambda: len([r for r in sub.results()[n:] if "error" not in r]) >= 5, 60,
                            "results again after the restart")
                new = fc.wait_for(lambda: child_pids(model), 10, "the restarted model")
                self.assertNotEqual(new, pids)
                seqs = [r["seq"] for r in sub.results()]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), "the stream went on")
            finally:
                sub.close()

    def test_hanging_model(self):
        """A model that never answers: each frame times out and it is restarted, on and on
        (it never exited by itself, so it is not given up; a missing command is:
        test_exec_bridge.py)."""
        with fc.Server("--stream", "hang=synthetic:size=64x64,fps=10",
                       "--stream", "ok=synthetic:size=64x64,fps=10",
                       "--predictor", "exec:timeout_ms=300,start_timeout_ms=300,cmd=sleep 30") as server:
            sub = Subscriber(server.url("hang"))
            try:
                fc.wait_for(lambda: len([r for r in sub.results() if "error" in r]) >= 3, 30,
                            "timeout errors")
                err = next(r["error"] for r in sub.results() if "error" in r)
                self.assertIn("300 ms", err)
                self.assertFalse(sub.has_state("failed"))
            finally:
                sub.close()

    def test_bad_exec_options(self):
        for pred, want in [("exec:", "cmd= is required"), ("exec:format=rgba,cmd=x", "format='rgba'")]:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", pred],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(want, p.stderr)


TESTDATA = os.environ.get("FC_TESTDATA", os.path.join(SRC, "build", "testdata"))
VTEST = os.path.join(TESTDATA, "vtest.avi")
MESSI = os.path.join(TESTDATA, "messi5.jpg")


def has_cascade():
    p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", "cascade:"],
                       capture_output=True, text=True, timeout=30)
    return "unknown predictor" not in p.stderr


class RealFootageTest(unittest.TestCase):
    @unittest.skipUnless(os.path.exists(VTEST), f"{VTEST} absent (scripts/bootstrap extracts it "
                         "from Debian's opencv-doc)")
    def test_motion_on_people_walking(self):
        """vtest.avi: people walk through the whole clip; motion boxes on most frames."""
        with fc.Server("--stream", f"walk={VTEST},realtime=0,mode=every,wait=1",
                       "--predictor", "motion") as server:
            sub = Subscriber(server.url("walk"), timeout=300)
            try:
                fc.wait_for(lambda: len(sub.results()) >= 200, 240, "200 results")
                results = sub.results()[30:200]  # after the background settles
                with_boxes = [r for r in results if r["detections"]]
                self.assertGreater(len(with_boxes), 0.9 * len(results))
                w, h = results[0]["frame"]["width"], results[0]["frame"]["height"]
                self.assertEqual((w, h), (768, 576))
                for r in with_boxes:
                    for d in r["detections"]:
                        x, y, bw, bh = d["box"]
                        self.assertTrue(0 <= x and 0 <= y and x + bw <= w + 1 and y + bh <= h + 1, d)
                        # people, not the whole frame
                        self.assertLess(bw * bh, 0.25 * w * h, d)
            finally:
                sub.close()

    @unittest.skipUnless(os.path.exists(MESSI), f"{MESSI} absent (scripts/bootstrap extracts it "
                         "from Debian's opencv-doc)")
    def test_cascade_finds_the_face(self):
        """A short video of messi5.jpg: the frontal-face cascade finds the face near (238, 100)."""
        if not has_cascade():
            self.skipTest("framecast was built without OpenCV (the cascade predictor)")
        tmp = tempfile.mkdtemp(prefix="fc-face-")
        clip = os.path.join(tmp, "face.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-loop", "1", "-i", MESSI,
                        "-t", "1", "-r", "10", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", clip], check=True)
        with fc.Server("--stream", f"face={clip},realtime=0,mode=every,wait=1",
                       "--predictor", "cascade:model=haarcascade_frontalface_default.xml") as server:
            sub = Subscriber(server.url("face"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 120, "the clip to end")
                results = sub.results()
                self.assertEqual(len(results), 10)
                for r in results:
                    self.assertEqual(r["model"], "cascade")
                    near = [d for d in r["detections"]
                            if abs(d["box"][0] + d["box"][2] / 2 - 238) < 25
                            and abs(d["box"][1] + d["box"][3] / 2 - 100) < 25
                            and 25 < d["box"][2] < 100]
                    self.assertTrue(near, r["detections"])
                    self.assertEqual(near[0]["label"], "frontalface_default")
            finally:
                sub.close()
                shutil.rmtree(tmp, ignore_errors=True)

    def test_cascade_bad_model(self):
        if not has_cascade():
            self.skipTest("framecast was built without OpenCV (the cascade predictor)")
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor",
                            "cascade:model=nosuch.xml"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot load model 'nosuch.xml'", p.stderr)


    def test_cascade_malformed_model(self):
        """OpenCV throws on a malformed XML: a clear error, not std::terminate."""
        if not has_cascade():
            self.skipTest("framecast was built without OpenCV (the cascade predictor)")
        tmp = tempfile.mkdtemp(prefix="fc-badxml-")
        bad = os.path.join(tmp, "broken.xml")
        with open(bad, "w") as f:
            f.write('<?xml version="1.0"?><opencv_storage><cascade><stageType>BOOST')
        try:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor",
                                f"cascade:model={bad}"], capture_output=True, text=True, timeout=30)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"cannot load model '{bad}'", p.stderr)


class PluginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-plugin-")

    def build(self, source, name):
        """The one-line build from the example's header comment."""
        so = os.path.join(self.dir, name)
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-I", os.path.join(SRC, "include"),
                        "-o", so, source], check=True)
        return so

    def test_example_plugin_loads_and_predicts(self):
        so = self.build(os.path.join(SRC, "examples", "bright_plugin.c"), "libbright.so")
        with fc.Server("--source", "synthetic:size=320x180,fps=15", "--predictor", f"{so}:threshold=150") as server:
            sub = Subscriber(server.url())
            try:
                fc.wait_for(lambda: any(r["detections"] for r in sub.results()), 30, "plugin detections")
                r = next(r for r in sub.results() if r["detections"])
                self.assertEqual(r["model"], "bright")
                self.assertEqual(r["detections"][0]["label"], "bright")
            finally:
                sub.close()

    def test_wrong_abi_and_missing_plugin(self):
        src = os.path.join(self.dir, "old.c")
        with open(src, "w") as f:
            f.write('#include <framecast/predictor.h>\n'
                    'static const fc_predictor_api api = {.abi_major = 99, .name = "old"};\n'
                    'const fc_predictor_api *fc_predictor_entry(void) { return &api; }\n')
        so = self.build(src, "libold.so")
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", so],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("ABI 99", p.stderr)
        self.assertIn("rebuild", p.stderr)
        missing = os.path.join(self.dir, "libnope.so")
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--predictor", missing + ":x=1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot load plugin", p.stderr)
        self.assertIn("libnope.so", p.stderr)


class WorkersTest(unittest.TestCase):
    def test_slow_frames_are_reported(self):
        """An in-process predictor over --predict-timeout: its results say so."""
        with fc.Server("--source", "synthetic:size=64x64,fps=10,wait=1",
                       "--predictor", "fake:count=1,delay_ms=120", "--predict-timeout", "50") as server:
            sub = Subscriber(server.url())
            try:
                fc.wait_for(lambda: len(sub.results()) >= 3, 20, "3 results")
                for r in sub.results():
                    self.assertIn("over the 50 ms per-frame limit", r.get("error", ""), r)
                    self.assertEqual(len(r["detections"]), 1)  # what it found is still there
                # Each such frame counts as a predictor error.
                got = len(sub.results())
                errors = 'framecast_predictor_errors_total{stream="demo"}'
                fc.wait_for(lambda: fc.metrics(server.port).get(errors, 0) >= got,
                            10, f"framecast_predictor_errors_total >= {got}")
            finally:
                sub.close()

    def test_results_in_frame_order_with_two_workers(self):
        with fc.Server("--stream", "cam=synthetic:size=64x64,fps=40,workers=2,wait=1",
                       "--predictor", "fake:count=1,delay_ms=50") as server:
            sub = Subscriber(server.url("cam"))
            try:
                fc.wait_for(lambda: len(sub.results()) >= 60, 60, "60 results")
                idx = [r["frame"]["index"] for r in sub.results()]
                self.assertEqual(idx, sorted(set(idx)), "frame order, no duplicates")
                seqs = [r["seq"] for r in sub.results()]
                self.assertEqual(seqs, list(range(1, len(seqs) + 1)))
                # the server's rate (publish times), not the delivery's
                span = (sub.results()[-1]["publish_us"] - sub.results()[0]["publish_us"]) / 1e6
                # one 50 ms worker could not exceed 20 results/s; two share the frames
                self.assertGreater((len(seqs) - 1) / span, 25)
            finally:
                sub.close()


if __name__ == "__main__":
    fc.main()
