"""The publish API of push streams: results from producers (not video) go
through the same hub, history and policies as video results, with seq,
epoch and publish_us added by the server; bad bodies get 400, 404, 411,
413, a body that stops coming 408, and a saturated stream 429, never a
blocked I/O thread."""

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

import websockets  # noqa: E402


def post(port, path, body, content_type="application/json", headers=""):
    """Sends a POST with a Content-Length; returns (status, head, parsed JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
                  f"Content-Length: {len(body)}\r\n{headers}\r\n".encode() + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    try:
        parsed = json.loads(rest)
    except ValueError:
        parsed = rest
    return status, head.decode("latin-1"), parsed


async def collect(url, n, timeout=20, subscribed=None):
    """n results from url; subscribed (an asyncio.Event) is set once the
    client is subscribed: its first message, the stream's status, came."""
    out = []
    async with websockets.connect(url) as ws:
        while len([m for m in out if m["type"] == "result"]) < n:
            out.append(json.loads(await asyncio.wait_for(ws.recv(), timeout)))
            if subscribed:
                subscribed.set()
    return [m for m in out if m["type"] == "result"]


async def subscribed_collector(url, n):
    """collect(url, n) as a task, once its client is subscribed (a push
    stream replays nothing to a new client: what is published before is
    not its)."""
    ready = asyncio.Event()
    task = asyncio.create_task(collect(url, n, subscribed=ready))
    await asyncio.wait_for(ready.wait(), 20)
    return task


class PublishTest(unittest.TestCase):
    def test_results_reach_clients_in_order_with_server_fields(self):
        with fc.Server("--stream", "sensors=push", "--io-threads", "2") as srv:
            url = srv.url("sensors")

            async def run():
                task = await subscribed_collector(url, 6)
                for i in range(3):
                    status, _, answer = post(srv.port, "/api/streams/sensors/publish",
                                             json.dumps({"n": i, "temp": 20.5}).encode())
                    self.assertEqual((status, answer["published"]), (200, 1))
                batch = "".join(json.dumps({"n": i}) + "\n" for i in range(3, 6)).encode()
                status, _, answer = post(srv.port, "/api/streams/sensors/publish", batch,
                                         "application/x-ndjson")
                self.assertEqual((status, answer["published"], answer["first_seq"],
                                  answer["last_seq"]), (200, 3, 4, 6))
                return await task

            got = asyncio.run(run())
            self.assertEqual([m["n"] for m in got], list(range(6)))
            self.assertEqual([m["seq"] for m in got], list(range(1, 7)))
            self.assertEqual(len({m["epoch"] for m in got}), 1)
            self.assertTrue(all(m["stream"] == "sensors" and m["publish_us"] > 0 for m in got))
            self.assertEqual(got[0]["temp"], 20.5)
            m = fc.metrics(srv.port)
            self.assertEqual(m['framecast_results_total{stream="sensors"}'], 6)
            # History and resume work for pushed results too.
            resumed = asyncio.run(collect(srv.url("sensors", f"since=3&epoch={got[0]['epoch']}"), 3))
            self.assertEqual([r["n"] for r in resumed], [3, 4, 5])

    def test_bad_bodies_are_refused_with_the_reason(self):
        with fc.Server("--stream", "p=push", "--stream", "v=synthetic:fps=5", "--max-body",
                       "1KiB") as srv:
            cases = [
                (b"{not json", 400, "JSON"),
                (b"[1, 2]", 400, "object"),
                (b'{"seq": 3}', 400, "server sets"),
                (b'{"label": "\xff"}', 400, "UTF-8"),
                (b"", 400, "no JSON object"),
                # Accepted by a lenient parser, refused by every viewer's
                # JSON.parse once spliced into a result: refused here.
                (b'{"a":1} x}', 400, "after the JSON"),
                (b'{"a":"x\x01y"}', 400, "control character"),
                (b'{"a":01}', 400, "JSON"),
                (b'{"a":1.}', 400, "number"),
                (b'{"a":"\\ud800"}', 400, "surrogate"),
            ]
            for body, status, word in cases:
                got, _, answer = post(srv.port, "/api/streams/p/publish", body)
                self.assertEqual(got, status, body)
                self.assertIn(word, answer["error"], body)
            got, _, answer = post(srv.port, "/api/streams/v/publish", b"{}")
            self.assertEqual(got, 404)
            self.assertIn("not a push stream", answer["error"])
            got, _, answer = post(srv.port, "/api/streams/nope/publish", b"{}")
            self.assertEqual(got, 404)
            got, _, _ = post(srv.port, "/api/streams/p/publish", b"{" + b'"x":1,' * 400 + b'"y":2}')
            self.assertEqual(got, 413)
            # A batch with a bad line: what came before it is published.
            got, _, answer = post(srv.port, "/api/streams/p/publish", b'{"a":1}\n{"a":\n{"a":3}\n',
                                  "application/x-ndjson")
            self.assertEqual((got, answer["published"], answer["line"]), (400, 1, 2))
            # No Content-Length: 411; GET on the publish path: 405.
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(b"POST /api/streams/p/publish HTTP/1.1\r\nHost: x\r\n"
                          b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
                self.assertIn(b" 411 ", s.recv(4096).split(b"\r\n")[0])
            status, _ = fc.http_get(srv.port, "/api/streams/p/publish")
            self.assertEqual(status, 405)
            self.assertEqual(fc.metrics(srv.port)['framecast_results_total{stream="p"}'], 1)

    def test_a_body_that_stops_coming_is_408_and_publishes_nothing(self):
        with fc.Server("--stream", "sensors=push", "--handshake-timeout", "1500") as srv:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(b"POST /api/streams/sensors/publish HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"n\": 1")
                t0 = time.monotonic()
                data = b""
                while chunk := s.recv(65536):
                    data += chunk
                took = time.monotonic() - t0
            self.assertTrue(data.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), data)
            self.assertGreaterEqual(took, 1.4, "answered before the timeout")
            m = fc.metrics(srv.port)
            self.assertEqual(m['framecast_results_total{stream="sensors"}'], 0)
            self.assertEqual(m['framecast_connections_refused_total{reason="handshake_timeout"}'], 1)
            # The stream takes the next producer.
            status, _, answer = post(srv.port, "/api/streams/sensors/publish", b'{"n": 2}')
            self.assertEqual((status, answer["published"]), (200, 1))

    def test_a_saturated_stream_answers_429_and_never_blocks(self):
        # One loop: while it answers the POST it cannot drain its own inbox,
        # so a big batch fills the stream's room and the rest is refused.
        with fc.Server("--stream", "p=push", "--io-threads", "1") as srv:
            batch = "".join(json.dumps({"n": i}) + "\n" for i in range(1000)).encode()
            t0 = time.monotonic()
            status, head, answer = post(srv.port, "/api/streams/p/publish", batch,
                                        "application/x-ndjson")
            self.assertLess(time.monotonic() - t0, 5)
            self.assertEqual(status, 429)
            self.assertIn("retry-after: 1", head.lower())
            self.assertGreater(answer["published"], 0)
            self.assertLess(answer["published"], 1000)
            self.assertEqual(answer["last_seq"], answer["published"])
            # Retrying the rest works once the loop has drained.
            rest = batch.split(b"\n")[answer["published"]:answer["published"] + 10]
            status, _, again = post(srv.port, "/api/streams/p/publish", b"\n".join(rest),
                                    "application/x-ndjson")
            self.assertEqual(status, 200)
            self.assertEqual(again["first_seq"], answer["last_seq"] + 1)

    def test_the_example_producer(self):
        with fc.Server("--stream", "sensors=push") as srv:
            async def run():
                task = await subscribed_collector(srv.url("sensors"), 5)
                p = await asyncio.create_subprocess_exec(
                    "/usr/bin/python3", os.path.join(fc.SOURCE_DIR, "examples", "publish.py"),
                    "--url", f"http://127.0.0.1:{srv.port}", "--stream", "sensors", "--count", "5",
                    "--interval", "0.05", stdout=subprocess.PIPE)
                out, _ = await p.communicate()
                self.assertEqual(p.returncode, 0)
                return out, await task

            out, got = asyncio.run(run())
            self.assertEqual([m["n"] for m in got], list(range(5)))
            self.assertEqual(len(out.decode().splitlines()), 5)


if __name__ == "__main__":
    fc.main()
