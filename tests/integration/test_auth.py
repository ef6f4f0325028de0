"""Authentication with JSON Web Tokens: /ws/<stream> needs a token as
?token= or Authorization: Bearer, signed HS256 (--auth-secret-file) or
RS256/ES256 (--auth-public-key). Keys come from the openssl command, tokens
are signed here, independently of framecast (Python's hmac, openssl dgst),
and python-websockets is the peer. Refusals are answered before the upgrade
(401 with the reason, 403 for another stream) and counted in /metrics; a
connection whose token expires is closed with 4401; `framecast token`
prints tokens that verify; bad key files stop the server with status 2."""

import asyncio
import base64
import hashlib
import hmac
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

import websockets  # noqa: E402

SOURCE = "synthetic:size=64x64,fps=30"


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def part(x):
    if isinstance(x, dict):
        x = json.dumps(x, separators=(",", ":"))
    return b64(x.encode() if isinstance(x, str) else x)


def hs256(secret, claims, header=None):
    signing = f"{part(header or {'alg': 'HS256', 'typ': 'JWT'})}.{part(claims)}"
    return signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())


def der_to_raw(der):
    """An ECDSA signature from DER (SEQUENCE of INTEGER r, s) to r || s."""
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        out += der[i + 2:i + 2 + n].lstrip(b"\0").rjust(32, b"\0")
        i += 2 + n
    return out


def openssl_signed(alg, key, claims):
    signing = f"{part({'alg': alg, 'typ': 'JWT'})}.{part(claims)}"
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=signing.encode(),
                         capture_output=True, check=True).stdout
    return signing + "." + b64(der_to_raw(sig) if alg == "ES256" else sig)


def upgrade(port, path, headers=()):
    """A WebSocket upgrade request over a raw socket: (status, head, body)."""
    with fc.raw_connect(port) as s:
        req = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
               "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n")
        s.sendall(req.encode())
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


def http(port, path, token=None):
    """GET path with an optional bearer token: (status, head, body)."""
    with fc.raw_connect(port) as s:
        auth = f"Authorization: Bearer {token}\r\n" if token else ""
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode())
        data = fc.recv_until_closed(s)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head.decode(), body.decode()


def metrics(port, token):
    status, _, body = http(port, "/metrics", token)
    assert status == 200, (status, body)
    out = {}
    for line in body.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


async def results(url, n, headers=None, timeout=20):
    """n result messages over one connection."""
    got = []
    async with websockets.connect(url, extra_headers=headers or {}) as ws:
        deadline = time.monotonic() + timeout
        while len(got) < n:
            msg = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            if msg["type"] == "result":
                got.append(msg)
    return got


class AuthTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        d = cls.tmp.name
        cls.secret_file = os.path.join(d, "secret")
        with open(cls.secret_file, "wb") as f:
            f.write(subprocess.run(["openssl", "rand", "-hex", "32"], capture_output=True,
                                   check=True).stdout)
        os.chmod(cls.secret_file, 0o600)
        with open(cls.secret_file, "rb") as f:
            cls.secret = f.read().rstrip(b"\r\n")
        cls.keys = {}
        for name, args in (("rsa", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]),
                           ("ec", ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                           ("rsa1024", ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024"])):
            key, pub = os.path.join(d, f"{name}.key"), os.path.join(d, f"{name}.pub")
            subprocess.run(["openssl", "genpkey", *args, "-out", key], check=True,
                           capture_output=True)
            subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True,
                           capture_output=True)
            cls.keys[name] = (key, pub)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def token(self, **claims):
        claims.setdefault("exp", int(time.time()) + 600)
        return hs256(self.secret, claims)

    def all_streams(self):
        return self.token(streams=["*"])

    def hs_server(self, *args):
        return fc.Server("--source", SOURCE, "--auth-secret-file", self.secret_file, *args)

    def test_a_good_token_in_the_query_or_the_header(self):
        with self.hs_server("--log-level", "debug") as srv:
            tok = self.token(streams=["demo"])
            got = asyncio.run(results(srv.url(query=f"token={tok}"), 3))
            self.assertEqual(len(got), 3)
            got = asyncio.run(results(srv.url(), 3, {"Authorization": f"Bearer {tok}"}))
            self.assertEqual(len(got), 3)
            # Without one: 401 before the upgrade, as a real peer sees it.
            with self.assertRaises(websockets.exceptions.InvalidStatusCode) as e:
                asyncio.run(results(srv.url(), 1))
            self.assertEqual(e.exception.status_code, 401)
            status, head, body = upgrade(srv.port, "/ws/demo")
            self.assertEqual(status, 401)
            self.assertIn("WWW-Authenticate: Bearer", head)
            self.assertIn("a token is required", body)
            m = metrics(srv.port, self.all_streams())
            self.assertEqual(m['framecast_connections_refused_total{reason="unauthorized"}'], 2)
            self.assertEqual(m['framecast_clients{stream="demo"}'], 0)
        # Tokens are credentials: none of them reaches the log.
        log = "".join(srv.stderr_lines)
        self.assertIn("refused 127.0.0.1: 401", log)
        self.assertNotIn(tok.split(".")[2], log)
        self.assertNotIn(tok, log)

    def test_bad_tokens_get_401_with_the_reason(self):
        now = int(time.time())
        good = self.token(streams=["demo"])
        h, c, s = good.split(".")
        other = hs256(b"another secret of at least thirty-two bytes", {"exp": now + 600})
        cases = {
            "expired": (self.token(exp=now - 120), "has expired"),
            "not yet valid": (self.token(nbf=now + 120), "not valid yet"),
            "bad signature": (other, "signature does not verify"),
            "claims changed": (f"{h}.{part({'exp': now + 600, 'streams': ['*']})}.{s}",
                               "signature does not verify"),
            "alg none": (f"{part({'alg': 'none'})}.{part({'streams': ['*']})}.", "alg"),
            "alg none signed": (hs256(self.secret, {"streams": ["*"]}, {"alg": "none"}), "alg"),
            "HS512": (hs256(self.secret, {}, {"alg": "HS512"}), "alg"),
            "malformed base64": (f"{h}=.{c}.{s}", "malformed"),
            "not base64url": ("!!!." + c + "." + s, "malformed"),
            "two parts": (f"{h}.{c}", "malformed"),
            "malformed header JSON": (f"{part('{not json')}.{c}.{s}", "malformed"),
            "malformed claims JSON": (hs256(self.secret, '{"exp":1'), "malformed"),
            "exp not a number": (hs256(self.secret, {"exp": "tomorrow"}), "malformed"),
            "streams not a list": (hs256(self.secret, {"streams": "demo"}), "malformed"),
        }
        with self.hs_server("--log-level", "debug") as srv:
            for name, (tok, words) in cases.items():
                with self.subTest(name):
                    status, head, body = upgrade(srv.port, f"/ws/demo?token={tok}")
                    self.assertEqual(status, 401, body)
                    self.assertIn(words, body)
                    self.assertIn("WWW-Authenticate: Bearer", head)
            # Both ways at once is one too many.
            status, _, body = upgrade(srv.port, f"/ws/demo?token={good}",
                                      [("Authorization", f"Bearer {good}")])
            self.assertEqual(status, 401)
            self.assertIn("malformed", body)
            status, _, _ = upgrade(srv.port, "/ws/demo", [("Authorization", "Basic dTpw")])
            self.assertEqual(status, 401)
            m = metrics(srv.port, self.all_streams())
            self.assertEqual(m['framecast_connections_refused_total{reason="unauthorized"}'],
                             len(cases) + 2)
        log = "".join(srv.stderr_lines)
        for tok, _ in cases.values():
            if len(tok.split(".")) == 3 and len(tok.split(".")[2]) > 8:
                self.assertNotIn(tok.split(".")[2], log)

    def test_a_token_for_other_streams_gets_403_and_sees_only_its_own(self):
        with fc.Server("--stream", f"demo={SOURCE}", "--stream", f"door={SOURCE}",
                       "--auth-secret-file", self.secret_file) as srv:
            door = self.token(streams=["door"])
            status, _, body = upgrade(srv.port, f"/ws/demo?token={door}")
            self.assertEqual(status, 403, body)
            self.assertIn("does not allow this stream", body)
            self.assertEqual(len(asyncio.run(results(srv.url("door", f"token={door}"), 2))), 2)
            # An unknown stream: who has no token learns nothing (401), who
            # has one learns only the streams it may read.
            self.assertEqual(upgrade(srv.port, "/ws/nope")[0], 401)
            status, _, body = upgrade(srv.port, f"/ws/nope?token={door}")
            self.assertEqual(status, 404)
            self.assertIn("/ws/door", body)
            self.assertNotIn("demo", body)
            # The API: a token is needed, and it lists what the token allows;
            # /metrics names every stream, so it needs a token for all.
            self.assertEqual(http(srv.port, "/api/streams")[0], 401)
            status, head, body = http(srv.port, "/api/streams", door)
            self.assertEqual(status, 200)
            self.assertEqual([s["name"] for s in json.loads(body)["streams"]], ["door"])
            status, _, body = http(srv.port, f"/api/streams?token={door}")
            self.assertEqual([s["name"] for s in json.loads(body)["streams"]], ["door"])
            self.assertEqual(http(srv.port, "/metrics")[0], 401)
            self.assertEqual(http(srv.port, "/metrics", door)[0], 403)
            self.assertEqual(http(srv.port, "/metrics", self.token())[0], 200)  # no claim: all
            # The page itself needs no token: it takes its own from its URL.
            self.assertEqual(http(srv.port, "/")[0], 200)
            self.assertEqual(http(srv.port, "/app.js")[0], 200)
            m = metrics(srv.port, self.all_streams())
            self.assertEqual(m['framecast_connections_refused_total{reason="forbidden"}'], 2)
            self.assertEqual(m['framecast_connections_refused_total{reason="unauthorized"}'], 3)

    def test_publishing_needs_a_publish_token_for_the_stream(self):
        with fc.Server("--stream", "p=push", "--stream", "q=push", "--auth-secret-file",
                       self.secret_file) as srv:
            def post(token, stream="p", body=b'{"n":1}'):
                auth = f"Authorization: Bearer {token}\r\n" if token else ""
                with fc.raw_connect(srv.port) as s:
                    s.sendall(f"POST /api/streams/{stream}/publish HTTP/1.1\r\nHost: x\r\n"
                              f"Content-Type: application/json\r\n{auth}"
                              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    data = fc.recv_until_closed(s)
                head, _, rest = data.partition(b"\r\n\r\n")
                return int(head.split(b" ", 2)[1]), json.loads(rest)

            status, answer = post(None)
            self.assertEqual(status, 401, answer)
            # A reader's token, even for every stream, may not publish.
            status, answer = post(self.all_streams())
            self.assertEqual(status, 403, answer)
            self.assertIn("publish", answer["error"])
            # A publisher's token for another stream may not either.
            self.assertEqual(post(self.token(streams=["q"], publish=True))[0], 403)
            # "publish" must be a boolean: anything else is a malformed token.
            self.assertEqual(post(self.token(streams=["p"], publish="yes"))[0], 401)
            got = subprocess.run([fc.FRAMECAST, "token", "--secret-file", self.secret_file,
                                  "--streams", "p", "--publish"], capture_output=True, text=True,
                                 timeout=30, check=True).stdout.strip()
            status, answer = post(got)
            self.assertEqual((status, answer["published"]), (200, 1), answer)
            # The same token reads the stream it publishes to.
            self.assertEqual(upgrade(srv.port, f"/ws/p?token={got}")[0], 101)
            m = metrics(srv.port, self.all_streams())
            self.assertEqual(m['framecast_connections_refused_total{reason="forbidden"}'], 2)

    def test_rs256_and_a_public_key_used_as_an_hmac_secret(self):
        key, pub = self.keys["rsa"]
        with fc.Server("--source", SOURCE, "--auth-public-key", pub) as srv:
            tok = openssl_signed("RS256", key, {"exp": int(time.time()) + 600})
            self.assertEqual(len(asyncio.run(results(srv.url(query=f"token={tok}"), 3))), 3)
            # The classic forgery: HS256 "signed" with the server's public
            # key (which anyone may have) as the HMAC secret.
            with open(pub, "rb") as f:
                pem = f.read()
            for secret in (pem, pem.rstrip(b"\n")):
                forged = hs256(secret, {"streams": ["*"], "exp": int(time.time()) + 600})
                status, _, body = upgrade(srv.port, f"/ws/demo?token={forged}")
                self.assertEqual(status, 401)
                self.assertIn("alg", body)
            # Signed by another RSA key; an ES256 token for an RSA key.
            other = openssl_signed("RS256", self.keys["rsa1024"][0], {})
            self.assertIn("signature", upgrade(srv.port, f"/ws/demo?token={other}")[2])
            es = openssl_signed("ES256", self.keys["ec"][0], {})
            self.assertIn("alg", upgrade(srv.port, f"/ws/demo?token={es}")[2])

    def test_es256(self):
        key, pub = self.keys["ec"]
        with fc.Server("--source", SOURCE, "--auth-public-key", pub) as srv:
            tok = openssl_signed("ES256", key, {"exp": int(time.time()) + 600,
                                                "streams": ["demo"]})
            got = asyncio.run(results(srv.url(), 3, {"Authorization": f"Bearer {tok}"}))
            self.assertEqual(len(got), 3)
            h, c, s = tok.split(".")
            other = openssl_signed("ES256", key, {"streams": ["*"]}).split(".")[1]
            status, _, body = upgrade(srv.port, f"/ws/demo?token={h}.{other}.{s}")
            self.assertEqual(status, 401)
            self.assertIn("signature", body)

    def test_a_connection_is_closed_when_its_token_expires(self):
        with self.hs_server("--auth-leeway", "0s") as srv:
            # 5 to 6 s of validity: room to connect on a loaded machine and
            # still see results flow before it expires.
            exp = int(time.time()) + 6
            tok = self.token(exp=exp, streams=["demo"])

            async def until_closed(deadline):
                n = 0
                async with websockets.connect(srv.url(query=f"token={tok}")) as ws:
                    try:
                        while time.time() < deadline:
                            msg = json.loads(await asyncio.wait_for(ws.recv(), 15))
                            n += msg["type"] == "result"
                    except websockets.exceptions.ConnectionClosed:
                        return n, time.time(), ws.close_code, ws.close_reason
                return n, time.time(), None, "still open 10 s after exp"

            n, closed_at, code, reason = asyncio.run(until_closed(exp + 10))
            self.assertEqual(code, 4401)
            self.assertEqual(reason, "token expired")
            self.assertGreater(n, 30, "results flowed until the token expired")
            # Not before exp; within a tick of the loop (0.5 s here) after it.
            self.assertGreaterEqual(closed_at, exp - 0.05)
            self.assertLess(closed_at, exp + 2.5)
            m = metrics(srv.port, self.all_streams())
            self.assertEqual(
                m['framecast_clients_closed_total{stream="demo",reason="token_expired"}'], 1)
            # Reconnecting with it is refused.
            self.assertIn("has expired", upgrade(srv.port, f"/ws/demo?token={tok}")[2])

    def test_framecast_token_prints_tokens_that_verify(self):
        p = subprocess.run([fc.FRAMECAST, "token", "--secret-file", self.secret_file, "--streams",
                            "demo,door", "--ttl", "90s", "--sub", "lobby screen"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        tok = p.stdout.strip()
        self.assertEqual(p.stdout, tok + "\n")
        h, c, s = tok.split(".")
        pad = lambda x: x + "=" * (-len(x) % 4)  # noqa: E731
        self.assertEqual(json.loads(base64.urlsafe_b64decode(pad(h))), {"alg": "HS256",
                                                                         "typ": "JWT"})
        mac = hmac.new(self.secret, f"{h}.{c}".encode(), hashlib.sha256).digest()
        self.assertEqual(b64(mac), s, "the signature is HMAC-SHA256 with the file's secret")
        claims = json.loads(base64.urlsafe_b64decode(pad(c)))
        self.assertEqual(claims["streams"], ["demo", "door"])
        self.assertEqual(claims["sub"], "lobby screen")
        self.assertEqual(claims["exp"] - claims["iat"], 90)
        self.assertLess(abs(claims["iat"] - time.time()), 5)
        with self.hs_server() as srv:
            self.assertEqual(len(asyncio.run(results(srv.url(query=f"token={tok}"), 2))), 2)
        # Without --streams: no streams claim, every stream.
        p = subprocess.run([fc.FRAMECAST, "token", "--secret-file", self.secret_file],
                           capture_output=True, text=True, timeout=30)
        claims = json.loads(base64.urlsafe_b64decode(pad(p.stdout.strip().split(".")[1])))
        self.assertNotIn("streams", claims)
        self.assertEqual(claims["exp"] - claims["iat"], 3600)
        short = os.path.join(self.tmp.name, "short")
        with open(short, "w") as f:
            f.write("too short\n")
        for args, words in ((["--ttl", "1h"], "--secret-file: missing"),
                            (["--secret-file", short], "at least 32"),
                            (["--secret-file", self.keys["rsa"][1]], "PEM key"),
                            (["--secret-file", self.secret_file, "--ttl", "0"], "--ttl"),
                            (["--secret-file", self.secret_file, "--streams", "a b"], "--streams"),
                            (["--secret-file", self.secret_file, "--streams", "a,,b"], "--streams"),
                            (["--bogus"], "--bogus")):
            with self.subTest(args=args):
                p = subprocess.run([fc.FRAMECAST, "token", *args], capture_output=True, text=True,
                                   timeout=30)
                self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
                self.assertIn(words, p.stderr)
                self.assertEqual(p.stdout, "")

    def test_bad_key_files_stop_the_server_with_status_2(self):
        short = os.path.join(self.tmp.name, "short-secret")
        with open(short, "w") as f:
            f.write("0123456789\n")
        cases = [
            (["--auth-public-key", self.keys["rsa"][0]], "private key"),
            (["--auth-public-key", self.keys["rsa1024"][1]], "2048"),
            (["--auth-public-key", os.path.join(self.tmp.name, "missing.pem")], "cannot open"),
            (["--auth-public-key", self.secret_file], "not a PEM public key"),
            (["--auth-secret-file", short], "at least 32"),
            (["--auth-secret-file", self.keys["ec"][1]], "PEM key"),
            (["--auth-leeway", "1.5"], "--auth-leeway"),
        ]
        for args, words in cases:
            with self.subTest(args=args):
                p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--source", SOURCE,
                                    *args], capture_output=True, text=True, timeout=60)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)
                if "leeway" not in words:
                    self.assertIn(args[1], p.stderr, "the message names the file")


if __name__ == "__main__":
    fc.main()
