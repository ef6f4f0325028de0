"""Memory allocation failures injected into framecast's own allocations
(tests/fault/failmalloc.c, preloaded into the release build: the
sanitizers' allocator cannot be replaced).

At start-up: the Nth allocation fails, for every N up to past the point
where the server listens. Each run either exits with status 1 or 2 and a
message on stderr, or starts and then stops cleanly on SIGTERM; never a
crash, a hang or a silent exit.

While serving: allocations fail at random (a few percent of them) for a
while, under a load of every kind of client (WebSocket results, previews,
compressed, resuming; HTTP API, metrics, publishes). The server must
neither crash nor stop serving: once the failures stop, a new client gets
results in order, the API answers, and SIGTERM ends it with status 0. A
looping video file (an FFmpeg source: demuxer, decoder, conversion) serves
beside the synthetic stream, so the failures reach that path too. What
the failures cost is counted (results lost, clients closed), never a
wrong byte: every message a client got parses and every seq it got is
larger than the one before."""

import asyncio
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_limits import release_binary  # noqa: E402

import websockets  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FAILMALLOC_C = os.path.join(HERE, "..", "fault", "failmalloc.c")
ARGS = ["--stream", "cam=synthetic:size=160x120,fps=30,objects=2", "--stream", "pushed=push",
        "--predictor", "motion", "--io-threads", "2"]


class FailMallocTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="fc-failmalloc-")
        cls.lib = os.path.join(cls.tmp, "failmalloc.so")
        cc = shutil.which("cc") or shutil.which("gcc")
        if not cc:
            raise AssertionError("a C compiler is needed to build tests/fault/failmalloc.c")
        subprocess.run([cc, "-O2", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o",
                        cls.lib, FAILMALLOC_C], check=True)
        cls.binary = release_binary()
        cls.clip = os.path.join(cls.tmp, "clip.mp4")
        fc.make_video(cls.clip, 45)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start(self, spec, report=None, extra=()):
        env = {**os.environ, "LD_PRELOAD": self.lib, "FC_FAILMALLOC": spec}
        if report:
            env["FC_FAILMALLOC_REPORT"] = report
        return subprocess.Popen([self.binary, "--listen", "127.0.0.1:0", *ARGS, *extra],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)

    @staticmethod
    def wait_listening(proc, timeout=20):
        """The port once the server listens; None if it exited first."""
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout] + [lines.put("")],
                         daemon=True).start()
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                proc.kill()
                raise AssertionError("the server neither listened nor exited in time:\n" +
                                     proc.stderr.read()[-2000:]) from None
            if not line:
                return None
            m = re.search(r"listening on http://[^ ]*:(\d+)/", line)
            if m:
                return int(m.group(1))

    def startup_allocations(self, extra=()):
        """How many allocations the server makes until it listens."""
        report = os.path.join(self.tmp, "count")
        if os.path.exists(report):
            os.unlink(report)
        proc = self.start("nth=0", report, extra)
        port = self.wait_listening(proc)
        if port is None:
            self.fail("the server did not start: " + proc.stderr.read())
        # The count so far: stop at once, the report is written at exit.
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=20)
        self.assertEqual(proc.returncode, 0)
        with open(report) as f:
            line = f.read().splitlines()[0]
        return int(re.search(r"calls=(\d+)", line).group(1))

    def test_every_allocation_at_start_up_fails_cleanly(self):
        total = self.startup_allocations()
        self.assertGreater(total, 20)
        outcomes = {"clean error": 0, "started": 0}
        for n in range(1, total + 1):
            proc = self.start(f"nth={n}")
            port = self.wait_listening(proc)
            if port is not None:
                proc.send_signal(signal.SIGTERM)
            try:
                _, err = proc.communicate(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                self.fail(f"allocation {n} failing: the server hung")
            where = f"allocation {n} of {total} failing"
            self.assertGreaterEqual(proc.returncode, 0,
                                    f"{where}: killed by signal {-proc.returncode}:\n{err[-2000:]}")
            if port is None:
                self.assertIn(proc.returncode, (1, 2), f"{where}: exit {proc.returncode}")
                last = err.strip().splitlines()[-1] if err.strip() else ""
                self.assertRegex(last, r"^framecast: .+", f"{where}: no error message: {err!r}")
                outcomes["clean error"] += 1
            else:
                self.assertEqual(proc.returncode, 0, f"{where}: started, then exit "
                                 f"{proc.returncode}:\n{err[-2000:]}")
                outcomes["started"] += 1
        print(f"{total} start-up allocations, each failed once: {outcomes}")
        self.assertGreater(outcomes["clean error"], 10)

    def test_random_failures_while_serving_lose_messages_not_the_server(self):
        clip = ["--stream", f"clip={self.clip},loop=1"]
        total = self.startup_allocations(clip)
        report = os.path.join(self.tmp, "serving")
        # After start-up, 3 % of allocations fail, for 12 seconds.
        seed = os.environ.get("FC_FAILMALLOC_SEED", "7")
        proc = self.start(f"rate=0.03,after={total},ms=12000,seed={seed}", report, clip)
        port = self.wait_listening(proc)
        if port is None:
            self.fail("the server did not start: " + proc.stderr.read())
        stderr = []
        threading.Thread(target=lambda: stderr.extend(proc.stderr), daemon=True).start()
        seen = {"messages": 0, "closed": 0, "http": 0}
        publish_status = {}
        stop = time.monotonic() + 12

        async def ws_client(query, deflate, stream="cam"):
            while time.monotonic() < stop:
                last = 0
                try:
                    async with websockets.connect(
                            f"ws://127.0.0.1:{port}/ws/{stream}{query}", open_timeout=5,
                            compression="deflate" if deflate else None, max_size=None) as ws:
                        for _ in range(30):
                            m = await asyncio.wait_for(ws.recv(), 5)
                            seen["messages"] += 1
                            if isinstance(m, bytes):
                                self.assertEqual(m[:4], b"FCP1", "a preview without its magic")
                                continue
                            msg = json.loads(m)  # a cut or corrupt message fails here
                            if msg["type"] == "result":
                                self.assertGreater(msg["seq"], last, "seq went backwards")
                                last = msg["seq"]
                except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException):
                    seen["closed"] += 1  # closed on it, or refused: it tries again
                    await asyncio.sleep(0.05)

        def http_client():
            paths = ["/api/streams", "/metrics", "/healthz", "/readyz", "/", "/api/streams/cam"]
            i = 0
            while time.monotonic() < stop:
                try:
                    if i % 3 == 0:
                        body = json.dumps({"n": i, "note": "x" * (i % 500)}).encode()
                        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                            s.sendall(b"POST /api/streams/pushed/publish HTTP/1.1\r\nHost: x\r\n"
                                      b"Content-Type: application/json\r\nContent-Length: " +
                                      str(len(body)).encode() + b"\r\n\r\n" + body)
                            answer = fc.recv_until_closed(s, timeout=5)
                        if answer:  # a valid body: published, or the server's trouble
                            status = int(answer.split(b" ", 2)[1])
                            publish_status[status] = publish_status.get(status, 0) + 1
                    else:
                        fc.http_get(port, paths[i % len(paths)], timeout=5)
                    seen["http"] += 1
                except (OSError, ValueError, IndexError):
                    pass  # closed without an answer: out of memory for it
                i += 1

        async def load():
            clients = [ws_client("", False), ws_client("?preview=1", False),
                       ws_client("", True), ws_client("?since=1", False),
                       ws_client("?preview=1", False, "clip")] * 3
            await asyncio.gather(*clients)
        threads = [threading.Thread(target=http_client) for _ in range(2)]
        for t in threads:
            t.start()
        asyncio.run(load())
        for t in threads:
            t.join(timeout=30)
        self.assertIsNone(proc.poll(), "the server exited under the failures:\n" +
                          "".join(stderr[-40:]))

        # Make sure the failure window is over: allocations keep coming with
        # the synthetic stream running, so wait for a healthy answer.
        async def fresh_client(stream):
            async with websockets.connect(f"ws://127.0.0.1:{port}/ws/{stream}") as ws:
                seqs = []
                while len(seqs) < 10:
                    msg = json.loads(await asyncio.wait_for(ws.recv(), 10))
                    if msg["type"] == "result":
                        seqs.append(msg["seq"])
                return seqs
        deadline = time.monotonic() + 60
        for stream in ("cam", "clip"):
            while True:
                try:
                    seqs = asyncio.run(fresh_client(stream))
                    if seqs == list(range(seqs[0], seqs[0] + 10)):
                        break
                    why = f"seqs {seqs}"
                except (OSError, asyncio.TimeoutError,
                        websockets.exceptions.WebSocketException) as e:
                    why = repr(e)
                if time.monotonic() > deadline:
                    self.fail(f"no healthy client of {stream} after the failures: {why}; " +
                              repr(fc.http_get(port, "/api/streams")) + "".join(stderr[-20:]))
        status, body = fc.http_get(port, "/metrics")
        self.assertEqual(status, 200)
        metrics = body.decode()
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=30), 0, "".join(stderr[-40:]))
        with open(report) as f:
            failed = int(re.search(r"failed=(\d+)", f.read()).group(1))
        lost = sum(int(float(v)) for v in
                   re.findall(r'framecast_results_lost_total\{[^}]*\} (\S+)', metrics))
        print(f"allocations failed while serving: {failed}; results lost: {lost}; "
              f"client messages: {seen['messages']}, client reconnects: {seen['closed']}, "
              f"HTTP exchanges: {seen['http']}; publish answers: {publish_status}")
        self.assertGreater(failed, 100, "the failures were not injected")
        self.assertEqual(set(publish_status) - {200, 503}, set(),
                         f"a valid body answered otherwise than 200 or 503: {publish_status}")
        self.assertGreater(seen["messages"], 100)


if __name__ == "__main__":
    fc.main()
