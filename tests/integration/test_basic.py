"""The foundation's acceptance test: the real framecast binary with its default
synthetic demo source, two independent subscribers (python-websockets and
framecast-client) at once, the message contract, and how bad input fails.
"""

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

import websockets  # noqa: E402  (Debian's python3-websockets, legacy API)

CONTRACT_FIELDS = ("type", "stream", "seq", "capture_us", "publish_us", "frame", "model", "detections")


def http_get(port, target, extra_headers="", timeout=10):
    """Sends one GET over a raw socket; returns (status, head, body bytes) once the server closes."""
    with fc.raw_connect(port, timeout=timeout) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra_headers}\r\n".encode())
        data = fc.recv_until_closed(s, timeout=timeout)
    head, _, body = data.partition(b"\r\n\r\n")
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ")
    if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
        raise AssertionError(f"not an HTTP response: {data[:200]!r}")
    return int(parts[1]), head.decode("latin-1"), body


def upgrade_headers():
    return ("Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n")


def free_port():
    """A port nothing listens on (bound, then released)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def run_framecast(*args, timeout=30):
    return subprocess.run([fc.FRAMECAST, *args], capture_output=True, text=True, timeout=timeout)


class TestBroadcast(unittest.TestCase):
    """Two different clients subscribed at once see the same stream."""

    def check_messages(self, all_msgs, who):
        """Checks the result messages of all_msgs; returns them. Other types
        (a stream's status) may be interleaved and are only checked for shape."""
        msgs = []
        for m in all_msgs:
            self.assertIsInstance(m.get("type"), str, f"{who}: message without a type: {m}")
            self.assertEqual(m.get("stream"), "demo", f"{who}: {m}")
            if m["type"] == "result":
                msgs.append(m)
            elif m["type"] == "status":
                self.assertNotIn("seq", m, f"{who}: status messages carry no seq")
        # A subscriber gets the stream's current status first; the synthetic
        # source is live from its first frame.
        self.assertEqual((all_msgs[0]["type"], all_msgs[0].get("state")), ("status", "live"),
                         f"{who}: first message {all_msgs[0]}")
        self.assertGreaterEqual(len(msgs), 50, f"{who}: too few result messages")
        for m in msgs:
            for k in CONTRACT_FIELDS:
                self.assertIn(k, m, f"{who}: field {k!r} missing in {m}")
            self.assertEqual(m["type"], "result")
            self.assertEqual(m["stream"], "demo")
            self.assertIsInstance(m["seq"], int)
            self.assertIsInstance(m["capture_us"], int)
            self.assertIsInstance(m["publish_us"], int)
            self.assertGreaterEqual(m["publish_us"], m["capture_us"], f"{who}: published before captured: {m}")
            for k in ("index", "width", "height"):
                self.assertIn(k, m["frame"], f"{who}: frame.{k} missing in {m}")
                self.assertIsInstance(m["frame"][k], int)
            # The default demo source is 640x360.
            self.assertEqual((m["frame"]["width"], m["frame"]["height"]), (640, 360))
            self.assertIsInstance(m["model"], str)
            self.assertIsInstance(m["detections"], list)
        seqs = [m["seq"] for m in msgs]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))), f"{who}: seq not consecutive")
        indexes = [m["frame"]["index"] for m in msgs]
        self.assertEqual(indexes, sorted(set(indexes)), f"{who}: frame.index not increasing")
        return msgs

    def test_two_clients_receive_the_same_stream(self):
        with fc.Server() as srv:
            url = srv.url("demo")
            client = subprocess.Popen([fc.FRAMECAST_CLIENT, "--count", "60", "--timeout", "40", url],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

            async def collect():
                out = []
                async with websockets.connect(url, max_size=None) as ws:
                    while sum(m.get("type") == "result" for m in out) < 60:
                        raw = await asyncio.wait_for(ws.recv(), timeout=10)
                        self.assertIsInstance(raw, str, "messages must be text frames")
                        out.append(json.loads(raw))
                return out

            t0 = time.monotonic()
            py_msgs = asyncio.run(asyncio.wait_for(collect(), timeout=40))
            try:
                out, err = client.communicate(timeout=40)
            except subprocess.TimeoutExpired:
                client.kill()
                out, err = client.communicate()
                self.fail(f"framecast-client did not finish: {err}")
            self.assertLess(time.monotonic() - t0, 45)
            self.assertEqual(client.returncode, 0, f"framecast-client failed: {err}")
            cl_msgs = [json.loads(line) for line in out.splitlines() if line.strip()]
            self.assertEqual(len([m for m in cl_msgs if m["type"] == "result"]), 60,
                             "framecast-client --count 60 printed a different number of results")

            py_msgs = self.check_messages(py_msgs, "python-websockets")
            cl_msgs = self.check_messages(cl_msgs, "framecast-client")
            py_by_seq = {m["seq"]: m for m in py_msgs}
            cl_by_seq = {m["seq"]: m for m in cl_msgs}
            common = set(py_by_seq) & set(cl_by_seq)
            # Both ran at once for 2 s of a 30 fps stream; most seqs overlap.
            self.assertGreaterEqual(len(common), 20, "the two clients saw hardly any common messages")
            for s in common:
                self.assertEqual(py_by_seq[s]["frame"]["index"], cl_by_seq[s]["frame"]["index"],
                                 f"seq {s} carries different frames")
                self.assertEqual(py_by_seq[s]["capture_us"], cl_by_seq[s]["capture_us"])
                self.assertEqual(py_by_seq[s]["publish_us"], cl_by_seq[s]["publish_us"])


class TestHttp(unittest.TestCase):
    """Plain HTTP answers on the same port."""

    @classmethod
    def setUpClass(cls):
        cls.srv = fc.Server("--source", "synthetic:size=64x64,fps=10")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_unknown_stream_is_404_before_upgrade(self):
        status, head, body = http_get(self.srv.port, "/ws/nosuch", upgrade_headers())
        self.assertEqual(status, 404, head)
        self.assertNotIn("Sec-WebSocket-Accept", head)

    def test_root_serves_the_viewer(self):
        status, head, body = http_get(self.srv.port, "/")
        self.assertEqual(status, 200, head)
        self.assertIn("text/html", head)
        self.assertIn(b"<html", body.lower() if isinstance(body, bytes) else body.lower().encode())

    def test_unknown_path_is_404(self):
        status, head, _ = http_get(self.srv.port, "/nosuch")
        self.assertEqual(status, 404, head)

    def test_api_streams(self):
        status, head, body = http_get(self.srv.port, "/api/streams")
        self.assertEqual(status, 200, head)
        self.assertIn("application/json", head)
        streams = json.loads(body)["streams"]
        self.assertEqual([s["name"] for s in streams], ["demo"])
        self.assertEqual(streams[0]["source"], "synthetic:size=64x64,fps=10")
        self.assertEqual(streams[0]["predictor"], "null")
        fc.wait_for(lambda: json.loads(http_get(self.srv.port, "/api/streams")[2])["streams"][0]["state"] == "live",
                    10, "the stream to be live")

    def test_metrics(self):
        status, head, body = http_get(self.srv.port, "/metrics")
        self.assertEqual(status, 200, head)
        text = body.decode() if isinstance(body, bytes) else body
        self.assertIn('framecast_results_total{stream="demo"}', text)
        self.assertIn("# TYPE framecast_clients gauge", text)

    def test_client_reports_404_for_unknown_stream(self):
        r = subprocess.run([fc.FRAMECAST_CLIENT, "--timeout", "10", self.srv.url("nosuch")],
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("HTTP 404", r.stderr)
        self.assertEqual(r.stdout, "")


class TestBadInput(unittest.TestCase):
    """Bad input fails fast, with status 2 and a message that names the input."""

    def assert_usage_error(self, args, *words):
        r = run_framecast("--listen", "127.0.0.1:0", *args)
        self.assertEqual(r.returncode, 2, f"framecast {' '.join(args)}: stderr: {r.stderr}")
        self.assertEqual(r.stdout, "", "nothing should be served")
        for w in words:
            self.assertIn(w, r.stderr, f"framecast {' '.join(args)}")

    def test_unknown_source_scheme(self):
        self.assert_usage_error(["--source", "nosuch://cam"], "--source", "nosuch://cam", "expected")

    def test_malformed_source_option(self):
        self.assert_usage_error(["--source", "synthetic:size=abc"], "size", "abc", "expected")

    def test_io_threads_zero(self):
        self.assert_usage_error(["--io-threads", "0"], "--io-threads", "'0'", "expected")

    def test_unknown_option(self):
        self.assert_usage_error(["--bogus"], "--bogus", "unknown option")

    def test_help_lists_every_builtin_predictor_and_the_limits(self):
        r = run_framecast("--help")
        self.assertEqual(r.returncode, 0)
        for word in ("null", "motion", "cascade:model=", "exec:", "fake:", ".so",
                     "--max-clients", "--write-timeout", "--preview"):
            self.assertIn(word, r.stdout)
        for name in ("null", "fake", "motion", "cascade", "exec"):  # each one runs
            self.assertRegex(r.stdout, rf"\n  {name}\b")

    def test_port_in_use(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            r = run_framecast("--listen", f"127.0.0.1:{port}")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(f"127.0.0.1:{port}", r.stderr)
        self.assertIn("in use", r.stderr)

    def test_client_against_closed_port(self):
        url = f"ws://127.0.0.1:{free_port()}/ws/demo"
        r = subprocess.run([fc.FRAMECAST_CLIENT, "--timeout", "10", url], capture_output=True, text=True,
                           timeout=30)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("cannot connect", r.stderr)
        self.assertIn(url, r.stderr)


if __name__ == "__main__":
    fc.main()
