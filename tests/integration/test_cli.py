"""Command-line traps: a repeated --predictor, byte sizes with units,
framecast-client --count counting results and stopping at the stream's
end, and the 404 for an unknown stream naming the streams there are."""

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402


def run(*args, timeout=60):
    return subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", *args], capture_output=True,
                          text=True, timeout=timeout)


def client(*args, timeout=60):
    return subprocess.run([fc.FRAMECAST_CLIENT, *args], capture_output=True, text=True, timeout=timeout)


def head_status(port, head_bytes):
    """Sends a request head of about head_bytes; returns the answer's status code."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        pad = "x" * max(0, head_bytes - 60)
        s.sendall(f"GET /api/streams HTTP/1.1\r\nHost: a\r\nX-Pad: {pad}\r\n\r\n".encode())
        data = b""
        try:
            while len(data) < 12 and (chunk := s.recv(65536)):
                data += chunk
        except ConnectionResetError:
            pass  # a 431 closes with our unread bytes in its buffer: the answer came first
        return int(data.split(b" ", 2)[1])


class PredictorOptionTest(unittest.TestCase):
    def test_repeated_predictor_is_an_error(self):
        p = run("--predictor", "motion", "--predictor", "exec:cmd=python3 model.py")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--predictor: given twice ('motion', then 'exec:cmd=python3 model.py')", p.stderr)
        self.assertIn("give it once, and a stream its own predictor with --stream "
                      "NAME=URL,predictor=SPEC", p.stderr)
        self.assertEqual(p.stdout, "", "nothing is served")


class ByteSizeTest(unittest.TestCase):
    def test_units_are_accepted_and_applied(self):
        with fc.Server("--max-head", "12KiB", "--max-message", "1M", "--queue-bytes", "256KiB") as server:
            # 12KiB = 12288: a 10,000-byte head passes (8 KiB, the default, would be 431)
            self.assertEqual(head_status(server.port, 10000), 200)
            self.assertEqual(head_status(server.port, 13000), 431)

            async def send(size):
                """The close code the server answers a message of size bytes with, or None
                when it keeps the connection open (and sending) for 2 s."""
                async with websockets.connect(server.url(), max_size=None) as ws:
                    await ws.send(b"x" * size)
                    loop = asyncio.get_running_loop()
                    end = loop.time() + 2
                    try:
                        while loop.time() < end:
                            try:
                                await asyncio.wait_for(ws.recv(), timeout=end - loop.time())
                            except asyncio.TimeoutError:
                                pass
                        return None
                    except websockets.ConnectionClosed as e:
                        return e.rcvd.code if e.rcvd else -1

            # 1M = 1,000,000 bytes: one byte more is 1009
            self.assertIsNone(asyncio.run(send(1000000)))
            self.assertEqual(asyncio.run(send(1000001)), 1009)

    def test_bad_sizes_name_the_option_and_the_units(self):
        for opt, value in [("--queue-bytes", "1X"), ("--queue-bytes", "2GiB"), ("--max-head", "-5K"),
                           ("--max-message", "1.5M"), ("--max-message", "K")]:
            with self.subTest(opt=opt, value=value):
                p = run(opt, value)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(f"{opt}: '{value}' is not valid", p.stderr)
                self.assertIn("KiB, MiB, GiB (x1024)", p.stderr)


class ClientTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-cli-")
        cls.clip = os.path.join(cls.dir, "clip.mp4")
        fc.make_video(cls.clip, 12)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_count_counts_results(self):
        with fc.Server("--source", "synthetic:size=64x64,fps=30") as server:
            p = client("--count", "3", "--timeout", "30", server.url())
        self.assertEqual(p.returncode, 0, p.stderr)
        types = [__import__("json").loads(l)["type"] for l in p.stdout.splitlines()]
        self.assertEqual(types.count("result"), 3, p.stdout)
        self.assertEqual(types[0], "status", "the status first, printed but not counted")

    def test_exits_when_the_stream_ends(self):
        with fc.Server("--stream", f"clip={self.clip},realtime=0,mode=every,wait=1") as server:
            p = client("--timeout", "60", server.url("clip"))
            self.assertEqual(p.returncode, 0, p.stderr)
            msgs = [__import__("json").loads(l) for l in p.stdout.splitlines()]
            self.assertEqual(len([m for m in msgs if m["type"] == "result"]), 12)
            self.assertEqual(msgs[-1]["state"], "ended")
            # subscribing to a stream that has ended: its final status, then the exit
            p = client("--timeout", "30", server.url("clip"))
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn('"state":"ended"', p.stdout)

    def test_exits_4_when_the_stream_failed(self):
        with fc.Server("--stream", f"gone={os.path.join(self.dir, 'nope.mp4')}") as server:
            p = client("--timeout", "30", server.url("gone"))
        self.assertEqual(p.returncode, 4, p.stderr)
        self.assertIn("the stream failed: cannot open", p.stderr)


class UnknownStreamTest(unittest.TestCase):
    def test_404_names_the_streams(self):
        with fc.Server("--stream", "door=synthetic:size=64x64,fps=5",
                       "--stream", "lobby=synthetic:size=64x64,fps=5") as server:
            p = client("--timeout", "10", server.url("dor"))
            self.assertEqual(p.returncode, 1)
            self.assertIn("HTTP 404", p.stderr)
            self.assertIn("unknown stream 'dor'; the streams are: /ws/door, /ws/lobby", p.stderr)
            # what is echoed of the request is cut and printable
            with fc.raw_connect(server.port) as s:
                s.sendall(b"GET /ws/" + b"%1b" * 40 + b"\xff HTTP/1.1\r\nHost: a\r\n\r\n")
                answer = fc.recv_until_closed(s)
            self.assertTrue(answer.startswith(b"HTTP/1.1 404"), answer[:100])
            body = answer.split(b"\r\n\r\n", 1)[1]
            self.assertTrue(all(0x20 <= b < 0x7f for b in body.rstrip(b"\n")), body)
            self.assertIn(b"the streams are: /ws/door, /ws/lobby", body)


if __name__ == "__main__":
    fc.main()
