"""RFC 6455 conformance of the hub, over raw sockets: handshake errors, frame-level
errors (the close code the server sends, then the TCP close), control frames,
keepalive, and the going-away close on SIGTERM.

Frames are built by hand (masked as a client must, except where a test breaks
that rule), so nothing between the test and the server fixes them up. The
RawWs helpers here are also used by test_slow_client.py.
"""

import asyncio
import base64
import hashlib
import json
import os
import select
import signal
import socket
import struct
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

import websockets  # noqa: E402  (Debian's python3-websockets, legacy API)

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def build_frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
    """One frame as a client would send it. length overrides the encoded length."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | rsv | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n <= 0xFFFF:
        head += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


def result_seq(payload):
    """The seq of a result message; None for other message types (status)."""
    m = json.loads(payload)
    return m["seq"] if m.get("type") == "result" else None


def close_payload(code, reason=b""):
    return struct.pack("!H", code) + reason


class Closed(Exception):
    """The peer closed the TCP connection (EOF or reset)."""


class RawWs:
    """A WebSocket client on a plain socket: blocking, with deadlines."""

    def __init__(self, sock, buf=b"", head=b""):
        self.sock = sock
        self.buf = bytearray(buf)
        self.head = head    # the server's 101 answer
        self.rsv_ok = 0     # RSV bits the server may set (0x40: permessage-deflate)
        self.last_rsv = 0   # the RSV bits of the last frame read

    @classmethod
    def connect(cls, port, path="/ws/demo", sock=None, timeout=10, headers=""):
        """TCP connect (or use sock, already connected) and a valid handshake;
        headers: more request header lines, each ending in CRLF."""
        s = sock or fc.raw_connect(port, timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        s.sendall((f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                   f"Sec-WebSocket-Version: 13\r\n{headers}\r\n").encode())
        head, rest = read_http_head(s, timeout)
        status = int(head.split(b" ", 2)[1])
        if status != 101:
            raise AssertionError(f"handshake refused: {head!r}")
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        if f"sec-websocket-accept: {accept}".lower() not in head.decode("latin-1").lower():
            raise AssertionError(f"wrong or missing Sec-WebSocket-Accept: {head!r}")
        return cls(s, rest, head)

    def _fill(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("no data from the server in time")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no data from the server in time") from None
        except (ConnectionResetError, BrokenPipeError):
            raise Closed() from None
        if not data:
            raise Closed()
        self.buf += data

    def read_frame(self, timeout=10):
        """Returns (fin, opcode, payload); raises Closed at EOF, TimeoutError."""
        deadline = time.monotonic() + timeout
        while True:
            b = self.buf
            if len(b) >= 2:
                if b[1] & 0x80:
                    raise AssertionError("the server sent a masked frame")
                n, off = b[1] & 0x7F, 2
                if n == 126 and len(b) >= 4:
                    n, off = struct.unpack_from("!H", b, 2)[0], 4
                elif n == 127 and len(b) >= 10:
                    n, off = struct.unpack_from("!Q", b, 2)[0], 10
                if (b[1] & 0x7F) < 126 or off > 2:
                    if len(b) >= off + n:
                        if b[0] & 0x70 & ~self.rsv_ok:
                            raise AssertionError("the server set RSV bits")
                        self.last_rsv = b[0] & 0x70
                        frame = (b[0] >> 7, b[0] & 0x0F, bytes(b[off:off + n]))
                        del b[:off + n]
                        return frame
            self._fill(deadline)

    def send(self, data):
        self.sock.sendall(data)

    def send_frame(self, opcode, payload=b"", **kw):
        self.send(build_frame(opcode, payload, **kw))

    def next_control(self, timeout=10):
        """Skips data frames; returns (opcode, payload) of the next control frame."""
        deadline = time.monotonic() + timeout
        while True:
            _, op, payload = self.read_frame(max(0.01, deadline - time.monotonic()))
            if op & 0x8:
                return op, payload

    def expect_close(self, timeout=10):
        """Reads up to the server's close frame (no data frame may follow it);
        returns (code or None, reason)."""
        op, payload = self.next_control(timeout)
        while op != CLOSE:
            op, payload = self.next_control(timeout)
        code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
        return code, payload[2:]

    def expect_eof(self, timeout=10):
        """The server closes TCP within timeout, sending nothing more."""
        deadline = time.monotonic() + timeout
        try:
            while True:
                self._fill(deadline)
                if self.buf:
                    raise AssertionError(f"data after the close frame: {bytes(self.buf[:50])!r}")
        except Closed:
            return

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_http_head(sock, timeout=10):
    """Reads a response head; returns (head, bytes after it)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed during the response head: {data!r}")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def http_exchange(port, request, timeout=10):
    """Sends raw request bytes; returns (status, head, body) read until the server closes."""
    with fc.raw_connect(port, timeout=timeout) as s:
        s.sendall(request)
        data = b""
        s.settimeout(timeout)
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        except ConnectionResetError:
            if b"\r\n\r\n" not in data:
                raise
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 "):
        raise AssertionError(f"not an HTTP response: {data[:200]!r}")
    return int(head.split(b" ", 2)[1]), head.decode("latin-1"), body


def upgrade_request(path="/ws/demo", method="GET", version="HTTP/1.1", upgrade=True,
                    ws_version="13", key="dGhlIHNhbXBsZSBub25jZQ==", extra=""):
    lines = [f"{method} {path} {version}", "Host: localhost"]
    if upgrade:
        lines.append("Upgrade: websocket")
    lines.append("Connection: Upgrade")
    if key is not None:
        lines.append(f"Sec-WebSocket-Key: {key}")
    lines.append(f"Sec-WebSocket-Version: {ws_version}")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


# One server for the handshake and frame tests: a slow stream (few data
# frames in the way), a small message limit, a short handshake timeout
# (1.5 s: short for the slowloris test, long enough that a loaded machine
# reads every other test's request in time).
SERVER_ARGS = ("--source", "synthetic:size=64x64,fps=20", "--max-message", "1024",
               "--handshake-timeout", "1500")


class TestHandshake(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = fc.Server(*SERVER_ARGS)
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_valid_upgrade(self):
        ws = RawWs.connect(self.port)
        seqs = []
        while len(seqs) < 3:
            fin, op, payload = ws.read_frame()
            self.assertEqual((fin, op), (1, TEXT))
            seq = result_seq(payload)
            if seq is not None:
                seqs.append(seq)
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + 3)))
        ws.close()

    def test_post_is_405(self):
        status, head, _ = http_exchange(self.port, upgrade_request(method="POST"))
        self.assertEqual(status, 405, head)
        self.assertIn("allow: get", head.lower())

    def test_http10_is_400(self):
        status, head, _ = http_exchange(self.port, upgrade_request(version="HTTP/1.0"))
        self.assertEqual(status, 400, head)

    def test_missing_upgrade_is_400(self):
        status, head, _ = http_exchange(self.port, upgrade_request(upgrade=False))
        self.assertEqual(status, 400, head)

    def test_version_8_is_426(self):
        status, head, _ = http_exchange(self.port, upgrade_request(ws_version="8"))
        self.assertEqual(status, 426, head)
        self.assertIn("\r\nsec-websocket-version: 13\r\n", head.lower() + "\r\n")

    def test_bad_key_is_400(self):
        for key in ("dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZQ==", "not base64 at all!!!!!==", None):
            with self.subTest(key=key):
                status, head, _ = http_exchange(self.port, upgrade_request(key=key))
                self.assertEqual(status, 400, head)

    def test_head_over_8k_is_431_and_closed(self):
        pad = "X-Pad: " + "a" * 9000 + "\r\n"
        with fc.raw_connect(self.port) as s:
            s.sendall(upgrade_request(extra=pad))
            head, _ = read_http_head(s)
            self.assertTrue(head.startswith(b"HTTP/1.1 431 "), head)
            s.settimeout(10)
            try:
                while s.recv(65536):
                    pass  # the rest of the body, then EOF
            except ConnectionResetError:
                pass  # closed with our unread bytes in its buffer: also closed

    def test_slowloris_closed_after_handshake_timeout(self):
        """A head trickled a byte at a time never completes; the server gives
        up 1.5 s after the accept, however busy the client looks."""
        request = upgrade_request()
        with fc.raw_connect(self.port) as s:
            t0 = time.monotonic()
            closed_at, answer = None, b""
            for i in range(len(request) - 2):  # never the final CRLF
                try:
                    s.send(request[i:i + 1])
                except (BrokenPipeError, ConnectionResetError):
                    closed_at = time.monotonic()
                    break
                r, _, _ = select.select([s], [], [], 0.05)
                if r:
                    try:
                        data = s.recv(4096)
                    except ConnectionResetError:
                        data = b""
                    if not data:
                        closed_at = time.monotonic()
                        break
                    answer += data
                if time.monotonic() - t0 > 5:
                    break
            self.assertIsNotNone(closed_at, "the server kept a never-ending head open for 5 s")
            elapsed = closed_at - t0
            self.assertGreaterEqual(elapsed, 1.4, "closed before the handshake timeout")
            self.assertLess(elapsed, 4.0)
            # RFC 9110 15.5.9: a request begun and not finished is told why.
            self.assertTrue(answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer)
            self.assertIn(b"Connection: close\r\n", answer)
            self.assertTrue(answer.endswith(b"request not complete within --handshake-timeout\n"), answer)

    def test_a_silent_connection_is_closed_without_an_answer(self):
        """Nothing sent (a browser's preconnect, say): closed at the handshake
        timeout with no bytes, so no client takes a 408 for a request it has
        not made; counted with the timed-out requests."""
        with fc.Server(*SERVER_ARGS) as srv, fc.raw_connect(srv.port) as s:
            t0 = time.monotonic()
            s.settimeout(10)
            try:
                self.assertEqual(s.recv(4096), b"")
            except ConnectionResetError:
                pass
            self.assertGreaterEqual(time.monotonic() - t0, 1.4)
            m = fc.metrics(srv.port)
            self.assertEqual(m['framecast_connections_refused_total{reason="handshake_timeout"}'], 1)


class TestFrames(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = fc.Server(*SERVER_ARGS)
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def fail_with(self, frames, code):
        """Sends frames after a valid handshake; the server must answer with a
        close frame carrying code, then close TCP."""
        ws = RawWs.connect(self.port)
        try:
            for f in frames:
                ws.send(f)
            got, reason = ws.expect_close()
            self.assertEqual(got, code, f"close reason: {reason!r}")
            ws.expect_eof()
        finally:
            ws.close()

    def test_unmasked_frame(self):
        self.fail_with([build_frame(TEXT, b"hello", mask=False)], 1002)

    def test_rsv_bit(self):
        for rsv in (0x40, 0x20, 0x10):
            with self.subTest(rsv=rsv):
                self.fail_with([build_frame(TEXT, b"hello", rsv=rsv)], 1002)

    def test_reserved_opcode(self):
        for op in (0x3, 0xB):
            with self.subTest(opcode=op):
                self.fail_with([build_frame(op, b"x")], 1002)

    def test_ping_longer_than_125(self):
        self.fail_with([build_frame(PING, b"p" * 126)], 1002)

    def test_fragmented_ping(self):
        self.fail_with([build_frame(PING, b"ab", fin=False)], 1002)

    def test_continuation_without_start(self):
        self.fail_with([build_frame(CONT, b"orphan")], 1002)

    def test_text_inside_fragmented_message(self):
        self.fail_with([build_frame(TEXT, b"first", fin=False), build_frame(TEXT, b"second")], 1002)

    def test_invalid_utf8_text(self):
        self.fail_with([build_frame(TEXT, b"ok \xc3\x28 not")], 1007)

    def test_text_ending_inside_utf8_sequence(self):
        # Each fragment is fine alone; the message ends mid-character.
        self.fail_with([build_frame(TEXT, b"euro \xe2", fin=False), build_frame(CONT, b"\x82")], 1007)

    def test_message_over_max_message(self):
        self.fail_with([build_frame(BINARY, b"z" * 2000)], 1009)

    def test_fragmented_message_over_max_message(self):
        self.fail_with([build_frame(BINARY, b"z" * 600, fin=False), build_frame(CONT, b"z" * 600)], 1009)

    def test_close_with_code_1005(self):
        self.fail_with([build_frame(CLOSE, close_payload(1005))], 1002)

    def test_close_with_1_byte_payload(self):
        self.fail_with([build_frame(CLOSE, b"\x03")], 1002)

    def test_close_with_invalid_utf8_reason(self):
        self.fail_with([build_frame(CLOSE, close_payload(1000, b"\xff\xfe"))], 1007)

    def test_valid_close_is_echoed(self):
        ws = RawWs.connect(self.port)
        try:
            ws.send_frame(CLOSE, close_payload(1000, b"bye"))
            code, _ = ws.expect_close()
            self.assertEqual(code, 1000)
            ws.expect_eof()
        finally:
            ws.close()

    def test_message_within_limit_is_accepted(self):
        ws = RawWs.connect(self.port)
        try:
            ws.send_frame(TEXT, "h\u00e9llo \u20ac".encode() * 50)
            ws.send_frame(BINARY, b"\x00" * 1024)
            ws.send_frame(PING, b"after")
            op, payload = ws.next_control()
            self.assertEqual((op, payload), (PONG, b"after"))
        finally:
            ws.close()

    def test_ping_gets_pong_with_payload(self):
        ws = RawWs.connect(self.port)
        try:
            payload = bytes(range(125))
            ws.send_frame(PING, payload)
            op, got = ws.next_control()
            self.assertEqual(op, PONG)
            self.assertEqual(got, payload)
            ws.send_frame(PING, b"")
            self.assertEqual(ws.next_control(), (PONG, b""))
        finally:
            ws.close()

    def test_ping_between_fragments(self):
        ws = RawWs.connect(self.port)
        try:
            ws.send_frame(TEXT, b"hel", fin=False)
            ws.send_frame(PING, b"mid-message")
            self.assertEqual(ws.next_control(), (PONG, b"mid-message"))
            ws.send_frame(CONT, b"lo")
            # The message completed without error: a clean close follows.
            ws.send_frame(CLOSE, close_payload(1000))
            code, _ = ws.expect_close()
            self.assertEqual(code, 1000)
            ws.expect_eof()
        finally:
            ws.close()


class TestKeepalive(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # Pings every 300 ms, answered within 2 s: a loaded machine may
        # take a few hundred ms to read a pong. A client that answers
        # nothing is closed at about 2.3 s; the tests below run 3 s.
        cls.srv = fc.Server("--source", "synthetic:size=64x64,fps=20", "--ping-interval", "300",
                            "--ping-timeout", "2000")
        cls.port = cls.srv.port

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_client_answering_pings_stays_connected(self):
        """python-websockets answers pings itself; its own pings are off, so
        only the pongs keep it alive."""

        async def run():
            seqs, times = [], []
            async with websockets.connect(self.srv.url(), ping_interval=None) as ws:
                t0 = time.monotonic()
                while time.monotonic() - t0 < 3.0:
                    seq = result_seq(await asyncio.wait_for(ws.recv(), timeout=5))
                    if seq is not None:
                        seqs.append(seq)
                        times.append(time.monotonic() - t0)
                self.assertTrue(ws.open, f"closed: {ws.close_code} {ws.close_reason}")
            return seqs, times

        seqs, times = asyncio.run(run())
        self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))))
        self.assertGreater(times[-1], 2.5)

    def test_raw_client_answering_pings_stays_connected(self):
        ws = RawWs.connect(self.port)
        try:
            t0 = time.monotonic()
            pings = 0
            while time.monotonic() - t0 < 3.0:
                _, op, payload = ws.read_frame(timeout=3)
                self.assertNotEqual(op, CLOSE, f"closed: {payload!r}")
                if op == PING:
                    pings += 1
                    ws.send_frame(PONG, payload)
            self.assertGreaterEqual(pings, 2, "the server should ping a client that sends nothing")
        finally:
            ws.close()

    def test_client_ignoring_pings_is_closed(self):
        ws = RawWs.connect(self.port)
        try:
            t0 = time.monotonic()
            op, _ = ws.next_control(timeout=5)
            self.assertEqual(op, PING, "the server should ping a silent client")
            try:
                code, reason = ws.expect_close(timeout=8)
                self.assertEqual(code, 1011, reason)
                ws.expect_eof(timeout=5)
            except Closed:
                pass  # TCP closed without a close frame: also acceptable
            elapsed = time.monotonic() - t0
            self.assertGreaterEqual(elapsed, 2.0, "closed before interval + timeout")
            self.assertLess(elapsed, 8.0)
        finally:
            ws.close()


class TestShutdown(unittest.TestCase):
    def test_sigterm_sends_1001(self):
        srv = fc.Server("--source", "synthetic:size=64x64,fps=20")
        try:
            raw = RawWs.connect(srv.port)

            async def run():
                async with websockets.connect(srv.url(), ping_interval=None) as ws:
                    await asyncio.wait_for(ws.recv(), timeout=10)
                    # Both clients are subscribed (the raw one got its 101).
                    self.assertEqual(raw.read_frame()[1], TEXT)
                    srv.proc.send_signal(signal.SIGTERM)
                    try:
                        while True:
                            await asyncio.wait_for(ws.recv(), timeout=10)
                    except websockets.ConnectionClosed:
                        pass
                    return ws.close_code

            self.assertEqual(asyncio.run(run()), 1001)
            code, _ = raw.expect_close()
            self.assertEqual(code, 1001)
            raw.expect_eof()
            raw.close()
            # One SIGTERM is enough: the process exits on its own (stop()
            # below then only checks the status).
            fc.wait_for(lambda: srv.proc.poll() is not None, 20, "framecast to exit after SIGTERM")
        finally:
            srv.stop()


if __name__ == "__main__":
    fc.main()
