"""Slow-client policies: one subscriber stops reading while three others keep
up; the fast ones must get every message, the stalled one is handled by the
stream's policy, and the three policies are told apart by where the gap is.

Messages are ~15 KB (the fake predictor with 290 detections) at 100 fps, and
each client's queue in the server is bounded at 64 KiB. Whether the stalled
client's queue has overflowed is decided from the kernel's own numbers
(/proc/net/tcp): once the fast clients have received more bytes than the
stalled connection's two socket buffers hold plus the queue bound, the server
must have applied the policy.

What the stalled client reads when it resumes is, in order: the bytes in the
kernel's buffers (measured, so the test knows where they end), the message
the server was writing when the socket filled, then the server's queue:
  drop    the oldest messages still queued (the next seq), later a gap
  latest  the newest message first (a gap right there), then it continues
  close   a close frame 1008 "slow consumer", then the end of the connection
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
from test_ws_protocol import CLOSE, TEXT, RawWs, result_seq  # noqa: E402

import websockets  # noqa: E402  (Debian's python3-websockets, legacy API)

SOURCE = "synthetic:size=64x64,fps=100"
COMMON = ("--predictor", "fake:count=290", "--queue-bytes", "65536", "--close-timeout", "20000")
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


def stalled_client(port, path="/ws/demo"):
    """Handshakes with a tiny receive buffer, then never reads (by itself)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return RawWs.connect(port, path=path, sock=s)


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
                    # FAST_SECONDS from each fast client's first result (what
                    # check_fast asserts), not from the start: connecting may
                    # take a while on a loaded machine.
                    if (finished and all(results) and
                            time.monotonic() - max(r[0][0] for r in results) >= FAST_SECONDS):
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

    def resume(self, srv, stalled, stop_after_seq):
        """Measures where the kernel's share of the backlog ends, then reads
        until a result with seq >= stop_after_seq and 10 results past that
        point (or a close frame, then the end of the connection). Returns (boundary, frames): frames are
        (start, end, opcode, seq or None, payload) by wire offset."""
        cport = stalled.sock.getsockname()[1]
        last = [None]

        def settled():  # nothing moves while nobody reads: two equal readings
            e, c = tcp_entry(srv.port, cport), tcp_entry(cport, srv.port)
            now = e["tx"] + c["rx"] + len(stalled.buf)
            same, last[0] = now == last[0], now
            return same

        fc.wait_for(settled, 10, "the stalled connection's buffers to settle", interval=0.2)
        boundary, frames, offset = last[0], [], 0
        while True:
            _, op, payload = stalled.read_frame(timeout=20)
            n = len(payload)
            size = 2 + (2 if 126 <= n <= 0xFFFF else 8 if n > 0xFFFF else 0) + n
            seq = result_seq(payload) if op == TEXT else None
            frames.append((offset, offset + size, op, seq, payload))
            offset += size
            if op == CLOSE:
                stalled.send_frame(CLOSE, payload[:2])
                stalled.expect_eof()
                return boundary, frames
            past = sum(1 for f in frames if f[3] is not None and f[0] >= boundary)
            if seq is not None and seq >= stop_after_seq and past >= 10:
                return boundary, frames

    @staticmethod
    def around_the_boundary(boundary, frames):
        """(seq of the last result written at least partly into the kernel,
        the results after it in order)."""
        results = [(start, end, seq) for start, end, op, seq, _ in frames if seq is not None]
        before = [seq for start, end, seq in results if start < boundary]
        after = [seq for start, end, seq in results if start >= boundary]
        if not before or len(after) < 3:
            raise AssertionError(f"too little backlog around byte {boundary}: {results[-5:]}")
        return before[-1], after

    def stalled_test(self, policy_args):
        with fc.Server(*COMMON, "--stream", f"demo={SOURCE},{policy_args}") as srv:
            stalled = stalled_client(srv.port)
            try:
                results = self.run_fast_clients(srv, self.overflowed(srv, stalled))
                self.check_fast(results)
                live = max(s for r in results for _, s in r)
                boundary, frames = self.resume(srv, stalled, live + 20)
                return frames, boundary, fc.metrics(srv.port)
            finally:
                stalled.close()

    def test_drop_resumes_with_the_oldest_queued(self):
        frames, boundary, m = self.stalled_test("slow=drop")
        self.assertNotIn(CLOSE, [op for _, _, op, _, _ in frames])
        written, after = self.around_the_boundary(boundary, frames)
        # The message being written, then what the queue held: the oldest,
        # in order, up to the bound (64 KiB of ~15 KB messages), then a gap.
        self.assertEqual(after[0], written + 1, "drop must resume with the oldest queued message")
        run = 1
        while run < len(after) and after[run] == after[run - 1] + 1:
            run += 1
        self.assertGreaterEqual(run, 2, f"the queue's consecutive messages: {after[:8]}")
        self.assertLess(run, len(after), "a gap must follow the queued messages")
        self.assertGreater(m['framecast_messages_dropped_total{stream="demo"}'], 0)

    def test_latest_resumes_with_the_newest(self):
        frames, boundary, m = self.stalled_test("slow=latest")
        self.assertNotIn(CLOSE, [op for _, _, op, _, _ in frames])
        written, after = self.around_the_boundary(boundary, frames)
        # Right after the message being written: a gap, the newest message,
        # then the stream continues without another gap.
        self.assertGreater(after[0], written + 1, "latest must skip to the newest message")
        self.assertEqual(after, list(range(after[0], after[0] + len(after))),
                         "after the newest, latest continues in order")
        self.assertGreater(m['framecast_messages_dropped_total{stream="demo"}'], 0)

    def test_close_sends_1008_slow_consumer(self):
        frames, boundary, m = self.stalled_test("slow=close")
        op, payload = frames[-1][2], frames[-1][4]
        self.assertEqual(op, CLOSE, "the stalled client must get a close frame")
        self.assertEqual(struct.unpack("!H", payload[:2])[0], 1008)
        self.assertEqual(payload[2:], b"slow consumer")
        seqs = [seq for _, _, _, seq, _ in frames if seq is not None]
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                         "what came before the close frame has no gaps")
        self.assertEqual(m['framecast_clients_closed_total{stream="demo",reason="slow_consumer"}'], 1)


if __name__ == "__main__":
    fc.main()
