"""SIGHUP reads --config again while clients watch: a stream taken out of
the file is removed (its clients get close 1001 "stream removed", its name
is no longer served, /api/streams and /metrics forget it), a stream whose
definition changed is restarted (close 1012 "stream restarted", a new
epoch), a new stream is served at once, the streams left alone go on
untouched (same epoch, no gap); the limits change at once; what needs a
restart is logged and kept; a file with problems changes nothing. Also a
push stream removed while producers publish to it (the HTTP API's
snapshot of the streams under ThreadSanitizer)."""

import asyncio
import json
import os
import signal
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_cli import head_status  # noqa: E402


def api_streams(port):
    status, body = fc.http_get(port, "/api/streams")
    assert status == 200, status
    return {s["name"]: s for s in json.loads(body)["streams"]}


class Watcher:
    """A python-websockets client of one stream in a thread of its own: keeps
    every message, and how the connection closed."""

    def __init__(self, url):
        self.url = url
        self.messages = []
        self.close = None  # (code, reason) once closed
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.thread.start()

    async def _run(self):
        try:
            async with websockets.connect(self.url, max_size=None) as ws:
                async for raw in ws:
                    with self.lock:
                        self.messages.append(json.loads(raw))
        except websockets.ConnectionClosed as e:
            with self.lock:
                self.close = (e.rcvd.code, e.rcvd.reason) if e.rcvd else (None, None)
            return
        with self.lock:
            self.close = (ws.close_code, ws.close_reason)

    def results(self):
        with self.lock:
            return [m for m in self.messages if m.get("type") == "result"]

    def closed(self):
        with self.lock:
            return self.close


class ReloadTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-reload-")
        self.conf = os.path.join(self.dir, "framecast.conf")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def write(self, text):
        # Written whole, then renamed: the server never reads half a file.
        tmp = self.conf + ".new"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)

    def hup(self, srv, expect):
        """SIGHUP, then wait for the log line that says it was dealt with."""
        before = len(srv.stderr_lines)
        srv.proc.send_signal(signal.SIGHUP)
        return fc.wait_for(lambda: [l for l in srv.stderr_lines[before:] if expect in l], 60,
                           f"a log line with {expect!r} after SIGHUP")

    def test_streams_added_removed_restarted_and_untouched(self):
        self.write("""
[stream keep]
source = synthetic:size=64x64,fps=20
predictor = null
[stream gone]
source = synthetic:size=64x64,fps=20
[stream change]
source = synthetic:size=64x64,fps=20
predictor = null
""")
        with fc.Server("--config", self.conf, "--io-threads", "2") as srv:
            keep, gone, change = (Watcher(srv.url(s)) for s in ("keep", "gone", "change"))
            for w in (keep, gone, change):
                fc.wait_for(lambda: len(w.results()) >= 3, 60, f"results of {w.url}")
            epoch = keep.results()[0]["epoch"]
            self.write("""
[stream keep]
source = synthetic:size=64x64,fps=20
predictor = null
[stream change]
source = synthetic:size=64x64,fps=20
predictor = fake:count=2
[stream new]
source = synthetic:size=64x64,fps=20
predictor = fake:count=3
""")
            self.hup(srv, "stream 'new' added")
            log = "".join(srv.stderr_lines)
            self.assertIn("SIGHUP: stream 'gone' removed", log)
            self.assertIn("SIGHUP: stream 'change' restarted with its new definition", log)

            # Clients of the removed stream: close 1001; of the changed one: 1012.
            self.assertEqual(fc.wait_for(gone.closed, 30, "the close of 'gone'"),
                             (1001, "stream removed"))
            self.assertEqual(fc.wait_for(change.closed, 30, "the close of 'change'"),
                             (1012, "stream restarted"))
            # The untouched stream goes on: same epoch, consecutive seq.
            n = len(keep.results())
            fc.wait_for(lambda: len(keep.results()) >= n + 5, 60, "more results of 'keep'")
            self.assertIsNone(keep.closed())
            seqs = [r["seq"] for r in keep.results()]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
            self.assertEqual({r["epoch"] for r in keep.results()}, {epoch})

            # The list, the metrics and the 404 say what is served now.
            streams = api_streams(srv.port)
            self.assertEqual(sorted(streams), ["change", "keep", "new"])
            self.assertEqual(streams["new"]["predictor"], "fake:count=3")
            self.assertEqual(streams["change"]["predictor"], "fake:count=2")
            metrics = fc.metrics(srv.port)
            self.assertIn('framecast_results_total{stream="new"}', metrics)
            self.assertNotIn('framecast_results_total{stream="gone"}', metrics)
            status, body = fc.http_get(srv.port, "/ws/gone")
            self.assertEqual(status, 404)
            self.assertIn(b"unknown stream 'gone'", body)

            # The new stream serves results of its own predictor; the
            # restarted one too, with a new epoch.
            new, change2 = Watcher(srv.url("new")), Watcher(srv.url("change"))
            fc.wait_for(lambda: len(new.results()) >= 3, 60, "results of 'new'")
            fc.wait_for(lambda: len(change2.results()) >= 3, 60, "results of the new 'change'")
            self.assertEqual({(r["model"], len(r["detections"])) for r in new.results()},
                             {("fake", 3)})
            self.assertEqual({(r["model"], len(r["detections"])) for r in change2.results()},
                             {("fake", 2)})
            self.assertNotEqual(change2.results()[0]["epoch"], change.results()[0]["epoch"])
            metrics = fc.metrics(srv.port)
            self.assertEqual(metrics['framecast_clients{stream="new"}'], 1)
            self.assertEqual(metrics['framecast_clients{stream="keep"}'], 1)

            # Taken out again and put back: the name is served by a new stream.
            self.write("""
[stream keep]
source = synthetic:size=64x64,fps=20
predictor = null
""")
            self.hup(srv, "stream 'change' removed")
            self.assertEqual(fc.wait_for(new.closed, 30, "the close of 'new'"),
                             (1001, "stream removed"))
            self.assertEqual(sorted(api_streams(srv.port)), ["keep"])

    def test_limits_change_and_what_needs_a_restart_is_said(self):
        self.write("max-head = 4KiB\nlog-level = info\n"
                   "[stream demo]\nsource = synthetic:size=64x64,fps=5\n")
        with fc.Server("--config", self.conf) as srv:
            self.assertEqual(head_status(srv.port, 6000), 431)
            self.write("max-head = 12KiB\nlog-level = debug\nio-threads = 3\n"
                       "allowed-origin = https://cams.example.com\n"
                       "[stream demo]\nsource = synthetic:size=64x64,fps=5\n")
            self.hup(srv, "SIGHUP: max-head")
            log = "".join(srv.stderr_lines)
            self.assertIn("SIGHUP: max-head: 4096 -> 12288", log)
            self.assertIn("SIGHUP: log-level: info -> debug", log)
            self.assertIn("io-threads changed ('3', running with", log)
            self.assertIn("it takes effect when framecast restarts", log)
            self.assertIn("allowed-origin changed ('https://cams.example.com', running with "
                          "'(any)')", log)
            # Applied at once: a head of 6,000 bytes passes now.
            self.assertEqual(head_status(srv.port, 6000), 200)
            # The stream was not touched (its definition is the same).
            self.assertNotIn("stream 'demo' restarted", "".join(srv.stderr_lines))
            # Debug lines now appear: a client that goes says so at debug level.
            before = len(srv.stderr_lines)

            async def one_result():
                async with websockets.connect(srv.url()) as ws:
                    await ws.recv()

            asyncio.run(one_result())
            fc.wait_for(lambda: [l for l in srv.stderr_lines[before:]
                                 if "debug: client of stream 'demo' gone" in l], 30,
                        "a debug line")

    def test_a_file_with_problems_changes_nothing(self):
        self.write("[stream demo]\nsource = synthetic:size=64x64,fps=10\n")
        with fc.Server("--config", self.conf) as srv:
            w = Watcher(srv.url())
            fc.wait_for(lambda: len(w.results()) >= 2, 60, "results")
            self.write("queue-bytes = lots\n"
                       "[stream demo]\nsource = synthetic:size=64x64,fps=10\npredictor = nosuch\n"
                       "[stream other]\nsource = synthetic:size=64x64,fps=10\nworkers = 0\n")
            self.hup(srv, "problems in the configuration: nothing was changed")
            log = "".join(srv.stderr_lines)
            self.assertIn("queue-bytes: 'lots' is not valid", log)
            self.assertIn("[stream other] workers: '0' is not valid", log)
            self.assertIn("stream 'demo': ", log)  # the unknown predictor
            self.assertIn("nosuch", log)
            self.assertEqual(sorted(api_streams(srv.port)), ["demo"])
            n = len(w.results())
            fc.wait_for(lambda: len(w.results()) >= n + 3, 60, "results going on")
            self.assertIsNone(w.closed())
            # The file removed: said, nothing changes either.
            os.unlink(self.conf)
            self.hup(srv, "nothing was changed")
            self.assertIn("--config: cannot open", "".join(srv.stderr_lines))

    def test_push_stream_removed_while_producers_publish(self):
        self.write("[stream feed]\nsource = push\n[stream other]\nsource = push\n")
        with fc.Server("--config", self.conf, "--io-threads", "2") as srv:
            w = Watcher(srv.url("feed"))
            fc.wait_for(lambda: api_streams(srv.port)["feed"]["clients"] == 1, 30, "the client")
            stop = threading.Event()
            statuses = []

            def produce():
                i = 0
                while not stop.is_set():
                    i += 1
                    req = urllib.request.Request(
                        f"http://127.0.0.1:{srv.port}/api/streams/feed/publish",
                        data=json.dumps({"n": i}).encode(), method="POST",
                        headers={"Content-Type": "application/json"})
                    try:
                        with urllib.request.urlopen(req, timeout=10) as r:
                            statuses.append(r.status)
                    except urllib.error.HTTPError as e:
                        statuses.append(e.code)

            producers = [threading.Thread(target=produce) for _ in range(3)]
            for p in producers:
                p.start()
            try:
                fc.wait_for(lambda: len(w.results()) >= 20, 60, "published results")
                self.write("[stream other]\nsource = push\n")
                self.hup(srv, "stream 'feed' removed")
                self.assertEqual(fc.wait_for(w.closed, 30, "the close"), (1001, "stream removed"))
                n = len(statuses)
                fc.wait_for(lambda: len(statuses) >= n + 10, 60, "more publish answers")
            finally:
                stop.set()
                for p in producers:
                    p.join(timeout=30)
            self.assertLessEqual(set(statuses), {200, 404, 429})
            self.assertEqual(statuses[-1], 404)  # not a stream any more
            seqs = [r["seq"] for r in w.results()]
            self.assertEqual(seqs, list(range(1, len(seqs) + 1)))


if __name__ == "__main__":
    fc.main()
