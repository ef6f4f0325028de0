"""Slow-client policies: one subscriber stops reading while three others keep
up; the fast ones must get every message, the stalled one is handled by the
stream's policy (drop, close or latest).

Messages are ~15 KB (the fake predictor with 290 detections) at 100 fps, and
each client's queue in the server is bounded at 64 KiB. Whether the stalled
client's queue has overflowed is decided from the kernel's own numbers
(/proc/net/tcp): once the fast clients have received more bytes than the
stalled connection's two socket buffers hold plus the queue bound, the server
must have applied the policy.
"""

import asyncio
import os
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_ws_protocol import CLOSE, TEXT, Closed, RawWs, result_seq  # noqa: E402

import websockets  # noqa: E402  (Debian's python3-websockets, legacy API)

SOURCE = "synthetic:size=64x64,fps=100"
COMMON = ("--predictor", "fake:count=290", "--queue-bytes", "65536", "--close-timeout", "1000")
QUEUE_BYTES = 65536
FAST_CLIENTS = 3
FAST_SECONDS = 3.0
DEADLINE = 30.0


def tcp_entry(local_port, remote_port):
    """The /proc/net/tcp row of a loopback connection: dict with tx, rx, inode;
    None when the kernel has forgotten it."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            cols = line.split()
            lport = int(cols[1].split(":")[1], 16)
            rport = int(cols[2].split(":")[1], 16)
            if lport == local_port and rport == remote_port:
                tx, rx = (int(x, 16) for x in cols[4].split(":"))
                return {"state": int(cols[3], 16), "tx": tx, "rx": rx, "inode": int(cols[9])}
    return None


def server_closed_socket(entry):
    """The server process no longer holds the socket (closed, maybe orphaned)."""
    return entry is None or entry["inode"] == 0


def stalled_client(port):
    """Handshakes with a tiny receive buffer, then never reads (by itself)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return RawWs.connect(port, sock=s)


class SlowClientTest(unittest.TestCase):
    def run_fast_clients(self, srv, done):
        """Runs the fast clients until FAST_SECONDS have passed and done(bytes
        received by each fast client) is true. Returns per-client seq lists."""
        url = srv.url()

        async def fast(results, nbytes, stop):
            async with websockets.connect(url, ping_interval=None, max_size=None) as ws:
                while not stop.is_set():
                    try:
                        msg = await asyncio.wait_for(ws.recv(), timeout=5)
                    except asyncio.TimeoutError:
                        raise AssertionError("a fast client got nothing for 5 s") from None
                    nbytes[0] += len(msg)
                    seq = result_seq(msg)
                    if seq is not None:  # not a status message
                        results.append((time.monotonic(), seq))

        async def main():
            stop = asyncio.Event()
            results = [[] for _ in range(FAST_CLIENTS)]
            nbytes = [[0] for _ in range(FAST_CLIENTS)]
            tasks = [asyncio.create_task(fast(results[i], nbytes[i], stop)) for i in range(FAST_CLIENTS)]
            t0 = time.monotonic()
            try:
                while True:
                    for t in tasks:
                        if t.done():
                            t.result()  # a fast client failed: raise its error
                            raise AssertionError("a fast client stopped early")
                    finished = done(min(n[0] for n in nbytes))  # called every round: it may track state
                    if finished and time.monotonic() - t0 >= FAST_SECONDS and all(results):
                        break
                    if time.monotonic() - t0 > DEADLINE:
                        raise AssertionError(f"the stalled client was not handled within {DEADLINE}s")
                    await asyncio.sleep(0.1)
            finally:
                stop.set()
                done_tasks = await asyncio.gather(*tasks, return_exceptions=True)
            for r in done_tasks:
                if isinstance(r, BaseException):
                    raise r
            return results

        return asyncio.run(main())

    def check_fast(self, results):
        for i, r in enumerate(results):
            seqs = [s for _, s in r]
            self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                             f"fast client {i} missed messages")
            self.assertGreaterEqual(r[-1][0] - r[0][0], FAST_SECONDS - 0.2, f"fast client {i} ran too briefly")
            self.assertGreaterEqual(len(seqs), 60, f"fast client {i} got too few messages")

    def overflowed(self, srv, stalled):
        """done() for the fast clients: more has been published than the
        stalled connection can hold outside the server's queue."""
        cport = stalled.sock.getsockname()[1]

        def done(fast_bytes):
            server_side = tcp_entry(srv.port, cport)
            client_side = tcp_entry(cport, srv.port)
            if server_side is None or client_side is None:
                return False
            held = server_side["tx"] + client_side["rx"] + len(stalled.buf)
            # Slack: one message partly written by the server, and frame headers.
            return fast_bytes > held + QUEUE_BYTES + 64 * 1024

        return done

    def read_backlog(self, stalled, live_seq, timeout=20):
        """Reads the stalled client's backlog until a message at or past
        live_seq arrives (it caught up and is still served). Returns seqs."""
        seqs = []
        deadline = time.monotonic() + timeout
        while True:
            _, op, payload = stalled.read_frame(timeout=max(0.01, deadline - time.monotonic()))
            self.assertNotEqual(op, CLOSE, f"stalled client was closed: {payload[:2]!r} {payload[2:]!r}")
            if op != TEXT or result_seq(payload) is None:
                continue
            seqs.append(result_seq(payload))
            if seqs[-1] >= live_seq:
                return seqs

    def assert_stays_connected_with_gap(self, srv, stalled, results):
        cport = stalled.sock.getsockname()[1]
        self.assertFalse(server_closed_socket(tcp_entry(srv.port, cport)),
                         "the server closed the stalled client")
        live = max(s for r in results for _, s in r)
        seqs = self.read_backlog(stalled, live)
        self.assertEqual(seqs, sorted(set(seqs)), "seq must increase")
        gaps = [(a, b) for a, b in zip(seqs, seqs[1:]) if b != a + 1]
        self.assertTrue(gaps, "a stalled client over its queue bound must miss messages (a seq gap)")

    def test_drop(self):
        with fc.Server(*COMMON, "--stream", f"demo={SOURCE},slow=drop") as srv:
            stalled = stalled_client(srv.port)
            try:
                results = self.run_fast_clients(srv, self.overflowed(srv, stalled))
                self.check_fast(results)
                self.assert_stays_connected_with_gap(srv, stalled, results)
            finally:
                stalled.close()

    def test_latest(self):
        with fc.Server(*COMMON, "--source", SOURCE, "--slow-policy", "latest") as srv:
            stalled = stalled_client(srv.port)
            try:
                results = self.run_fast_clients(srv, self.overflowed(srv, stalled))
                self.check_fast(results)
                self.assert_stays_connected_with_gap(srv, stalled, results)
            finally:
                stalled.close()

    def test_close(self):
        with fc.Server(*COMMON, "--stream", f"demo={SOURCE},slow=close") as srv:
            stalled = stalled_client(srv.port)
            cport = stalled.sock.getsockname()[1]
            try:
                # The fast clients run until the server has let go of the
                # stalled socket (the close frame could not be written, so the
                # close timeout ends it).
                track = {"tx": -1, "changed": None, "closed": None}

                def done(_):
                    now = time.monotonic()
                    e = tcp_entry(srv.port, cport)
                    if server_closed_socket(e):
                        track["closed"] = track["closed"] or now
                        return True
                    if e["tx"] != track["tx"]:  # the kernel still takes data
                        track["tx"], track["changed"] = e["tx"], now
                    return False

                results = self.run_fast_clients(srv, done)
                self.check_fast(results)
                # Once the kernel's buffer stopped taking data, the queue was
                # over its bound within a few messages; from then on the server
                # waits --close-timeout (1 s) for its close frame to go out.
                waited = track["closed"] - track["changed"]
                self.assertGreaterEqual(waited, 0.5, "closed without waiting for the close timeout")
                self.assertLess(waited, 2.5, "not closed within the close timeout")
                # What the stalled client reads: its backlog in order, then
                # either the close frame 1008 "slow consumer" or the end of
                # the connection; never data after a close frame.
                seqs, close = [], None
                try:
                    while True:
                        _, op, payload = stalled.read_frame(timeout=10)
                        if op == CLOSE:
                            close = payload
                            stalled.expect_eof()
                            break
                        if op == TEXT and result_seq(payload) is not None:
                            seqs.append(result_seq(payload))
                except Closed:
                    pass
                if seqs:
                    self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                     "the backlog before the close must have no gaps")
                if close is not None:
                    self.assertEqual(struct.unpack("!H", close[:2])[0], 1008, close)
                    self.assertEqual(close[2:], b"slow consumer")
            finally:
                stalled.close()


if __name__ == "__main__":
    fc.main()
