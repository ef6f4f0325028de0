"""The exec bridge with the models a newcomer writes: real Python processes
that print debug lines, write garbage, answer the wrong frame, fail every
frame, or do not exist. Whatever they do, no result carries boxes that are
not its own frame's; what they print is in the log, prefixed with the
stream; their state shows in /api/streams, in status messages and in
/metrics; a model that cannot start fails the stream with the reason."""

import json
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

# The frame loop every test model shares; each defines answer(index) -> list
# of lines to write on fd 3 (or does something else).
PRELUDE = r'''
import json, os, struct, sys
H = struct.Struct("<IIqqIIIIII")
def frames():
    while True:
        head = sys.stdin.buffer.read(H.size)
        if len(head) < H.size:
            return
        f = H.unpack(head)
        if len(sys.stdin.buffer.read(f[7])) != f[7]:
            return
        yield f[2]
def boxes(index):  # each frame's own detection: a result can be checked against its frame
    return [{"label": "f%d" % index, "score": 0.5, "box": [index % 40, 5, 10, 10]}]
def send(line):
    os.write(3, line.encode() + b"\n")
def good(index):
    send(json.dumps({"frame": index, "detections": boxes(index)}))
'''

MODELS = {
    # Debug prints on stdout and stderr, one of them a JSON line that looks
    # like an answer with wrong boxes: none of it may reach a result.
    "printing": PRELUDE + r'''
for i in frames():
    print("debug: frame %d" % i)
    print("debug on stderr: frame %d" % i, file=sys.stderr)
    print(json.dumps({"frame": i + 1, "detections": [{"label": "WRONG", "box": [0, 0, 99, 99]}]}))
    good(i)
''',
    # Answers its first 3 frames, then closes its answer pipe (fd 3) and keeps
    # reading frames: alive, but it can never answer again.
    "closing": PRELUDE + r'''
for n, i in enumerate(frames()):
    if n < 3:
        good(i)
    else:
        os.close(3)
        for _ in frames():
            pass
''',
    # Every 4th frame (1, 5, 9...) gets bytes that are not JSON.
    "garbage": PRELUDE + r'''
for i in frames():
    if i % 4 == 1:
        os.write(3, b"\x00\xff garbage {{{ \n")
    else:
        good(i)
''',
    # Frames 2, 7, 12... get the previous frame's answer (a stale result);
    # frames 4, 9, 14... are answered twice, so the next frame finds a
    # duplicate first.
    "wrongframe": PRELUDE + r'''
for i in frames():
    if i % 5 == 2:
        send(json.dumps({"frame": i - 1, "detections": boxes(i - 1)}))
    elif i % 5 == 4:
        good(i)
        good(i)
    else:
        good(i)
''',
    # Fails every frame; exits after three answers, so it is restarted too.
    "failing": PRELUDE + r'''
n = 0
for i in frames():
    send(json.dumps({"frame": i, "error": "boom on frame %d" % i}))
    n += 1
    if n == 3:
        sys.exit(1)
''',
    # Fails every other frame.
    "flaky": PRELUDE + r'''
for i in frames():
    if i % 2:
        send(json.dumps({"frame": i, "error": "odd frame %d" % i}))
    else:
        good(i)
''',
    # Loads its "weights" for 4 s before it reads the first frame.
    "slowstart": PRELUDE + r'''
import time
time.sleep(4)
for i in frames():
    good(i)
''',
    # The old protocol: answers on stdout.
    "stdout": PRELUDE + r'''
for i in frames():
    print(json.dumps({"frame": i, "detections": boxes(i)}), flush=True)
''',
}


def expected_boxes(index):
    return [{"label": f"f{index}", "score": 0.5, "box": [index % 40, 5, 10, 10]}]


class ExecBridgeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-bridge-")
        cls.models = {}
        for name, code in MODELS.items():
            path = os.path.join(cls.dir, f"{name}_model.py")
            with open(path, "w") as f:
                f.write(code)
            cls.models[name] = path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_model(self, name, results=40, extra="", until=None):
        """Every frame of a 20 fps stream through model `name`; returns
        (results, statuses, log, metrics)."""
        pred = f"exec:{extra}cmd=/usr/bin/python3 {self.models[name]}"
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=20,wait=1,mode=every",
                       "--predictor", pred) as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                fc.wait_for(until or (lambda: len(sub.results()) >= results), 90,
                            f"{results} results from the {name} model")
                metrics = fc.metrics(server.port)
                status, body = fc.http_get(server.port, "/api/streams")
                self.assertEqual(status, 200)
                api = json.loads(body)["streams"][0]
            finally:
                sub.close()
        return sub.results(), sub.statuses(), "".join(server.stderr_lines), metrics, api

    def assert_own_boxes(self, results):
        """No result carries another frame's answer: it has its own boxes or an error."""
        idx = [r["frame"]["index"] for r in results]
        self.assertEqual(idx, list(range(idx[0], idx[0] + len(idx))), "mode=every: every frame")
        for r in results:
            if "error" not in r:
                self.assertEqual(r["detections"], expected_boxes(r["frame"]["index"]), r)
            else:
                self.assertEqual(r["detections"], [], r)

    def test_prints_go_to_the_log_never_into_results(self):
        results, _, log, metrics, api = self.run_model("printing")
        self.assert_own_boxes(results)
        self.assertEqual([r for r in results if "error" in r], [], "nothing to restart for")
        self.assertNotIn("WRONG", json.dumps(results))
        for r in results:
            i = r["frame"]["index"]
            self.assertIn(f"stream 'cam': model: debug: frame {i}\n", log)
            self.assertIn(f"stream 'cam': model: debug on stderr: frame {i}\n", log)
        self.assertEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 0)
        self.assertEqual(metrics['framecast_predictor_errors_total{stream="cam"}'], 0)
        self.assertEqual(api["predictor_state"], "ok")

    def test_garbage_answers_restart_the_model(self):
        results, _, log, metrics, api = self.run_model("garbage", results=60)
        self.assert_own_boxes(results)
        errors = {r["frame"]["index"]: r["error"] for r in results if "error" in r}
        garbage = [i for i, e in errors.items() if e.startswith("exec: the model's answer is not a JSON")]
        self.assertIn(1, garbage, "the first garbage answer is that frame's error")
        for i in garbage:
            self.assertEqual(i % 4, 1, f"frame {i}: only frames answered with garbage say so")
        fine = [r["frame"]["index"] for r in results if "error" not in r]
        self.assertGreaterEqual(len([i for i in fine if i > 1]), 3,
                                "correct answers again after the restart")
        self.assertGreaterEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 1)
        self.assertGreaterEqual(metrics['framecast_predictor_errors_total{stream="cam"}'],
                                len(errors))
        self.assertIn("exec predictor: started", log)

    def test_a_model_that_closes_its_answers_is_restarted(self):
        pred = f"exec:cmd=/usr/bin/python3 {self.models['closing']}"
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=20,wait=1,mode=every",
                       "--predictor", pred) as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                # Each process answers 3 frames, then closes: restarts give
                # good answers again, and the stream never stops.
                fc.wait_for(lambda: fc.metrics(server.port).get(
                    'framecast_predictor_restarts_total{stream="cam"}', 0) >= 2, 90,
                    "two restarts of the model that closed its answers")
                fc.wait_for(lambda: len(sub.results()) >= 12, 60, "results after the restarts")
            finally:
                sub.close()
        results = sub.results()
        self.assert_own_boxes(results)
        errors = [r["error"] for r in results if "error" in r]
        self.assertTrue(errors, "the frame in flight when the answers closed gets an error")
        good = [r for r in results if "error" not in r]
        self.assertGreaterEqual(len(good), 6, "answers again after each restart")
        self.assertIn("exec predictor: started", "".join(server.stderr_lines))

    def test_wrong_frame_answers_restart_the_model(self):
        results, _, log, metrics, api = self.run_model("wrongframe", results=60)
        self.assert_own_boxes(results)
        errors = {r["frame"]["index"]: r["error"] for r in results if "error" in r}
        self.assertIn("the model answered frame 1 when frame 2 was asked", errors.get(2, ""))
        mismatches = [i for i, e in errors.items() if e.startswith("exec: the model answered frame")]
        self.assertGreaterEqual(len(mismatches), 2, errors)
        for i in mismatches:
            # a stale answer (i % 5 == 2), or the duplicate of the previous frame's
            self.assertIn(i % 5, (0, 2), f"frame {i}: {errors[i]}")
        fine = [r["frame"]["index"] for r in results if "error" not in r]
        self.assertGreaterEqual(len([i for i in fine if i > 2]), 3, "answers again after the restart")
        self.assertGreaterEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 2)

    def test_failing_model_shows_failing_and_moves_both_counters(self):
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=20",
                       "--predictor", f"exec:cmd=/usr/bin/python3 {self.models['failing']}") as server:
            sub = Subscriber(server.url("cam"), timeout=120)
            try:
                def api():
                    return json.loads(fc.http_get(server.port, "/api/streams")[1])["streams"][0]
                s = fc.wait_for(lambda: (lambda s: s if s["predictor_state"] == "failing" else None)(api()),
                                60, "/api/streams to show the predictor failing")
                self.assertEqual(s["state"], "live", "the stream itself goes on")
                self.assertIn("model: boom on frame", s["predictor_error"])
                m = fc.wait_for(lambda: (lambda m: m if m['framecast_predictor_restarts_total{stream="cam"}'] >= 1
                                         else None)(fc.metrics(server.port)), 60, "a restart")
                self.assertGreaterEqual(m['framecast_predictor_errors_total{stream="cam"}'], 3)
                fc.wait_for(lambda: any(st.get("predictor_state") == "failing" for st in sub.statuses()), 30,
                            "a status message saying the predictor is failing")
                st = next(st for st in sub.statuses() if st.get("predictor_state") == "failing")
                self.assertEqual(st["state"], "live")
                self.assertIn("boom", st["predictor_error"])
                self.assertTrue(all("error" in r for r in sub.results()))
                self.assertNotIn("failed", [st["state"] for st in sub.statuses()],
                                 "a model that answers is never given up")
            finally:
                sub.close()

    def test_a_flaky_model_is_one_failing_not_a_message_per_frame(self):
        """Status messages are never dropped for a client: a model failing every other
        frame must not make one per frame. It is failing, with the last error, until a
        second passes without one."""
        results, statuses, _, metrics, api = self.run_model("flaky", results=40)
        self.assert_own_boxes(results)
        self.assertEqual(sorted({r["frame"]["index"] % 2 for r in results if "error" in r}), [1])
        states = [s.get("predictor_state") for s in statuses]
        self.assertIn("failing", states)
        # One status, not one per failing frame (20 here): at most a pair more,
        # when a loaded machine stalled the stream for a second without errors.
        self.assertLessEqual(len(states[states.index("failing") + 1:]), 2, states)
        self.assertEqual(api["predictor_state"], "failing")
        self.assertRegex(api["predictor_error"], r"^model: odd frame \d+$")
        self.assertGreaterEqual(metrics['framecast_predictor_errors_total{stream="cam"}'],
                                len([r for r in results[:40] if "error" in r]))

    def test_missing_command_fails_the_stream_with_the_reason(self):
        missing = os.path.join(self.dir, "no_such_model")
        with fc.Server("--stream", "cam=synthetic:size=64x64,fps=20",
                       "--stream", "other=synthetic:size=64x64,fps=20",
                       "--predictor", f"exec:cmd={missing} --threshold 3") as server:
            sub = Subscriber(server.url("cam"), timeout=60)
            try:
                def cam():
                    streams = json.loads(fc.http_get(server.port, "/api/streams")[1])["streams"]
                    return next(s for s in streams if s["name"] == "cam")
                s = fc.wait_for(lambda: (lambda s: s if s["state"] == "failed" else None)(cam()), 30,
                                "the stream to fail")
                for text in (s["error"], s["predictor_error"]):
                    self.assertIn("3 times in a row", text)
                    self.assertIn("status 127", text)
                    self.assertIn(f"{missing}: not found", text)  # the shell's words, quoted
                self.assertEqual(s["predictor_state"], "failed")
                m = fc.metrics(server.port)
                self.assertEqual(m['framecast_predictor_restarts_total{stream="cam"}'], 2)
                # framecast-client saw the final status and exited by itself, with status 4
                self.assertEqual(sub.proc.wait(timeout=30), 4)
                self.assertEqual(sub.statuses()[-1]["state"], "failed")
                self.assertIn("not found", sub.statuses()[-1]["error"])
                log = "".join(server.stderr_lines)
                self.assertRegex(log, f"stream 'cam': model: .*sh: 1: {missing}: not found\n")
            finally:
                sub.close()

    def test_missing_command_with_exit_when_done(self):
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--exit-when-done",
                            "--source", "synthetic:size=64x64,fps=20",
                            "--predictor", "exec:cmd=/nonexistent/model"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("stream 'demo': failed: exec: the model exited with status 127 before "
                      "answering a frame, 3 times in a row, so it is not started again", p.stderr)

    def test_answers_on_stdout_get_a_hint(self):
        """A model written for the old protocol: its frames time out, and the error says where
        answers go."""
        # 1.5 s for the first answer: a loaded machine's python3 may take
        # more than a few hundred ms to print its answer to stdout, and the
        # hint is for a model seen to write there.
        results, _, log, _, _ = self.run_model("stdout", results=3,
                                               extra="timeout_ms=300,start_timeout_ms=1500,")
        hinted = [r for r in results if "answers go to file descriptor 3" in r.get("error", "")]
        self.assertTrue(hinted, results)
        self.assertIn('stream \'cam\': model: {"frame": %d' % hinted[0]["frame"]["index"], log)

    def test_slow_start_is_not_a_timeout(self):
        """timeout_ms is per frame; a child's first answer may take start_timeout_ms (its
        model loads first), so a model that loads for 4 s is not killed at 2.5 s, again
        and again. (2.5 s per frame: room for a loaded machine's answers.)"""
        results, _, _, metrics, api = self.run_model("slowstart", results=20, extra="timeout_ms=2500,")
        self.assert_own_boxes(results)
        self.assertEqual([r for r in results if "error" in r], [])
        self.assertEqual(metrics['framecast_predictor_restarts_total{stream="cam"}'], 0)

    def test_name_sets_the_model_field(self):
        results, _, _, _, api = self.run_model("printing", results=3, extra="name=my-detector,")
        self.assertEqual({r["model"] for r in results}, {"my-detector"})
        self.assertIn("name=my-detector", api["predictor"])

    def test_numpy_example_frames_are_writable_and_bgr_on_request(self):
        """examples/predict_numpy.py's serve(): a model that writes into its frame (as OpenCV
        drawing code does) and reads format=bgr24 frames of a red video as B, G, R; its
        predict returns numpy numbers, which the example converts."""
        model = os.path.join(self.dir, "bgr_model.py")
        with open(model, "w") as f:
            f.write(f"""
import sys
sys.path.insert(0, {os.path.join(SRC, "examples")!r})
import numpy as np
import predict_numpy

def predict(frame):
    frame[0, 0] = 0  # raises on a read-only array
    b, g, r = (frame[..., k].mean() for k in range(3))
    label = "red" if r > 200 and b < 60 and g < 60 else "b%d g%d r%d" % (b, g, r)
    return [{{"label": label, "score": np.float32(0.5), "box": [np.int64(1), 1, 8, 8]}}]

predict_numpy.serve(predict)
""")
        clip = os.path.join(self.dir, "red.mp4")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "color=c=red:size=64x64:rate=10", "-frames:v", "5", "-pix_fmt", "yuv420p", clip],
                       check=True)
        with fc.Server("--stream", f"red={clip},realtime=0,mode=every,wait=1",
                       "--predictor", f"exec:format=bgr24,cmd=/usr/bin/python3 {model}") as server:
            sub = Subscriber(server.url("red"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 60, "the clip to end")
            finally:
                sub.close()
        results = sub.results()
        self.assertEqual(len(results), 5)
        for r in results:
            self.assertNotIn("error", r)
            self.assertEqual(r["detections"], [{"label": "red", "score": 0.5, "box": [1, 1, 8, 8]}])


if __name__ == "__main__":
    fc.main()
