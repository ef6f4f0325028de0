"""Who may connect, besides tokens: --allowed-origin and --require-origin
(403 before the upgrade), --max-clients-per-ip and --max-connect-rate-per-ip
(429), each refusal counted in /metrics by reason; and the security headers
on every HTTP answer. python-websockets is the peer; a second loopback
address (127.0.0.2) is a second client address."""

import asyncio
import json
import os
import re
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

import websockets  # noqa: E402

SOURCE = "synthetic:size=64x64,fps=30"


def connect_from(port, source="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def request(port, path, headers=(), source="127.0.0.1", ws=False):
    """One request on its own connection: (status, head, body). With ws, a
    WebSocket upgrade (a 101 is returned at once, the socket closed)."""
    with connect_from(port, source) as s:
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        if ws:
            extra += ("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n")
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        if status == 101:
            return status, head.decode(), ""  # frames may follow: not text
        body += fc.recv_until_closed(s)
    return status, head.decode(), body.decode()


def header(head, name):
    m = re.search(rf"^{name}: (.*)$", head, re.I | re.M)
    return m.group(1).strip() if m else None


def metrics_from(port, source):
    """/metrics from an address of its own, so it costs no one's allowance."""
    status, _, body = request(port, "/metrics", source=source)
    assert status == 200, status
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def refused(m, reason):
    return m[f'framecast_connections_refused_total{{reason="{reason}"}}']


class OriginTest(unittest.TestCase):
    def test_allowed_origins_and_the_others(self):
        with fc.Server("--source", SOURCE, "--allowed-origin", "http://good.example:8080",
                       "--allowed-origin", "*.example.org") as srv:
            cases = [("http://good.example:8080", 101),
                     ("https://cams.example.org", 101),
                     ("https://a.b.example.org", 101),
                     ("https://example.org", 403),
                     ("http://cams.example.org", 403),
                     ("http://good.example:8081", 403),
                     ("https://evil.example", 403),
                     ("https://good.example.evil.example", 403),
                     ("null", 403)]
            for origin, want in cases:
                with self.subTest(origin=origin):
                    status, _, body = request(srv.port, "/ws/demo", [("Origin", origin)], ws=True)
                    self.assertEqual(status, want, body)
                    if want == 403:
                        self.assertIn("--allowed-origin", body)
            # Without an Origin (not a browser): allowed.
            self.assertEqual(request(srv.port, "/ws/demo", ws=True)[0], 101)

            # A real peer, as a page on each origin would open it.
            async def first_result(origin):
                async with websockets.connect(srv.url(), origin=origin) as ws:
                    while json.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "result":
                        pass
                    return True

            self.assertTrue(asyncio.run(first_result("https://cams.example.org")))
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as e:
                asyncio.run(first_result("https://evil.example"))
            self.assertEqual(e.exception.status_code, 403)
            m = fc.metrics(srv.port)
            self.assertEqual(refused(m, "origin"), sum(w == 403 for _, w in cases) + 1)

    def test_require_origin_turns_away_requests_without_one(self):
        with fc.Server("--source", SOURCE, "--require-origin") as srv:
            status, _, body = request(srv.port, "/ws/demo", ws=True)
            self.assertEqual(status, 403)
            self.assertIn("--require-origin", body)
            status, _, _ = request(srv.port, "/ws/demo", [("Origin", "https://any.example")],
                                   ws=True)
            self.assertEqual(status, 101)  # no --allowed-origin: any origin
            self.assertEqual(refused(fc.metrics(srv.port), "origin"), 1)
            # Plain HTTP is not a WebSocket: no Origin needed.
            self.assertEqual(request(srv.port, "/api/streams")[0], 200)


class PerAddressTest(unittest.TestCase):
    def test_max_clients_per_ip(self):
        with fc.Server("--source", SOURCE, "--max-clients-per-ip", "2",
                       "--io-threads", "2") as srv:
            async def scenario():
                held = [await websockets.connect(srv.url()) for _ in range(2)]
                for ws in held:  # both upgraded and subscribed
                    await asyncio.wait_for(ws.recv(), 20)
                # The third from this address: 429 before the upgrade.
                status, head, body = request(srv.port, "/ws/demo", ws=True)
                self.assertEqual(status, 429, body)
                self.assertIn("--max-clients-per-ip", body)
                self.assertEqual(header(head, "Retry-After"), "1")
                with self.assertRaises(websockets.exceptions.InvalidStatusCode) as e:
                    await websockets.connect(srv.url())
                self.assertEqual(e.exception.status_code, 429)
                # Another address has its own allowance; HTTP is not limited.
                self.assertEqual(request(srv.port, "/ws/demo", source="127.0.0.2", ws=True)[0],
                                 101)
                self.assertEqual(request(srv.port, "/api/streams")[0], 200)
                # One leaves: its place is free again (the loop notices the
                # close, then releases it).
                await held[0].close()
                fc.wait_for(lambda: request(srv.port, "/ws/demo", ws=True)[0] == 101, 10,
                            "a place for 127.0.0.1 again")
                await held[1].close()

            asyncio.run(scenario())
            m = metrics_from(srv.port, "127.0.0.3")
            self.assertGreaterEqual(refused(m, "ip_clients"), 2)
            self.assertEqual(refused(m, "ip_rate"), 0)
            self.assertEqual(refused(m, "max_clients"), 0)

    def test_connection_rate_per_ip(self):
        with fc.Server("--source", SOURCE, "--max-connect-rate-per-ip", "2") as srv:
            # As fast as we can: the first 2 pass, then one every half second.
            t0 = time.monotonic()
            statuses = [request(srv.port, "/api/streams") for _ in range(12)]
            elapsed = time.monotonic() - t0
            ok = sum(s == 200 for s, _, _ in statuses)
            limited = [(h, b) for s, h, b in statuses if s == 429]
            self.assertEqual(ok + len(limited), 12)
            self.assertGreaterEqual(ok, 2)
            self.assertLessEqual(ok, 2 + int(elapsed * 2) + 1)
            self.assertTrue(limited, f"12 requests in {elapsed:.2f} s and none refused")
            head, body = limited[0]
            self.assertIn("--max-connect-rate-per-ip", body)
            self.assertEqual(header(head, "Retry-After"), "1")
            # WebSocket upgrades count the same; another address is not slowed.
            self.assertTrue(any(request(srv.port, "/ws/demo", ws=True)[0] == 429
                                for _ in range(10)))
            self.assertEqual(request(srv.port, "/ws/demo", source="127.0.0.2", ws=True)[0], 101)
            # The bucket fills again.
            fc.wait_for(lambda: request(srv.port, "/api/streams")[0] == 200, 5,
                        "a token in 127.0.0.1's bucket again")
            m = metrics_from(srv.port, "127.0.0.3")
            self.assertGreaterEqual(refused(m, "ip_rate"), len(limited) + 1)
            self.assertLessEqual(m["framecast_peer_addresses"], 3)


class HeadersTest(unittest.TestCase):
    def test_security_headers_on_every_answer(self):
        with fc.Server("--source", SOURCE) as srv:
            for path, cache in (("/", "no-cache"), ("/app.js", "no-cache"),
                                ("/style.css", "no-cache"), ("/api/streams", "no-store"),
                                ("/metrics", "no-store")):
                with self.subTest(path=path):
                    status, head, _ = request(srv.port, path)
                    self.assertEqual(status, 200)
                    csp = header(head, "Content-Security-Policy")
                    self.assertIsNotNone(csp)
                    for directive in ("default-src 'none'", "script-src 'self'",
                                      "style-src 'self'", "frame-ancestors 'none'",
                                      "base-uri 'none'",
                                      f"connect-src 'self' ws://127.0.0.1:{srv.port} "
                                      f"wss://127.0.0.1:{srv.port}"):
                        self.assertIn(directive, csp)
                    self.assertNotIn("unsafe-inline", csp)
                    self.assertEqual(header(head, "X-Content-Type-Options"), "nosniff")
                    self.assertEqual(header(head, "Referrer-Policy"), "no-referrer")
                    self.assertEqual(header(head, "X-Frame-Options"), "DENY")
                    self.assertEqual(header(head, "Cache-Control"), cache)
            # Error answers too; a Host that is not a plain host:port is not
            # repeated into the policy.
            status, head, _ = request(srv.port, "/nope")
            self.assertEqual(status, 404)
            self.assertEqual(header(head, "X-Content-Type-Options"), "nosniff")
            status, head, _ = request(srv.port, "/", [("Host", "x.example; script-src *")])
            csp = header(head, "Content-Security-Policy")
            self.assertNotIn("x.example", csp)
            self.assertNotIn("script-src *", csp)

    def test_the_page_has_nothing_inline(self):
        """What the CSP forbids is absent from web/ (the Chromium test
        checks the browser reports no violation)."""
        web = os.path.join(fc.SOURCE_DIR, "web")
        with open(os.path.join(web, "index.html")) as f:
            html = f.read()
        for script in re.findall(r"<script\b[^>]*>", html):
            self.assertIn("src=", script, "an inline script")
        self.assertNotRegex(html, r"<style\b", "an inline style sheet")
        self.assertNotRegex(html, r"\sstyle=", "a style attribute")
        self.assertNotRegex(html, r"\son[a-z]+=", "an inline event handler")
        with open(os.path.join(web, "app.js")) as f:
            js = f.read()
        for pattern in (r"\beval\(", r"new Function\(", r"\.innerHTML\b", r"\.style\.",
                        r"setAttribute\('style'"):
            self.assertNotRegex(js, pattern)


if __name__ == "__main__":
    fc.main()
