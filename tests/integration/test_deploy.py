"""docs/deploy.md's nginx configuration, run: examples/nginx.conf as it
ships (only its addresses, certificate and log path replaced) in front of
framecast, with nginx from Debian (installed, or extracted into
build/testdata by scripts/bootstrap --tests). Through it, over TLS:
results reach a python-websockets client, with permessage-deflate
negotiated end to end; framecast's origin check still refuses a foreign
page; a producer publishes to a push stream; the viewer page and /metrics
are served; the access log has the path without the ?token= query."""

import asyncio
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
TESTDATA = os.environ.get("FC_TESTDATA", os.path.join(SRC, "build", "testdata"))


def find_nginx():
    for path in (os.environ.get("FC_NGINX"), "/usr/sbin/nginx", os.path.join(TESTDATA, "nginx")):
        if path and os.access(path, os.X_OK):
            return path
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def client_tls():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the test's own self-signed certificate
    return ctx


class NginxTest(unittest.TestCase):
    def setUp(self):
        self.nginx = find_nginx()
        if not self.nginx:
            self.skipTest("no nginx (scripts/bootstrap --tests extracts Debian's into build/testdata)")
        self.dir = tempfile.mkdtemp(prefix="fc-nginx-")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
        shutil.rmtree(self.dir)

    def start_nginx(self, upstream_port):
        d = self.dir
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=cams.example.com", "-keyout", f"{d}/key.pem",
                        "-out", f"{d}/cert.pem"], check=True, capture_output=True, timeout=60)
        with open(os.path.join(SRC, "examples", "nginx.conf")) as f:
            example = f.read()
        self.port = free_port()
        replaced = example
        for old, new in (("    listen 443 ssl;\n", f"    listen 127.0.0.1:{self.port} ssl;\n"),
                         ("    listen [::]:443 ssl;\n", ""),
                         ("server 127.0.0.1:8080;", f"server 127.0.0.1:{upstream_port};"),
                         ("/etc/ssl/cams.example.com.pem", f"{d}/cert.pem"),
                         ("/etc/ssl/cams.example.com.key", f"{d}/key.pem"),
                         ("/var/log/nginx/framecast.log", f"{d}/access.log")):
            self.assertIn(old, replaced)
            replaced = replaced.replace(old, new)
        temp = "".join(f"    {k}_temp_path {d}/{k};\n"
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        with open(f"{d}/nginx.conf", "w") as f:
            f.write(f"daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n"
                    f"error_log stderr notice;\nevents {{ worker_connections 256; }}\n"
                    f"http {{\n{temp}    access_log off;\n{replaced}\n}}\n")
        self.proc = subprocess.Popen([self.nginx, "-p", d, "-c", f"{d}/nginx.conf"],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.nginx_log = []
        threading.Thread(target=lambda: self.nginx_log.extend(self.proc.stdout), daemon=True).start()

        def listening():
            if self.proc.poll() is not None:
                raise AssertionError("nginx exited:\n" + "".join(self.nginx_log))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        fc.wait_for(listening, 30, "nginx listening")

    def https(self, path, data=None, headers=None):
        req = urllib.request.Request(f"https://127.0.0.1:{self.port}{path}", data=data,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, context=client_tls(), timeout=20) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def test_framecast_behind_the_example_nginx(self):
        with fc.Server("--stream", "cam=synthetic:size=64x64,fps=20,predictor=fake:count=3",
                       "--stream", "feed=push",
                       "--allowed-origin", "https://cams.example.com") as srv:
            self.start_nginx(srv.port)
            url = f"wss://127.0.0.1:{self.port}"

            async def watch():
                async with websockets.connect(f"{url}/ws/cam?token=SECRET-IN-QUERY",
                                              ssl=client_tls(),
                                              origin="https://cams.example.com") as ws:
                    ext = ws.response_headers.get("Sec-WebSocket-Extensions", "")
                    got = []
                    while len(got) < 5:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                        if m["type"] == "result":
                            got.append(m)
                    return ext, got

            ext, got = asyncio.run(watch())
            self.assertIn("permessage-deflate", ext)
            seqs = [m["seq"] for m in got]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 5)))
            self.assertEqual({len(m["detections"]) for m in got}, {3})

            # framecast's origin check works through the proxy.
            async def foreign():
                async with websockets.connect(f"{url}/ws/cam", ssl=client_tls(),
                                              origin="https://evil.example.net"):
                    pass

            with self.assertRaises(websockets.InvalidStatusCode) as refused:
                asyncio.run(foreign())
            self.assertEqual(refused.exception.status_code, 403)

            # A producer publishes through /api/; a client of the push stream
            # gets it with the server's seq.
            async def publish_and_receive():
                async with websockets.connect(f"{url}/ws/feed", ssl=client_tls()) as ws:
                    def subscribed():
                        streams = json.loads(fc.http_get(srv.port, "/api/streams")[1])["streams"]
                        return [s for s in streams if s["name"] == "feed" and s["clients"] == 1]

                    fc.wait_for(subscribed, 30, "the feed's client")
                    status, body = await asyncio.to_thread(
                        self.https, "/api/streams/feed/publish", b'{"door":"open"}',
                        {"Content-Type": "application/json"})
                    self.assertEqual(status, 200, body)
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 30))
                        if m["type"] == "result":
                            return m

            m = asyncio.run(publish_and_receive())
            self.assertEqual((m["door"], m["seq"]), ("open", 1))

            # The viewer and the metrics (allowed from 127.0.0.1).
            status, body = self.https("/")
            self.assertEqual(status, 200)
            with open(os.path.join(SRC, "web", "index.html"), "rb") as f:
                self.assertEqual(body, f.read())
            status, body = self.https("/metrics")
            self.assertEqual(status, 200)
            self.assertIn(b'framecast_clients{stream="cam"}', body)
            status, body = self.https("/readyz")
            self.assertEqual(status, 200, body)

            # The access log: paths, never the query with its token.
            def logged():  # nginx writes a WebSocket's line when it closes
                try:
                    with open(f"{self.dir}/access.log") as f:
                        text = f.read()
                except FileNotFoundError:
                    return ""
                return text if "/ws/cam" in text else ""

            log = fc.wait_for(logged, 30, "the WebSocket's access log line")
            self.assertIn('"GET /ws/cam" 101', log)
            self.assertNotIn("SECRET-IN-QUERY", log)


if __name__ == "__main__":
    fc.main()
