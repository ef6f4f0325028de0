"""Every per-client cost bounded, and no fault makes the server spin: running
out of file descriptors, --max-clients, a client that sends but never reads
(--write-timeout), half-open handshakes, and the worst-case memory per
client that docs/ARCHITECTURE.md states."""

import os
import resource
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402
from test_slow_client import server_closed_socket, stalled_client, tcp_entry  # noqa: E402
from test_ws_protocol import TEXT, RawWs, build_frame, http_exchange, upgrade_request  # noqa: E402

SMALL = "synthetic:size=64x64,fps=20"
# Results of about 15 KB at 100 per second (the fake predictor's 290 boxes).
HEAVY = ("--source", "synthetic:size=64x64,fps=100", "--predictor", "fake:count=290")


def descriptor_limit(n):
    def apply():
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return apply


def release_binary():
    """Memory figures are taken from the release build: ASan's allocator keeps
    freed memory per size class and in quarantine, which is not what a
    deployment runs. `make test` builds it."""
    path = os.environ.get("FRAMECAST_RELEASE", "")
    if not os.access(path, os.X_OK):
        raise AssertionError(f"the release build is needed for memory figures: '{path}' "
                             "is not there (run `make release`)")
    return path


class DescriptorTest(unittest.TestCase):
    def test_out_of_descriptors_the_server_neither_spins_nor_stops_serving(self):
        with fc.Server("--source", SMALL, "--io-threads", "1", "--handshake-timeout", "60000",
                       preexec_fn=descriptor_limit(64)) as srv:
            self.assertTrue(any("descriptor limit 64" in l for l in srv.stderr_lines),
                            "the server should log its descriptor limit")
            existing = [Subscriber(srv.url()) for _ in range(3)]
            idle = []
            try:
                for sub in existing:
                    fc.wait_for(lambda: len(sub.results()) >= 3, 20, "results for a client")
                # 200 connections that never send a request: the server runs
                # out of descriptors after a few dozen.
                idle = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(200)]
                lines0, counts0 = len(srv.stderr_lines), [len(s.results()) for s in existing]
                cpu0, t0 = fc.cpu_seconds(srv.proc.pid), time.monotonic()
                time.sleep(3)  # a measurement window, not a wait for a condition
                cpu = (fc.cpu_seconds(srv.proc.pid) - cpu0) / (time.monotonic() - t0)
                new_lines = srv.stderr_lines[lines0:]
                self.assertLess(cpu, 0.20, f"the server used {cpu:.0%} of a core")
                self.assertLess(len(new_lines), 20, "".join(new_lines[:5]))
                self.assertTrue(any("Too many open files" in l for l in new_lines),
                                "running out of descriptors should be logged")
                for sub, before in zip(existing, counts0):
                    self.assertGreaterEqual(len(sub.results()) - before, 20,
                                            "a connected client stopped getting results")
                for s in idle:
                    s.close()
                idle = []
                # Descriptors free again: new clients are accepted.
                late = Subscriber(srv.url())
                try:
                    fc.wait_for(lambda: len(late.results()) >= 1, 20, "a new client to be served")
                finally:
                    late.close()
                m = fc.metrics(srv.port)
                self.assertGreater(m['framecast_connections_refused_total{reason="fd_limit"}'], 0)
            finally:
                for s in idle:
                    s.close()
                for sub in existing:
                    sub.close()

    def test_max_clients_answers_503_with_retry_after(self):
        with fc.Server("--source", SMALL, "--max-clients", "2") as srv:
            a = RawWs.connect(srv.port)
            b = RawWs.connect(srv.port)
            status, head, body = http_exchange(srv.port, upgrade_request())
            self.assertEqual(status, 503)
            self.assertIn("retry-after: 1", head.lower())
            self.assertIn(b"--max-clients", body)
            m = fc.metrics(srv.port)  # plain HTTP is not a client
            self.assertEqual(m['framecast_connections_refused_total{reason="max_clients"}'], 1)
            self.assertEqual(m['framecast_clients{stream="demo"}'], 2)
            a.close()

            def admitted():
                try:
                    c = RawWs.connect(srv.port, timeout=5)
                except AssertionError:  # 503: the place is not free yet
                    return None
                return c

            c = fc.wait_for(admitted, 10, "a place to free up once a client leaves")
            _, op, _ = c.read_frame()
            self.assertEqual(op, TEXT)
            b.close()
            c.close()


class ClientCostTest(unittest.TestCase):
    def test_a_client_that_sends_but_never_reads_is_closed(self):
        with fc.Server(*HEAVY, "--queue-bytes", "65536", "--write-timeout", "1000",
                       "--ping-interval", "60000") as srv:
            s = stalled_client(srv.port)
            cport = s.sock.getsockname()[1]
            chatter = build_frame(TEXT, b"still here")
            try:
                def closed():
                    try:
                        s.send(chatter)  # it keeps talking, so keepalive never fires
                    except OSError:
                        pass
                    return server_closed_socket(tcp_entry(srv.port, cport))

                fc.wait_for(closed, 20, "the server to close a client that never reads",
                            interval=0.05)
            finally:
                s.close()
            m = fc.metrics(srv.port)
            self.assertEqual(m['framecast_clients_closed_total{stream="demo",reason="write_timeout"}'], 1)
            self.assertEqual(m['framecast_clients_closed_total{stream="demo",reason="slow_consumer"}'], 0)

    def test_half_open_handshakes_cost_at_most_the_head_limit_until_the_timeout(self):
        with fc.Server("--source", SMALL, "--handshake-timeout", "1500", "--max-head", "8192",
                       binary=release_binary()) as srv:
            watcher = Subscriber(srv.url())
            socks = []
            try:
                fc.wait_for(lambda: len(watcher.results()) >= 3, 20, "results")
                rss0 = fc.rss_kib(srv.proc.pid)
                for _ in range(100):
                    s = socket.create_connection(("127.0.0.1", srv.port))
                    s.sendall(b"GET /ws/demo HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 4000)
                    socks.append(s)
                t0 = time.monotonic()
                fc.wait_for(lambda: fc.metrics(srv.port)["framecast_connections_accepted_total"] >= 102,
                            10, "the connections to be accepted")
                # docs/ARCHITECTURE.md: at most the head limit and the record.
                grown = fc.rss_kib(srv.proc.pid) - rss0
                print(f"100 half-open handshakes of 4 KB: {grown} KiB", file=sys.stderr)
                self.assertLess(grown, 100 * (8 + 1), f"100 half-open handshakes took {grown} KiB")
                for s in socks:  # each told 408 and closed
                    s.settimeout(10)
                    answer = b""
                    while chunk := s.recv(4096):
                        answer += chunk
                    self.assertTrue(answer.startswith(b"HTTP/1.1 408 "), answer)
                self.assertLess(time.monotonic() - t0, 8)
                n = len(watcher.results())
                fc.wait_for(lambda: len(watcher.results()) > n + 5, 10, "the stream to go on")
            finally:
                for s in socks:
                    s.close()
                watcher.close()

    def test_worst_case_memory_per_client_is_what_the_docs_say(self):
        # docs/ARCHITECTURE.md: a WebSocket client holds at most its queue
        # bound, one message over it, its control bound (64 KiB), the ring
        # of references and its record: 64 + 15 + 64 + 1 KiB here.
        bound_kib = 64 + 16 + 64 + 2
        stalled = []
        with fc.Server(*HEAVY, "--queue-bytes", "65536", "--io-threads", "1",
                       binary=release_binary()) as srv:
            fast = Subscriber(srv.url())
            try:
                fc.wait_for(lambda: len(fast.results()) >= 200, 30, "a warm server")
                rss0 = fc.rss_kib(srv.proc.pid)
                # Stalled one after another, each holds different messages.
                for _ in range(30):
                    stalled.append(stalled_client(srv.port))
                    n = len(fast.results())
                    fc.wait_for(lambda: len(fast.results()) >= n + 8, 10, "time to pass")
                # Every stalled client is over its bound once each new result
                # is dropped for all of them.
                def all_over():
                    a = fc.metrics(srv.port)
                    n = len(fast.results())
                    fc.wait_for(lambda: len(fast.results()) >= n + 10, 10, "results")
                    b = fc.metrics(srv.port)
                    drop = 'framecast_messages_dropped_total{stream="demo"}'
                    res = 'framecast_results_total{stream="demo"}'
                    return b[drop] - a[drop] >= 30 * (b[res] - a[res]) - 30

                fc.wait_for(all_over, 60, "every stalled client to be over its bound", interval=0)
                per_client = (fc.rss_kib(srv.proc.pid) - rss0) / 30
                print(f"a stalled client: {per_client:.0f} KiB (bound {bound_kib})", file=sys.stderr)
                self.assertLess(per_client, bound_kib,
                                f"a stalled client costs {per_client:.0f} KiB")
            finally:
                fast.close()
                for s in stalled:
                    s.close()


if __name__ == "__main__":
    fc.main()
