"""The cluster on NATS (docs/cluster.md): one ingest node with a synthetic
source, two edge nodes, each test with a nats-server of its own on a free
loopback port. Clients on the edges get every seq in order with the same
bytes, resume across edges (also on an edge that had no subscriber), live
through a NATS restart and an edge's death, and a stalled client on one
edge slows neither the ingest node nor the other edge."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402

import websockets  # noqa: E402

NATS_SERVER = shutil.which("nats-server") or "/usr/sbin/nats-server"
SOURCE = "synthetic:size=160x120,fps=30,objects=2,seed=3"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Nats:
    """A nats-server on 127.0.0.1; restartable on the same port."""

    def __init__(self, conf=None):
        self.port = free_port()
        self.proc = None
        self.conf = conf
        self.start()

    def start(self):
        args = ["-c", self.conf] if self.conf else []
        self.proc = subprocess.Popen([NATS_SERVER, "-a", "127.0.0.1", "-p", str(self.port), *args],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        fc.wait_for(self._listening, 10, "nats-server to listen")

    def _listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    @property
    def url(self):
        return f"nats://127.0.0.1:{self.port}"


def get_json(port, path):
    status, body = fc.http_get(port, path)
    return status, json.loads(body)


def edge_knows(edge, stream="demo", query=""):
    status, body = get_json(edge.port, "/api/streams" + query)
    return status == 200 and any(s["name"] == stream for s in body["streams"])


class Cluster:
    def __init__(self, edges=2, ingest_args=(), edge_args=(), nats=None, api_query=""):
        self.nats = nats or Nats()
        self.ingest, self.edges = None, []
        try:
            self.ingest = fc.Server("--role", "ingest", "--nats", self.nats.url, "--source",
                                    SOURCE, "--predictor", "fake:count=3", *ingest_args)
            for _ in range(edges):
                self.edges.append(fc.Server("--role", "edge", "--nats", self.nats.url,
                                            *edge_args))
            for e in self.edges:
                fc.wait_for(lambda: edge_knows(e, query=api_query), 30,
                            "the edge to learn the stream")
        except BaseException:
            for s in [*self.edges, self.ingest]:
                if s and s.proc.poll() is None:
                    s.proc.kill()
                    s.proc.wait()
                if s:
                    sys.stderr.write("framecast stderr:\n" + "".join(s.stderr_lines))
            self.nats.kill()
            raise

    def close(self, check=True):
        errors = []
        for s in [*self.edges, self.ingest]:
            if s.proc.poll() is not None and s.proc.returncode < 0:
                s.proc.stdout.close()  # killed on purpose
                s.proc.stderr.close()
                continue
            try:
                s.stop()
            except AssertionError as e:
                errors.append(str(e))
        self.nats.kill()
        if check and errors:
            raise AssertionError("\n".join(errors))


async def collect(url, until, timeout=20, on_msg=None):
    """Reads from url until until(results) is true; returns (results as
    (seq, raw text), other messages)."""
    results, others = [], []
    async with websockets.connect(url, max_size=None) as ws:
        deadline = time.monotonic() + timeout
        while not until(results):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out reading {url}: {len(results)} results, "
                                     f"others {others[-3:]}")
            raw = await asyncio.wait_for(ws.recv(), left)
            if isinstance(raw, bytes):
                continue
            m = json.loads(raw)
            if m["type"] == "result":
                results.append((m["seq"], raw))
            else:
                others.append(m)
            if on_msg:
                on_msg(m)
    return results, others


def in_order(seqs):
    return all(b == a + 1 for a, b in zip(seqs, seqs[1:]))


class TestCluster(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # A small queue bound, so the stalled client's queue is full at once.
        cls.c = Cluster(edge_args=("--queue-bytes", "16KiB"))

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_every_seq_on_both_edges_same_bytes(self):
        a, b = self.c.edges

        async def run():
            return await asyncio.gather(collect(a.url(), lambda r: len(r) >= 60),
                                        collect(b.url(), lambda r: len(r) >= 60))
        (ra, oa), (rb, ob) = asyncio.run(run())
        for r in (ra, rb):
            self.assertTrue(in_order([s for s, _ in r]), [s for s, _ in r])
        # The same seq is the same message, byte for byte: the ingest node's.
        da, db = dict(ra), dict(rb)
        common = set(da) & set(db)
        self.assertGreater(len(common), 30)
        for s in common:
            self.assertEqual(da[s], db[s])
        first = json.loads(ra[0][1])
        _, ing = get_json(self.c.ingest.port, "/api/streams")
        self.assertEqual(ing["streams"][0]["name"], "demo")
        self.assertEqual(oa[0]["type"], "status")  # the stream's status first
        self.assertEqual(oa[0]["state"], "live")
        self.assertEqual(len(first["epoch"]), 16)
        # /api/streams on an edge lists the stream with its own clients.
        _, streams = get_json(a.port, "/api/streams")
        self.assertEqual(streams["streams"][0]["name"], "demo")
        self.assertEqual(streams["streams"][0]["width"], 160)

    def test_client_moves_between_edges_without_gap(self):
        a, b = self.c.edges
        # Nobody reads edge B's stream now: it unsubscribed (or never
        # subscribed), so its ring lacks the range; the ingest node has it.
        fc.wait_for(lambda: fc.metrics(b.port).get('framecast_clients{stream="demo"}', 0) == 0,
                    10, "no client on edge B")
        time.sleep(1.5)  # past the edge's linger: it unsubscribes

        async def run():
            ra, _ = await asyncio.wait_for(collect(a.url(), lambda r: len(r) >= 20), 20)
            last = ra[-1][0]
            epoch = json.loads(ra[-1][1])["epoch"]
            await asyncio.sleep(0.5)  # results go on meanwhile
            q = f"since={last}&epoch={epoch}"
            rb, ob = await collect(b.url(query=q), lambda r: len(r) >= 40)
            return last, rb, ob
        last, rb, ob = asyncio.run(run())
        seqs = [s for s, _ in rb]
        self.assertEqual(seqs[0], last + 1, ob)
        self.assertTrue(in_order(seqs), seqs)
        self.assertFalse([m for m in ob if m["type"] == "reset"], ob)

    def test_stalled_client_slows_nobody(self):
        a, b = self.c.edges
        # A client of edge A that never reads.
        s = fc.raw_connect(a.port)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(b"GET /ws/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                  b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  b"Sec-WebSocket-Version: 13\r\n\r\n")
        try:
            before = fc.metrics(self.c.ingest.port)['framecast_results_total{stream="demo"}']
            t0 = time.monotonic()

            async def run():
                return await asyncio.gather(collect(b.url(), lambda r: len(r) >= 90),
                                            collect(a.url(), lambda r: len(r) >= 90))
            (rb, _), (ra, _) = asyncio.run(run())
            took = time.monotonic() - t0
            after = fc.metrics(self.c.ingest.port)['framecast_results_total{stream="demo"}']
            # 90 results at 30/s take 3 s; the stalled client costs nothing
            # (a server that waited on it would not deliver them at all).
            # Up to 10 s: four processes share a loaded machine's 2 cores.
            self.assertLess(took, 10.0)
            self.assertGreaterEqual(after - before, 80)
            self.assertTrue(in_order([x for x, _ in rb]))
            self.assertTrue(in_order([x for x, _ in ra]))
        finally:
            s.close()


class TestOutages(unittest.TestCase):
    def setUp(self):
        self.c = Cluster()

    def tearDown(self):
        self.c.close()

    def test_nats_restart(self):
        a = self.c.edges[0]
        nats = self.c.nats
        states = []

        def on_msg(m):
            if m["type"] == "status":
                states.append(m["state"])

        async def run():
            task = asyncio.ensure_future(collect(
                a.url(), lambda r: len(r) >= 30 and len(states) >= 3 and states[-1] == "live"
                and r[-1][0] > outage_end[0] + 30, timeout=40, on_msg=on_msg))
            await asyncio.sleep(1.5)
            nats.kill()
            # Every node notices, says so, and keeps running.
            await asyncio.sleep(0.1)
            deadline = time.monotonic() + 10
            while "unavailable" not in states:
                self.assertLess(time.monotonic(), deadline, f"no unavailable status: {states}")
                await asyncio.sleep(0.05)
            for node in (self.c.ingest, a):  # each notices on its own
                fc.wait_for(lambda: fc.http_get(node.port, "/readyz")[0] == 503, 10, "/readyz 503", 0.1)
                status, body = fc.http_get(node.port, "/readyz")
                self.assertEqual(status, 503, body)
                self.assertIn(b"NATS", body)
            rss0 = fc.rss_kib(self.c.ingest.proc.pid)
            await asyncio.sleep(2.0)  # the ingest node goes on publishing into nothing
            self.assertLess(fc.rss_kib(self.c.ingest.proc.pid) - rss0, 64 * 1024)
            nats.start()
            outage_end[0] = fc.metrics(self.c.ingest.port)['framecast_results_total{stream="demo"}']
            return await task
        outage_end = [1 << 62]
        results, others = asyncio.run(run())
        seqs = [s for s, _ in results]
        self.assertEqual(states[0], "live")
        self.assertIn("unavailable", states)
        self.assertEqual(states[-1], "live")
        # seq continuity, or a reset naming exactly what was lost.
        resets = [m for m in others if m["type"] == "reset"]
        gaps = [(x, y) for x, y in zip(seqs, seqs[1:]) if y != x + 1]
        edge_m = {k: v for k, v in fc.metrics(a.port).items() if "edge_" in k}
        self.assertEqual(len(gaps), len(resets), (gaps, resets, edge_m))
        for (x, y), r in zip(gaps, resets):
            self.assertEqual(r["oldest_seq"], y)
        for node in (self.c.ingest, *self.c.edges):
            fc.wait_for(lambda: fc.http_get(node.port, "/readyz")[0] == 200, 10, "ready again")
            m = fc.metrics(node.port)
            self.assertEqual(m["framecast_nats_connected"], 1)
            self.assertGreaterEqual(m["framecast_nats_reconnects_total"], 1)

    def test_edge_killed_clients_resume_on_the_other(self):
        a, b = self.c.edges

        async def run():
            got = []
            try:
                async with websockets.connect(a.url()) as ws:
                    while True:
                        m = json.loads(await asyncio.wait_for(ws.recv(), 10))
                        if m["type"] == "result":
                            got.append(m)
                        if len(got) == 20:
                            a.proc.send_signal(signal.SIGKILL)
            except (websockets.ConnectionClosed, ConnectionError):
                pass
            last = got[-1]
            await asyncio.sleep(0.3)
            q = f"since={last['seq']}&epoch={last['epoch']}"
            rb, ob = await collect(b.url(query=q), lambda r: len(r) >= 30)
            return last["seq"], rb, ob
        last, rb, ob = asyncio.run(run())
        a.proc.wait()
        seqs = [s for s, _ in rb]
        self.assertEqual(seqs[0], last + 1, ob)
        self.assertTrue(in_order(seqs))
        self.assertFalse([m for m in ob if m["type"] == "reset"], ob)


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate,
    made by the openssl command."""
    def run(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/ca-key.pem", "-out",
        f"{d}/ca.pem", "-days", "2", "-subj", "/CN=test CA")
    for name, ext in (("server", "subjectAltName=IP:127.0.0.1,DNS:localhost"),
                      ("client", "extendedKeyUsage=clientAuth")):
        run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{d}/{name}-key.pem", "-out",
            f"{d}/{name}.csr", "-subj", f"/CN={name}")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(ext + "\n")
        run("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey",
            f"{d}/ca-key.pem", "-CAcreateserial", "-out", f"{d}/{name}.pem", "-days", "2",
            "-extfile", f"{d}/{name}.ext")


class TestIngestRestart(unittest.TestCase):
    def test_ingest_killed_then_back_with_a_new_epoch(self):
        c = Cluster(edges=1)
        try:
            edge = c.edges[0]
            states, closed = [], []

            async def run():
                last = None
                try:
                    async with websockets.connect(edge.url()) as ws:
                        while True:
                            m = json.loads(await asyncio.wait_for(ws.recv(), 15))
                            if m["type"] == "result":
                                last = m
                                if len(states) == 1 and m["seq"] > 10:
                                    c.ingest.proc.kill()  # the ingest node dies
                                    c.ingest.proc.wait()
                                    c.ingest.proc.stdout.close()
                                    c.ingest.proc.stderr.close()
                            elif m["type"] == "status":
                                states.append(m["state"])
                                if m["state"] == "unavailable":
                                    # A new ingest node: a new numbering.
                                    c.ingest = fc.Server("--role", "ingest", "--nats",
                                                         c.nats.url, "--source", SOURCE,
                                                         "--predictor", "fake:count=3")
                except websockets.ConnectionClosed as e:
                    closed.append(e.code)
                q = f"since={last['seq']}&epoch={last['epoch']}"
                deadline = time.monotonic() + 10
                while True:  # between the old numbering and the new the name is briefly gone
                    try:
                        return last, await collect(edge.url(query=q), lambda r: len(r) >= 5)
                    except websockets.InvalidStatusCode as e:
                        if e.status_code != 404 or time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.05)
            last, (results, others) = asyncio.run(run())
            self.assertEqual(states[:2], ["live", "unavailable"])
            self.assertEqual(closed, [1012])  # the stream restarted
            resets = [m for m in others if m["type"] == "reset"]
            self.assertEqual(resets[0]["reason"], "epoch", others)
            self.assertNotEqual(json.loads(results[0][1])["epoch"], last["epoch"])
        finally:
            c.close()


class TestSecurity(unittest.TestCase):
    def test_tls_to_nats_with_a_client_certificate_and_jwt_on_the_edge(self):
        with tempfile.TemporaryDirectory() as d:
            make_pki(d)
            conf = f"{d}/nats.conf"
            with open(conf, "w") as f:
                f.write(f'tls {{\n  cert_file: "{d}/server.pem"\n  key_file: "{d}/server-key.pem"\n'
                        f'  ca_file: "{d}/ca.pem"\n  verify: true\n}}\n')
            secret = f"{d}/secret"
            with open(secret, "w") as f:
                f.write("s" * 40)
            tls = ("--nats-tls-ca", f"{d}/ca.pem", "--nats-tls-cert", f"{d}/client.pem",
                   "--nats-tls-key", f"{d}/client-key.pem")
            os.chmod(secret, 0o600)
            token = subprocess.run([fc.FRAMECAST, "token", "--secret-file", secret],
                                   check=True, capture_output=True, text=True).stdout.strip()
            nats = Nats(conf)
            c = Cluster(edges=1, ingest_args=tls, nats=nats, api_query=f"?token={token}",
                        edge_args=(*tls, "--auth-secret-file", secret))
            try:
                edge = c.edges[0]
                # The edge enforces the same JWT rules as a single node.
                async def refused():
                    with self.assertRaises(websockets.InvalidStatusCode) as e:
                        async with websockets.connect(edge.url()):
                            pass
                    return e.exception.status_code
                self.assertEqual(asyncio.run(refused()), 401)
                status, _ = fc.http_get(edge.port, "/api/streams")
                self.assertEqual(status, 401)
                results, _ = asyncio.run(collect(edge.url(query=f"token={token}"),
                                                 lambda r: len(r) >= 10))
                self.assertTrue(in_order([x for x, _ in results]))
                # A node without TLS is refused by this server: it says so, and
                # either does not start (exit 1) or runs unready.
                try:
                    lone = fc.Server("--role", "edge", "--nats", nats.url)
                except AssertionError as e:
                    self.assertIn("NATS", str(e))
                else:
                    try:
                        fc.wait_for(lambda: fc.http_get(lone.port, "/readyz")[0] == 503, 10,
                                    "/readyz 503 without NATS")
                        fc.wait_for(lambda: any("NATS" in x for x in lone.stderr_lines), 10,
                                    "a log line about NATS")
                    finally:
                        lone.stop()
            finally:
                c.close()

    def test_bad_nats_options_are_refused_at_start(self):
        cases = [
            (("--role", "edge"), "needs --nats"),
            (("--role", "edge", "--nats", "nats://127.0.0.1:1", "--source", "synthetic:"),
             "an edge runs no streams"),
            (("--nats", "nats://127.0.0.1:1", "--nats-tls-cert", "x.pem"), "--nats-tls-key"),
            (("--nats-creds", "x.creds"), "only with --nats"),
            (("--nats", "nats://127.0.0.1:1", "--nats-creds", "/nonexistent.creds"),
             "--nats-creds"),
            (("--nats", "nats://127.0.0.1:1", "--nats-tls-ca", "/nonexistent.pem"),
             "--nats-tls-ca"),
        ]
        for args, want in cases:
            p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", *args],
                               capture_output=True, text=True, timeout=30)
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn(want, p.stderr, args)


if __name__ == "__main__":
    fc.main()
