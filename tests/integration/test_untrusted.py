"""Untrusted predictor output: an exec model (a real Python process) and a C
plug-in (built here with cc -shared) that return infinite and NaN numbers,
negative and huge boxes, more detections than they were given room for and
an error text that fills its whole buffer. Every message framecast sends must
stay valid JSON (parsed strictly: no NaN, no Infinity), boxes inside the
frame, scores in 0..1, counts at most the limit. Also: a plug-in that asks
for a pixel format that does not exist, one that leaves a thread running at
exit, and an exec command line that mentions a .so."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
LIMIT = 1024  # FC_MAX_DETECTIONS


def strict_loads(line):
    """json.loads as a browser's JSON.parse: NaN and Infinity are errors."""
    def reject(name):
        raise ValueError(f"non-JSON constant {name}")
    return json.loads(line, parse_constant=reject)


class StrictSubscriber:
    """framecast-client in the background; keeps every line, parsed or not."""

    def __init__(self, url, timeout=60):
        self.proc = subprocess.Popen([fc.FRAMECAST_CLIENT, "--timeout", str(timeout), url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     errors="replace")
        self.messages, self.invalid = [], []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if not line.endswith("\n"):
                break  # cut where close() ended the client mid-line, not a message
            try:
                msg = strict_loads(line)
            except ValueError:
                with self.lock:
                    self.invalid.append(line)
                continue
            with self.lock:
                self.messages.append(msg)

    def results(self):
        with self.lock:
            return [m for m in self.messages if m["type"] == "result"]

    def seen(self):
        with self.lock:
            return len(self.messages) + len(self.invalid)

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


def check_result(test, r):
    """The rules of docs/protocol.md for one result."""
    w, h = r["frame"]["width"], r["frame"]["height"]
    test.assertLessEqual(len(r["detections"]), LIMIT)
    for d in r["detections"]:
        x, y, bw, bh = d["box"]
        test.assertTrue(0 <= d["score"] <= 1, d)
        test.assertTrue(0 <= x and 0 <= y and bw > 0 and bh > 0, d)
        test.assertTrue(x + bw <= w and y + bh <= h, d)


# Answers by frame index: each kind of bad output in turn.
EXEC_MODEL = r'''
import json, os, struct, sys
HEADER = struct.Struct("<IIqqIIIIII")
stdin = sys.stdin.buffer
good = {"label": "ok", "score": 0.5, "box": [1, 1, 4, 4]}
while True:
    head = stdin.read(HEADER.size)
    if len(head) != HEADER.size:
        break
    fields = HEADER.unpack(head)
    if len(stdin.read(fields[7])) != fields[7]:
        break
    index = fields[2]
    kind = index % 5
    if kind == 0:    # overflows a double: inf once parsed
        line = '{"frame":%d,"detections":[{"label":"x","score":1e999,"box":[0,0,10,10]},%s]}' % (index, json.dumps(good))
    elif kind == 1:  # -inf and inf in a box; inf - inf and inf * 0 would be NaN
        line = '{"frame":%d,"detections":[{"label":"x","score":0.5,"box":[-1e999,0,1e999,10]},%s]}' % (index, json.dumps(good))
    elif kind == 2:  # beyond float's range once scaled, negative, huge and outside boxes
        line = json.dumps({"frame": index, "detections": [
            {"label": "far", "score": 0.5, "box": [1e300, 1e300, 1e300, 1e300]},
            {"label": "neg", "score": 2.5, "box": [-50, -50, 100, 100]},
            {"label": "huge", "score": -1, "box": [10, 10, 1e30, 1e30]},
            {"label": "out", "score": 0.5, "box": [5000, 5000, 10, 10]},
            {"label": "negsize", "score": 0.5, "box": [20, 20, -10, 5]}]})
    elif kind == 3:  # too many
        line = json.dumps({"frame": index, "detections": [good] * 1500})
    else:
        line = json.dumps({"frame": index, "detections": [good]})
    os.write(3, line.encode() + b"\n")
'''

PLUGIN = r'''
#include <framecast/predictor.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *spin(void *arg) {
    (void)arg;
    for (;;) usleep(200); /* returns into this library's code every 200 us */
    return NULL;
}

static int create(const char *opts, void **instance, char *err, size_t errlen) {
    (void)err; (void)errlen;
    *instance = strdup(opts ? opts : "");
    if (strstr(opts, "thread")) {
        pthread_t t;
        pthread_create(&t, NULL, spin, NULL);
        pthread_detach(t);
    }
    return 0;
}

static void wants(void *instance, enum fc_pixfmt *format, int *width, int *height) {
    *format = strstr(instance, "badformat") ? (enum fc_pixfmt)9 : FC_PIX_GRAY8;
    *width = *height = 0;
}

static void put(fc_detection *d, float score, float x, float y, float w, float h) {
    memset(d->label, 'L', sizeof d->label); /* all 32 bytes, no NUL */
    d->score = score;
    d->box[0] = x; d->box[1] = y; d->box[2] = w; d->box[3] = h;
}

static int predict(void *instance, const fc_frame_view *f, fc_detection *out, int max,
                   char *err, size_t errlen) {
    if (strstr(instance, "thread")) return 0; /* only the thread misbehaves */
    switch (f->index % 4) {
    case 0: /* fills its room and claims more */
        for (int i = 0; i < max; i++) put(&out[i], 0.5f, 1, 1, 2, 2);
        return max + 5;
    case 1:
        put(&out[0], NAN, 1, 1, 2, 2);
        put(&out[1], 0.5f, INFINITY, 0, 2, 2);
        put(&out[2], 0.5f, 1, 1, 2, 2);
        return 3;
    case 2: /* an error text with no NUL */
        memset(err, 'E', errlen);
        return -1;
    default:
        put(&out[0], 0.5f, -50, -50, 100, 100);
        put(&out[1], 0.5f, 10, 10, 1e30f, 1e30f);
        put(&out[2], 0.5f, 5000, 5000, 10, 10);
        return 3;
    }
}

static void destroy(void *instance) { free(instance); }

static const fc_predictor_api api = {FC_PREDICTOR_ABI_MAJOR, FC_PREDICTOR_ABI_MINOR, "untrusted", 0,
                                     create, wants, predict, destroy};
const fc_predictor_api *fc_predictor_entry(void) { return &api; }
'''


class UntrustedOutputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-untrusted-")
        cls.model = os.path.join(cls.dir, "bad_model.py")
        with open(cls.model, "w") as f:
            f.write(EXEC_MODEL)
        src = os.path.join(cls.dir, "untrusted.c")
        with open(src, "w") as f:
            f.write(PLUGIN)
        cls.plugin = os.path.join(cls.dir, "libuntrusted.so")
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-pthread", "-I", os.path.join(SRC, "include"),
                        "-o", cls.plugin, src], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def run_stream(self, predictor, n=15):
        with fc.Server("--stream", "cam=synthetic:size=320x180,fps=20,wait=1,mode=every",
                       "--predictor", predictor) as server:
            sub = StrictSubscriber(server.url("cam"))
            try:
                # results: a failing predictor also sends status messages
                fc.wait_for(lambda: len(sub.results()) >= n or sub.invalid, 60, f"{n} results")
            finally:
                sub.close()
        self.assertEqual(sub.invalid, [], "every message is valid JSON")
        results = sub.results()
        for r in results:
            check_result(self, r)
        return {r["frame"]["index"]: r for r in results}

    def test_exec_model_output(self):
        # width=160: framecast scales the model's boxes by 2 to source pixels
        by_index = self.run_stream(f"exec:width=160,cmd=/usr/bin/python3 {self.model}")
        for i in range(10):
            r = by_index[i]
            kind = i % 5
            labels = [d["label"] for d in r["detections"]]
            if kind in (0, 1):
                self.assertEqual(labels, ["ok"], r)
                self.assertIn("1 with a non-finite number", r["error"])
            elif kind == 2:
                self.assertEqual(labels, ["neg", "huge"], r)
                self.assertEqual(r["detections"][0]["box"], [0, 0, 100, 100])
                self.assertEqual(r["detections"][0]["score"], 1)
                self.assertEqual(r["detections"][1]["box"], [20, 20, 300, 160])
                self.assertEqual(r["detections"][1]["score"], 0)
                self.assertIn("3 of 5 detections dropped", r["error"])
            elif kind == 3:
                self.assertEqual(len(r["detections"]), LIMIT)
            else:
                self.assertEqual(labels, ["ok"])
                self.assertNotIn("error", r)

    def test_plugin_output(self):
        by_index = self.run_stream(self.plugin)
        for i in range(12):
            r = by_index[i]
            kind = i % 4
            if kind == 0:
                self.assertEqual(len(r["detections"]), LIMIT)
                self.assertIn(f"returned {LIMIT + 5} detections, over its limit of {LIMIT}", r["error"])
            elif kind == 1:
                self.assertEqual(len(r["detections"]), 1)
                self.assertIn("2 with a non-finite number", r["error"])
            elif kind == 2:
                self.assertEqual(r["detections"], [])
                self.assertEqual(r["error"], "E" * 255)  # cut to the buffer, nothing past it
            else:
                self.assertEqual([d["box"] for d in r["detections"]], [[0, 0, 50, 50], [10, 10, 310, 170]])
                self.assertEqual(r["detections"][0]["label"], "L" * 32)

    def test_plugin_asks_for_a_format_that_does_not_exist(self):
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--source", "synthetic:size=64x64",
                            "--predictor", self.plugin + ":badformat"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("wants() asked for pixel format 9", p.stderr)

    def test_plugin_thread_left_running_at_exit(self):
        """The library stays mapped (RTLD_NODELETE): its thread cannot run into unmapped code."""
        for _ in range(3):
            with fc.Server("--source", "synthetic:size=64x64,fps=20", "--predictor",
                           self.plugin + ":thread") as server:
                sub = StrictSubscriber(server.url())
                try:
                    fc.wait_for(lambda: len(sub.results()) >= 3, 30, "3 results")
                finally:
                    sub.close()
            # Server.stop (leaving the with block) requires exit status 0

    def test_exec_command_mentioning_a_so(self):
        """exec options are not a plug-in path because the command names a .so."""
        model = os.path.join(SRC, "examples", "predict_null.py")
        pred = f"exec:cmd=FC_UNUSED=/nonexistent/libx.so /usr/bin/python3 {model}"
        with fc.Server("--source", "synthetic:size=64x64,fps=20", "--predictor", pred) as server:
            sub = StrictSubscriber(server.url())
            try:
                fc.wait_for(lambda: len(sub.results()) >= 3, 30, "3 results")
                r = sub.results()[-1]
                self.assertEqual(r["model"], "exec")
                self.assertNotIn("error", r)
            finally:
                sub.close()


if __name__ == "__main__":
    fc.main()
