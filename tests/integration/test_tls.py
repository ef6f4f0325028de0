"""TLS: https:// and wss:// on the listening port with a self-signed
certificate made by the openssl command for each run; python-websockets as
the peer. A stalled wss:// client is handled by the policy while the fast
ones get everything; plain text on the TLS port, a truncated handshake and a
client that stops mid-handshake cost nothing; SIGHUP reloads the
certificate while clients stay connected."""

import asyncio
import hashlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

import websockets  # noqa: E402

SOURCE = "synthetic:size=64x64,fps=100"


def make_cert(directory, name, cn="localhost"):
    """A self-signed certificate for 127.0.0.1 and localhost: (cert, key)."""
    cert, key = os.path.join(directory, f"{name}.pem"), os.path.join(directory, f"{name}.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "1", "-subj", f"/CN={cn}",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    return cert, key


def client_context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def results(msgs):
    return [m for m in msgs if m.get("type") == "result"]


async def receive(url, ctx, n, timeout=20):
    """n results over wss://; returns the parsed messages."""
    out = []
    async with websockets.connect(url, ssl=ctx, max_size=None) as ws:
        deadline = time.monotonic() + timeout
        while len(results(out)) < n:
            msg = await asyncio.wait_for(ws.recv(), timeout=max(0.01, deadline - time.monotonic()))
            if isinstance(msg, str):
                out.append(json.loads(msg))
    return out


def peer_cert_digest(port, ctx):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        with ctx.wrap_socket(s, server_hostname="localhost") as t:
            return hashlib.sha256(t.getpeercert(binary_form=True)).hexdigest()


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.cert, cls.key = make_cert(cls.tmp.name, "server")
        cls.ctx = client_context(cls.cert)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def server(self, *args, **kw):
        return fc.Server("--tls-cert", self.cert, "--tls-key", self.key, *args, **kw)

    def wss(self, srv, stream="demo", query=""):
        return f"wss://localhost:{srv.port}/ws/{stream}" + (f"?{query}" if query else "")

    def test_wss_clients_receive_consecutive_results(self):
        with self.server("--source", SOURCE, "--io-threads", "2") as srv:
            self.assertTrue(any("listening on https://" in l for l in srv.stdout_lines))
            self.assertTrue(any("kernel TLS" in l for l in srv.stderr_lines),
                            "whether kernel TLS is offered should be logged")

            async def three():
                return await asyncio.gather(*(receive(self.wss(srv), self.ctx, 200) for _ in range(3)))

            for msgs in asyncio.run(three()):
                seqs = [m["seq"] for m in results(msgs)]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
            # The HTTP side is TLS too.
            with socket.create_connection(("127.0.0.1", srv.port)) as s:
                with self.ctx.wrap_socket(s, server_hostname="localhost") as t:
                    t.sendall(b"GET /api/streams HTTP/1.1\r\nHost: localhost\r\n\r\n")
                    data = b""
                    while chunk := t.recv(65536):
                        data += chunk
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:100])
            self.assertIn(b'"name":"demo"', data)

    def test_framecast_client_over_wss_checks_the_certificate(self):
        with self.server("--source", SOURCE) as srv:
            url = self.wss(srv)
            def client(*args):
                return subprocess.run([fc.FRAMECAST_CLIENT, "--count", "20", "--timeout", "20", *args,
                                       url], capture_output=True, text=True, timeout=40)
            ok = client("--ca", self.cert)
            self.assertEqual(ok.returncode, 0, ok.stderr)
            seqs = [m["seq"] for m in map(json.loads, ok.stdout.splitlines()) if m["type"] == "result"]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 20)))
            untrusted = client()  # a self-signed certificate no authority vouches for
            self.assertEqual(untrusted.returncode, 1)
            self.assertIn("certificate", untrusted.stderr)
            self.assertEqual(client("--insecure").returncode, 0)

    def test_resume_over_wss(self):
        with self.server("--source", SOURCE) as srv:
            first = results(asyncio.run(receive(self.wss(srv), self.ctx, 5)))[-1]
            fc.wait_for(lambda: self.published(srv) > first["seq"] + 50, 20, "results")
            q = f"since={first['seq']}&epoch={first['epoch']}"
            seqs = [m["seq"] for m in results(asyncio.run(receive(self.wss(srv, query=q), self.ctx, 80)))]
            self.assertEqual(seqs, list(range(first["seq"] + 1, first["seq"] + 81)))

    def published(self, srv):
        return self.metrics_tls(srv)['framecast_results_total{stream="demo"}']

    def metrics_tls(self, srv):
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            with self.ctx.wrap_socket(s, server_hostname="localhost") as t:
                t.sendall(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")
                data = b""
                while chunk := t.recv(65536):
                    data += chunk
        out = {}
        for line in data.partition(b"\r\n\r\n")[2].decode().splitlines():
            if line and not line.startswith("#"):
                k, v = line.rsplit(" ", 1)
                out[k] = float(v)
        return out

    def test_a_stalled_wss_client_is_closed_and_the_fast_ones_get_everything(self):
        with self.server("--source", SOURCE, "--predictor", "fake:count=290", "--slow-policy",
                         "close", "--queue-bytes", "65536") as srv:
            # A TLS client that completes the upgrade and then never reads.
            raw = socket.socket()
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            raw.connect(("127.0.0.1", srv.port))
            stalled = self.ctx.wrap_socket(raw, server_hostname="localhost")
            stalled.sendall(b"GET /ws/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
            try:
                key = 'framecast_clients_closed_total{stream="demo",reason="slow_consumer"}'

                async def fast():
                    return await asyncio.gather(*(receive(self.wss(srv), self.ctx, 400, timeout=60)
                                                  for _ in range(3)))

                for msgs in asyncio.run(fast()):
                    seqs = [m["seq"] for m in results(msgs)]
                    self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                     "a fast client missed results")
                fc.wait_for(lambda: self.metrics_tls(srv)[key] >= 1, 30,
                            "the stalled client to be closed by the policy")
            finally:
                stalled.close()

    def test_plain_text_and_broken_handshakes_cost_nothing(self):
        # 3 s to finish a handshake: the last wss client below needs room on a
        # loaded machine; the broken ones are closed at it.
        with self.server("--source", SOURCE, "--handshake-timeout", "3000", "--log-level",
                         "debug") as srv:
            # Plain HTTP on the TLS port: closed at once.
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                t0 = time.monotonic()
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    data = b""
                self.assertFalse(data.startswith(b"HTTP/1.1 200"))
                self.assertLess(time.monotonic() - t0, 2.5, "at once, not at the handshake timeout")
            # A ClientHello cut short, and a client that says nothing: closed
            # at the handshake timeout.
            with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as half, \
                    socket.create_connection(("127.0.0.1", srv.port), timeout=10) as mute:
                half.sendall(bytes.fromhex("160301020001000200"))  # a record header and a bit
                t0 = time.monotonic()
                for s in (half, mute):
                    try:
                        self.assertEqual(s.recv(65536), b"")
                    except ConnectionResetError:
                        pass
                self.assertLess(time.monotonic() - t0, 8)
            # Each cost at most one debug line, and the server still serves.
            tls_lines = [l for l in srv.stderr_lines if "TLS: closing" in l]
            self.assertLessEqual(len(tls_lines), 3)
            self.assertTrue(all("debug" in l for l in tls_lines))
            seqs = [m["seq"] for m in results(asyncio.run(receive(self.wss(srv), self.ctx, 20)))]
            self.assertEqual(len(seqs), 20)

    def test_sighup_reloads_the_certificate_while_clients_stay(self):
        with tempfile.TemporaryDirectory() as d:
            cert, key = make_cert(d, "live")
            with fc.Server("--tls-cert", cert, "--tls-key", key, "--source", SOURCE) as srv:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                before = peer_cert_digest(srv.port, ctx)

                async def run():
                    out = []
                    async with websockets.connect(self.wss(srv), ssl=ctx) as ws:
                        while len(results(out)) < 30:
                            out.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                        new_cert, new_key = make_cert(d, "next", cn="next")
                        os.replace(new_cert, cert)
                        os.replace(new_key, key)
                        srv.proc.send_signal(signal.SIGHUP)
                        fc.wait_for(lambda: any("reloaded the TLS" in l for l in srv.stderr_lines),
                                    10, "the reload")
                        while len(results(out)) < 130:  # the open connection goes on
                            out.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                    return out

                msgs = asyncio.run(run())
                seqs = [m["seq"] for m in results(msgs)]
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
                after = peer_cert_digest(srv.port, ctx)
                self.assertNotEqual(before, after, "new connections should get the new certificate")
                # A broken file on reload keeps the old certificate.
                with open(cert, "w") as f:
                    f.write("not a certificate\n")
                srv.proc.send_signal(signal.SIGHUP)
                fc.wait_for(lambda: any("previous certificate stays" in l for l in srv.stderr_lines),
                            10, "the failed reload")
                self.assertEqual(peer_cert_digest(srv.port, ctx), after)

    def test_bad_certificate_files_are_usage_errors(self):
        with tempfile.TemporaryDirectory() as d:
            bogus = os.path.join(d, "bogus.pem")
            with open(bogus, "w") as f:
                f.write("hello\n")
            for args, word in [(["--tls-cert", bogus, "--tls-key", self.key], "--tls-cert"),
                               (["--tls-cert", self.cert, "--tls-key", bogus], "--tls-key"),
                               (["--tls-cert", self.cert], "--tls-key"),
                               (["--tls-cert", self.cert, "--tls-key", self.key,
                                 "--tls-ciphers", "NOPE"], "--tls-ciphers")]:
                p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(word, p.stderr)


if __name__ == "__main__":
    fc.main()
