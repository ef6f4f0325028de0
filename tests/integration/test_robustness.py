"""Regression tests for defects found in review: a client that floods pings
and never reads, keepalive under the `latest` policy, a message larger than
the queue bound, a second signal during shutdown, and a slow file that is not
a stalled source."""

import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

UPGRADE = (b"GET /ws/demo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1]) // 1024


def raw_client(port, rcvbuf=4096):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.sendall(UPGRADE)
    return s


def metric(port, name):
    """A value from GET /metrics."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    for line in data.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def frames(buf):
    """Splits complete server frames off buf: returns ([(opcode, payload)], rest)."""
    out = []
    while len(buf) >= 2:
        op, ln, o = buf[0] & 15, buf[1] & 127, 2
        if ln == 126:
            if len(buf) < 4:
                break
            ln, o = struct.unpack(">H", buf[2:4])[0], 4
        elif ln == 127:
            if len(buf) < 10:
                break
            ln, o = struct.unpack(">Q", buf[2:10])[0], 10
        if len(buf) < o + ln:
            break
        out.append((op, buf[o:o + ln]))
        buf = buf[o + ln:]
    return out, buf


class RobustnessTest(unittest.TestCase):
    def test_ping_flood_without_reading_is_closed(self):
        with fc.Server("--source", "synthetic:size=64x64,fps=5", "--queue-bytes", "65536") as server:
            s = raw_client(server.port)
            s.settimeout(10)
            head = b""
            while b"\r\n\r\n" not in head:  # upgraded first: pings before it are a protocol error
                head += s.recv(1)
            ping = bytes([0x89, 0x80 | 125]) + b"\0\0\0\0" + b"p" * 125  # zero mask key
            chunk = ping * 8000  # ~1 MB
            s.settimeout(10)
            sent, closed = 0, False
            try:
                while sent < 100 << 20:
                    s.sendall(chunk)
                    sent += len(chunk)
            except (ConnectionError, socket.timeout):
                closed = True
            s.close()
            self.assertTrue(closed, "the server kept taking pings it could not answer")
            self.assertLess(sent, 60 << 20)
            self.assertLess(rss_mib(server.proc.pid), 200)
            m = fc.metrics(server.port)  # its pongs went over the control bound
            self.assertEqual(m['framecast_clients_closed_total{stream="demo",reason="control_backlog"}'], 1)

    def test_latest_policy_keeps_keepalive(self):
        """A client slow for a while under `latest`: the server's pings are not
        dropped with the data, so answering them keeps it connected."""
        with fc.Server("--source", "synthetic:size=64x64,fps=200", "--predictor", "fake:count=300",
                       "--slow-policy", "latest", "--queue-bytes", "65536",
                       "--ping-interval", "2000", "--ping-timeout", "5000") as server:
            s = raw_client(server.port)
            # Deliberately not reading for longer than the ping interval: the
            # kernel's buffers fill, the queue overflows, the ping is queued.
            # Its pong is due by 7 s; reading from 3.5 s to 8.5 s, a dropped
            # ping would show as a close (and 3.5 s to drain the backlog is
            # room for a loaded machine).
            time.sleep(3.5)
            s.settimeout(5)
            buf, pings, data, outcome = b"", 0, 0, None
            head_done = False
            end = time.monotonic() + 5
            while time.monotonic() < end and outcome is None:
                d = s.recv(65536)
                if not d:
                    outcome = "EOF"
                    break
                buf += d
                if not head_done:
                    i = buf.find(b"\r\n\r\n")
                    if i < 0:
                        continue
                    buf, head_done = buf[i + 4:], True
                got, buf = frames(buf)
                for op, payload in got:
                    if op == 9:
                        pings += 1
                        s.sendall(bytes([0x8A, 0x80 | len(payload)]) + b"\0\0\0\0" + payload)
                    elif op == 8:
                        outcome = "close %d" % struct.unpack(">H", payload[:2])[0]
                    else:
                        data += 1
            s.close()
            self.assertIsNone(outcome, "the server closed a client that answers its pings")
            self.assertGreater(pings, 0)
            self.assertGreater(data, 10)

    def test_a_lossy_client_is_logged_when_it_goes(self):
        """Per-client counters: a stalled client's losses are reported when it leaves."""
        with fc.Server("--source", "synthetic:size=64x64,fps=100", "--predictor", "fake:count=300",
                       "--queue-bytes", "65536") as server:
            s = raw_client(server.port)
            fc.wait_for(lambda: metric(server.port, 'framecast_messages_dropped_total{stream="demo"}') > 0,
                        20, "the stalled client's queue to overflow")
            s.close()
            sent, dropped = fc.wait_for(lambda: self._gone_line(server), 10, "the client's log line")
            self.assertGreater(dropped, 0)
            self.assertGreater(sent, 0)

    @staticmethod
    def _gone_line(server):
        for line in server.stderr_lines:
            m = re.search(r"client of stream 'demo' gone: (\d+) messages sent, (\d+) dropped", line)
            if m:
                return int(m.group(1)), int(m.group(2))
        return None

    def test_message_larger_than_the_queue_bound_is_delivered(self):
        with fc.Server("--stream", "demo=synthetic:size=64x64,fps=20,wait=1",
                       "--predictor", "fake:count=300", "--queue-bytes", "8192") as server:
            sub = Subscriber(server.url())
            try:
                fc.wait_for(lambda: len(sub.results()) >= 10, 20, "10 results of ~21 KB")
                self.assertEqual([r["seq"] for r in sub.results()[:10]], list(range(1, 11)))
            finally:
                sub.close()

    def test_second_signal_ends_shutdown(self):
        """Shutdown waits for a model stuck in a 60 s frame; a second signal ends it."""
        p = subprocess.Popen([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--source",
                              "synthetic:size=64x64,fps=10", "--predictor",
                              "exec:timeout_ms=60000,cmd=head -c 1 >/dev/null; echo holding a frame >&2; "
                              "cat >/dev/null"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # The model says (on stderr, logged) when a frame reached it: it
            # now holds a frame it will never answer.
            fc.wait_for(lambda: "holding a frame" in (p.stderr.readline() or "x holding a frame"), 20,
                        "the model to hold a frame")
            p.send_signal(signal.SIGTERM)
            with self.assertRaises(subprocess.TimeoutExpired):
                p.wait(timeout=1)  # waiting for the stuck frame
            p.send_signal(signal.SIGINT)
            self.assertEqual(p.wait(timeout=5), -signal.SIGINT)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stderr.close()

    def test_slow_file_is_not_a_stalled_source(self):
        """A timelapse: one frame every 1.5 s is paced, not 'no frame for 1 s'."""
        with tempfile.TemporaryDirectory() as d:
            clip = os.path.join(d, "timelapse.mp4")
            subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc2=size=160x120:rate=2/3", "-t", "6", "-c:v", "libx264",
                            "-bf", "0", "-pix_fmt", "yuv420p", clip], check=True)
            with fc.Server("--stream", f"slow={clip},timeout=1,wait=1") as server:
                sub = Subscriber(server.url("slow"))
                try:
                    fc.wait_for(lambda: sub.has_state("ended") or sub.has_state("failed"), 30,
                                "the clip to end")
                    self.assertFalse(sub.has_state("failed"), sub.statuses())
                    self.assertEqual(len(sub.results()), 4)
                finally:
                    sub.close()


if __name__ == "__main__":
    fc.main()
