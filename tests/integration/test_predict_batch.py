"""Batches of frames, when the model asks for them (ABI minor 2's batch_size
and predict_batch; exec's batch=N; the kit's predict_batch).

A worker takes the frame it waits for and then the frames already waiting,
up to the batch size, and predicts them in one call; each frame's result is
still its own, published in frame order, exactly once in mode=every. Through
the exec bridge and the Python model kit: a batch=4 model gets lists of 2 to
4 frames when frames queue up, never more, and batch=1 keeps lists of one.
A model that answers a batch out of order breaks the protocol: every frame
of that batch is an error result and the process is restarted. Bad batch=
values are refused at start-up with the option and its range. In process: a
C plug-in of ABI minor 2 gets batches, each frame with its own detections or
error and --predict-timeout per frame; the same plug-in built as minor 1 is
called frame by frame (its batch entries are never read)."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
# Fast enough that frames queue up behind a 60 ms model: in mode=every the
# slot holds up to 4 of them, so a batch of 4 fills.
FAST = "cam=synthetic:size=64x48,fps=60,mode=every,wait=1"
ERRORS = 'framecast_predictor_errors_total{stream="cam"}'
RESTARTS = 'framecast_predictor_restarts_total{stream="cam"}'

# Each call sleeps 60 ms and labels each frame with the size of its batch.
KIT_MODEL = """
import time
def predict_batch(frames):
    time.sleep(0.06)
    return [[{"label": str(len(frames)), "score": 1, "box": [0, 0, 4, 4]}] for f in frames]
"""

# The protocol without the kit: reads a whole batch (56-byte headers, the
# frames left counting down), then answers it. The first batch of two or
# more frames it ever gets (a file in its directory remembers) is answered
# second frame first, and it prints which frames those were.
RAW_MODEL = r'''
import json, os, struct, sys
H = struct.Struct("<IIqqIIIIIIII")
swapped = os.path.exists("swapped")
def read_frame():
    head = sys.stdin.buffer.read(H.size)
    if len(head) < H.size:
        sys.exit(0)
    f = H.unpack(head)
    assert f[0] == 0x32464346 and f[1] == 56, f[:2]
    if len(sys.stdin.buffer.read(f[7])) != f[7]:
        sys.exit(0)
    return f[2], f[10]
def answer(index, k):
    os.write(3, (json.dumps({"frame": index, "detections": [
        {"label": "f%d/%d" % (index, k), "score": 0.5, "box": [0, 0, 4, 4]}]}) + "\n").encode())
while True:
    index, left = read_frame()
    batch = [index]
    while left > 1:
        index, now = read_frame()
        assert now == left - 1, (now, left)
        left = now
        batch.append(index)
    if len(batch) > 1 and not swapped:
        swapped = True
        open("swapped", "w").close()
        print("swapped batch %s" % ",".join(map(str, batch)), flush=True)
        batch[0], batch[1] = batch[1], batch[0]
    for index in batch:
        answer(index, len(batch))
'''

# A C plug-in that takes batches (ABI minor 2, or MINOR=1 to build it as a
# minor-1 plug-in with the same table). Each call sleeps delay_ms. Frames
# 3, 8, 13... fail with their own error; in batches, frames 4, 9, 14... are
# left without a count.
PLUGIN = r'''
#include <framecast/predictor.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#ifndef MINOR
#define MINOR FC_PREDICTOR_ABI_MINOR
#endif

struct inst { int batch, delay_ms; };

static int create(const char *opts, void **out, char *err, size_t errlen) {
    struct inst *p = calloc(1, sizeof *p);
    if (!p) return -1;
    p->batch = 4;
    if (opts && *opts && sscanf(opts, "batch=%d,delay_ms=%d", &p->batch, &p->delay_ms) != 2) {
        snprintf(err, errlen, "batchy: expected batch=N,delay_ms=N");
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

static void wants(void *i, enum fc_pixfmt *f, int *w, int *h) {
    (void)i;
    *f = FC_PIX_GRAY8;
    *w = *h = 0;
}

static void nap(int ms) {
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int one(const fc_frame_view *f, fc_detection *out, char *err, size_t errlen, int k) {
    if (f->index % 5 == 3) {
        snprintf(err, errlen, "frame %lld fails", (long long)f->index);
        return -1;
    }
    snprintf(out[0].label, sizeof out[0].label, k ? "batch%d" : "single", k);
    out[0].score = 1;
    out[0].box[0] = out[0].box[1] = 0;
    out[0].box[2] = out[0].box[3] = 4;
    return 1;
}

static int predict(void *i, const fc_frame_view *f, fc_detection *out, int max, char *err,
                   size_t errlen) {
    (void)max;
    nap(((struct inst *)i)->delay_ms);
    return one(f, out, err, errlen, 0);
}

static int batch_size(void *i) {
    return ((struct inst *)i)->batch;
}

#ifndef NO_PREDICT_BATCH
static void predict_batch(void *i, fc_batch_item *items, int n) {
    nap(((struct inst *)i)->delay_ms);
    for (int k = 0; k < n; k++)
        if (items[k].frame->index % 5 != 4)
            items[k].count = one(items[k].frame, items[k].out, items[k].err, items[k].errlen, n);
}
#endif

static void destroy(void *i) {
    free(i);
}

static const fc_predictor_api api = {
    .abi_major = FC_PREDICTOR_ABI_MAJOR,
    .abi_minor = MINOR,
    .name = "batchy",
    .create = create,
    .wants = wants,
    .predict = predict,
    .destroy = destroy,
    .batch_size = batch_size,
#ifndef NO_PREDICT_BATCH
    .predict_batch = predict_batch,
#endif
};

const fc_predictor_api *fc_predictor_entry(void) {
    return &api;
}
'''


def runs(labels):
    """Splits labels into the batches they came in: with one worker a batch
    is consecutive frames, each labelled with the batch's size."""
    out, i = [], 0
    while i < len(labels):
        k = int(labels[i])
        out.append(labels[i:i + k])
        i += k
    return out


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-batch-")
        with open(os.path.join(cls.dir, "batchmodel.py"), "w") as f:
            f.write(KIT_MODEL)
        with open(os.path.join(cls.dir, "raw_model.py"), "w") as f:
            f.write(RAW_MODEL)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def serve(self, predictor, count, *extra, stream=FAST):
        """count results of a stream through predictor; returns (results, log, metrics)."""
        env = {"PYTHONPATH": "", "PATH": "/usr/bin:/bin"}
        with fc.Server("--stream", stream, "--predictor", predictor, *extra, env=env,
                       cwd=self.dir) as server:
            sub = Subscriber(server.url("cam"), timeout=60)
            try:
                fc.wait_for(lambda: len(sub.results()) >= count, 25, f"{count} results")
                metrics = fc.metrics(server.port)
            finally:
                sub.close()
        return sub.results(), "".join(server.stderr_lines), metrics

    def assert_every_frame_in_order(self, results):
        idx = [r["frame"]["index"] for r in results]
        self.assertEqual(idx, list(range(idx[0], idx[0] + len(idx))), "every frame once, in order")

    def test_the_kit_gets_batches_of_waiting_frames(self):
        results, log, metrics = self.serve(
            "exec:batch=4,cmd=python3 -m framecast.model batchmodel:predict_batch", 60)
        self.assert_every_frame_in_order(results)
        for r in results:
            self.assertNotIn("error", r, r)
        labels = [r["detections"][0]["label"] for r in results]
        sizes = set(map(int, labels))
        self.assertTrue(sizes & {2, 3, 4}, f"batches of more than one frame: {labels}")
        self.assertLessEqual(max(sizes), 4, labels)
        self.assertGreaterEqual(min(sizes), 1, labels)
        # One call per batch: a batch of k is k consecutive frames, each saying k
        # (the last batch may be cut by where the results were counted).
        batches = runs(labels)
        for b in batches[:-1]:
            self.assertEqual(b, [b[0]] * int(b[0]), f"a batch's frames together: {labels}")
        self.assertEqual(metrics.get(ERRORS, 0), 0)
        self.assertIn("model: framecast.model: serving batchmodel:predict_batch (BGR frames, in batches)",
                      log)

    def test_batch_1_keeps_lists_of_one(self):
        results, _, _ = self.serve(
            "exec:cmd=python3 -m framecast.model batchmodel:predict_batch", 15)
        self.assert_every_frame_in_order(results)
        self.assertEqual({r["detections"][0]["label"] for r in results}, {"1"})
        results, _, _ = self.serve(
            "exec:batch=1,cmd=python3 -m framecast.model batchmodel:predict_batch", 15)
        self.assert_every_frame_in_order(results)
        self.assertEqual({r["detections"][0]["label"] for r in results}, {"1"})

    def test_bad_batch_values_are_refused(self):
        for value in ("0", "65", "-1", "four", ""):
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--stream", FAST, "--predictor",
                                f"exec:batch={value},cmd=python3 -m framecast.model batchmodel"],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (value, p.stderr))
            self.assertIn(f"--predictor exec: batch='{value}' is not valid (expected an integer from 1 "
                          "to 64)", p.stderr)

    def test_a_batch_answered_out_of_order_fails_whole_and_restarts(self):
        if os.path.exists(os.path.join(self.dir, "swapped")):
            os.unlink(os.path.join(self.dir, "swapped"))
        results, log, metrics = self.serve(
            "exec:batch=4,cmd=/usr/bin/python3 raw_model.py", 50, stream=FAST.replace("fps=60", "fps=200"))
        self.assert_every_frame_in_order(results)
        swapped = [list(map(int, m.split(","))) for m in re.findall(r"model: swapped batch ([\d,]+)\n", log)]
        self.assertTrue(swapped, "a batch of more than one frame, answered out of order")
        self.assertEqual(len(swapped), 1, "once: the next process answers in order")
        [first] = swapped
        self.assertLess(first[-1], results[-1]["frame"]["index"])
        errors = {r["frame"]["index"]: r["error"] for r in results if "error" in r}
        for i in first:  # every frame of the batch, the ones answered fine too
            self.assertEqual(errors.get(i), f"exec: the model answered frame {first[1]} when frame "
                             f"{first[0]} was asked (one answer per frame, in order)", (i, errors))
        for r in results:
            i = r["frame"]["index"]
            if "error" in r:
                self.assertEqual(r["detections"], [], r)
                self.assertTrue(i in first or r["error"].startswith("exec: the model process is restarting"),
                                r)
            else:  # its own answer, from a batch of the size it says
                [d] = r["detections"]
                m = re.fullmatch(r"f(\d+)/(\d)", d["label"])
                self.assertEqual(int(m.group(1)), i, r)
                self.assertIn(int(m.group(2)), range(1, 5), r)
        self.assertTrue(any("error" not in r for r in results if r["frame"]["index"] > first[-1]),
                        "answers again after the restart")
        self.assertGreaterEqual(metrics[RESTARTS], 1)
        self.assertGreaterEqual(metrics[ERRORS], len(first))


class PluginBatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-batch-plugin-")
        cls.src = os.path.join(cls.dir, "batchy.c")
        with open(cls.src, "w") as f:
            f.write(PLUGIN)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def build(self, name, *defines):
        so = os.path.join(self.dir, name)
        subprocess.run(["cc", "-shared", "-fPIC", "-O2", "-Wall", "-Werror", "-I",
                        os.path.join(SRC, "include"), *defines, "-o", so, self.src], check=True)
        return so

    def serve(self, predictor, count, *extra, stream=FAST):
        with fc.Server("--stream", stream, "--predictor", predictor, *extra) as server:
            sub = Subscriber(server.url("cam"), timeout=60)
            try:
                fc.wait_for(lambda: len(sub.results()) >= count, 25, f"{count} results")
                fc.wait_for(lambda: fc.metrics(server.port).get(ERRORS, 0) >=
                            len([r for r in sub.results() if "error" in r]), 10, "the errors counted")
            finally:
                sub.close()
        results = sub.results()
        idx = [r["frame"]["index"] for r in results]
        self.assertEqual(idx, list(range(idx[0], idx[0] + len(idx))), "every frame once, in order")
        return results

    def test_a_minor_2_plugin_gets_batches_each_frame_its_own_result(self):
        so = self.build("libbatchy.so")
        results = self.serve(f"{so}:batch=4,delay_ms=60", 40)
        sizes = set()
        for r in results:
            i = r["frame"]["index"]
            if i % 5 == 3:
                self.assertEqual(r["error"], f"frame {i} fails", r)
                self.assertEqual(r["detections"], [])
                continue
            if i % 5 == 4:
                m = re.fullmatch(rf"predictor's predict_batch set no count for frame {i} \(a batch of (\d) "
                                 r"frames\)", r.get("error", ""))
                self.assertTrue(m, r)
                continue
            self.assertNotIn("error", r, r)
            [d] = r["detections"]
            k = int(re.fullmatch(r"batch(\d)", d["label"]).group(1))
            sizes.add(k)
            # infer_us is the frame's share of its batch's call (which slept 60 ms)
            self.assertGreaterEqual(r["infer_us"] * k, 60000 - k, r)
        self.assertTrue(sizes & {2, 3, 4}, sizes)
        self.assertLessEqual(max(sizes), 4)

    def test_two_batching_workers_keep_frame_order(self):
        """Two workers each take batches; one may take frames between another's
        (tickets 5, 7 and 6, 8): each publishes its own in order, the sequencer
        puts them in frame order, and nothing waits for ever."""
        so = self.build("libbatchy.so")
        results = self.serve(f"{so}:batch=3,delay_ms=40", 60, stream=FAST + ",workers=2")
        sizes = {int(r["detections"][0]["label"][5:]) for r in results if r["frame"]["index"] % 5 < 3}
        self.assertTrue(sizes & {2, 3}, sizes)
        self.assertLessEqual(max(sizes), 3)
        seqs = [r["seq"] for r in results]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))

    def test_a_batch_of_16_fills_in_mode_every(self):
        """The stream holds a batching model's whole batch (4 frames for
        others): with up to 75 frames due during each 500 ms call (many
        fewer are enough, for a slow build), calls of 16 come, none over.
        640x480 frames take the source long enough that it cannot slip
        frames in while a batch is taken: with the stream holding 4, calls
        stayed at 4."""
        so = self.build("libbatchy.so")
        results = self.serve(f"{so}:batch=16,delay_ms=500", 80,
                             stream=FAST.replace("64x48,fps=60", "640x480,fps=150"))
        sizes = {int(re.fullmatch(r"batch(\d+)", r["detections"][0]["label"]).group(1))
                 for r in results if "error" not in r}
        self.assertIn(16, sizes)
        self.assertLessEqual(max(sizes), 16, sizes)

    def test_predict_timeout_is_per_frame_in_a_batch(self):
        so = self.build("libbatchy.so")
        results = self.serve(f"{so}:batch=4,delay_ms=200", 12, "--predict-timeout", "20")
        batched = 0
        for r in results:
            if r["frame"]["index"] % 5 in (3, 4):
                continue  # their own errors come first
            m = re.fullmatch(r"predictor took (\d+) ms( for a batch of (\d) frames)?, over the 20 ms per-frame "
                             r"limit( \((\d+) ms for the batch\))?", r.get("error", ""))
            self.assertTrue(m, r)
            self.assertGreaterEqual(int(m.group(1)), 200, r)
            if m.group(3):
                batched += 1
                self.assertEqual(int(m.group(5)), 20 * int(m.group(3)), r)
            self.assertEqual(len(r["detections"]), 1, "what it found is kept")
        self.assertTrue(batched, "frames of batches over the limit")

    def test_a_minor_1_plugin_is_called_frame_by_frame(self):
        so = self.build("libbatchy1.so", "-DMINOR=1")
        results = self.serve(f"{so}:batch=4,delay_ms=30", 15)
        for r in results:
            if r["frame"]["index"] % 5 == 3:
                self.assertIn("error", r)
                continue
            self.assertNotIn("error", r, r)
            self.assertEqual(r["detections"][0]["label"], "single", r)

    def test_a_bad_batch_size_fails_the_start(self):
        so = self.build("libbatchy.so")
        nofn = self.build("libbatchy_nofn.so", "-DNO_PREDICT_BATCH")
        for spec, message in [
            (f"{so}:batch=65,delay_ms=0", "--predictor batchy: batch_size() answered 65 (expected 1 to 64)"),
            (f"{so}:batch=0,delay_ms=0", "--predictor batchy: batch_size() answered 0 (expected 1 to 64)"),
            (f"{nofn}:batch=2,delay_ms=0",
             "--predictor batchy: batch_size() answered 2, but the table has no predict_batch"),
        ]:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--stream", FAST, "--predictor", spec],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (spec, p.stderr))
            self.assertIn(message, p.stderr)
        # batch_size() of 1 with no predict_batch is a plug-in that does not batch
        results = self.serve(f"{nofn}:batch=1,delay_ms=0", 5)
        self.assertTrue(all(r["detections"][0]["label"] == "single" for r in results
                            if r["frame"]["index"] % 5 != 3))


if __name__ == "__main__":
    fc.main()
