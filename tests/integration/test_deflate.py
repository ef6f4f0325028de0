"""permessage-deflate (RFC 7692): who negotiates it and what they get.

Peers: python-websockets (compression on by default) and raw sockets that
offer the extension and inflate with Python's zlib, independently of the
server's code. Each result is compressed once, without context
(server_no_context_takeover), so every compressed client gets the same
RSV1 frame and, inflated, the very bytes a plain client gets. Clients'
compressed messages are inflated to be checked: invalid UTF-8 inside is
1007, a message that inflates past --max-message is 1009 (a deflate bomb),
RSV1 where it may not be is 1002. The Node `ws` and Chromium peers are in
test_deflate.mjs."""

import asyncio
import json
import os
import subprocess
import sys
import time
import unittest
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_ws_protocol import (BINARY, CLOSE, CONT, PING, PONG, TEXT, RawWs,  # noqa: E402
                              build_frame, close_payload)

import websockets  # noqa: E402

OFFER = "Sec-WebSocket-Extensions: permessage-deflate\r\n"
RSV1 = 0x40
# Results of 12 detections: several hundred bytes of repetitive JSON.
SERVER_ARGS = ("--source", "synthetic:size=64x64,fps=30", "--predictor", "fake:count=12",
               "--max-message", "4096")


def inflate(payload):
    """A server message's payload, inflated as RFC 7692 7.2.2 says."""
    d = zlib.decompressobj(-15)
    return d.decompress(payload + b"\x00\x00\xff\xff") + d.flush()


def deflate(data, comp=None):
    """data compressed as a client would send it: the sync flush's tail
    removed (comp: a compressobj kept across messages, for context)."""
    c = comp or zlib.compressobj(6, zlib.DEFLATED, -15)
    out = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(b"\x00\x00\xff\xff")
    return out[:-4]


def extensions(head):
    """The Sec-WebSocket-Extensions value of a response head, or None."""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "sec-websocket-extensions":
            return value.strip()
    return None


def results(ws, n, timeout=20, after=0):
    """n result messages from a RawWs, those after seq `after`:
    {seq: (rsv, payload as received)}."""
    out = {}
    deadline = time.monotonic() + timeout
    while len(out) < n:
        _, op, payload = ws.read_frame(max(0.01, deadline - time.monotonic()))
        if op != TEXT:
            continue
        rsv = ws.last_rsv
        text = inflate(payload) if rsv & RSV1 else payload
        m = json.loads(text)
        if m.get("type") == "result" and m["seq"] > after:
            out[m["seq"]] = (rsv, text, len(payload))
    return out


def joined(ws, timeout=20):
    """Reads a compressing client's results up to its first compressed one
    (results encoded before it joined may come plain, docs/protocol.md),
    and returns that one's seq; from it on, every result is compressed."""
    for _ in range(11):
        [(seq, (rsv, _, _))] = results(ws, 1, timeout).items()
        if rsv & RSV1:
            return seq
    raise AssertionError(f"11 plain results after joining (the last: seq {seq})")


def alive(ws):
    """A ping answered by its pong: the server kept the connection."""
    ws.send_frame(PING, b"still there?")
    op, payload = ws.next_control()
    return op == PONG and payload == b"still there?"


class Negotiation(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.srv = fc.Server(*SERVER_ARGS)

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def test_python_websockets_gets_byte_identical_json(self):
        async def run():
            plain = await websockets.connect(self.srv.url(), compression=None)
            packed = await websockets.connect(self.srv.url())  # compression="deflate"
            self.assertEqual(plain.extensions, [])
            self.assertEqual([e.name for e in packed.extensions], ["permessage-deflate"])
            answer = packed.response_headers["Sec-WebSocket-Extensions"]
            self.assertIn("server_no_context_takeover", answer)

            async def collect(ws, n, after=0):
                got = {}
                while len(got) < n:
                    text = await asyncio.wait_for(ws.recv(), 10)
                    m = json.loads(text)
                    if m["type"] == "result" and m["seq"] > after:
                        got[m["seq"]] = text
                return got
            # The same 20 results from both, from where the later one joined.
            firsts = await asyncio.gather(collect(plain, 1), collect(packed, 1))
            start = max(seq for got in firsts for seq in got)
            a, b = await asyncio.gather(collect(plain, 20, start), collect(packed, 20, start))
            await plain.close()
            await packed.close()
            return a, b
        a, b = asyncio.run(run())
        common = sorted(set(a) & set(b))
        self.assertEqual(len(common), 20)
        for seq in common:
            self.assertEqual(a[seq], b[seq], f"seq {seq}: a compressed client got other JSON")

    def test_one_compressed_frame_for_every_client(self):
        with RawWs.connect(self.srv.port, headers=OFFER) as x, \
                RawWs.connect(self.srv.port, headers=OFFER) as y, \
                RawWs.connect(self.srv.port) as plain:
            self.assertEqual(extensions(x.head), "permessage-deflate; server_no_context_takeover")
            self.assertIsNone(extensions(plain.head))
            x.rsv_ok = y.rsv_ok = RSV1
            # The same 20 results from all three, from where the last joined.
            start = max(joined(x), joined(y), *results(plain, 1))
            gx, gy, gp = (results(c, 20, after=start) for c in (x, y, plain))
            common = sorted(set(gx) & set(gy) & set(gp))
            self.assertEqual(len(common), 20)
            for seq in common:
                (rx, tx, nx), (ry, ty, ny), (rp, tp, np_) = gx[seq], gy[seq], gp[seq]
                self.assertEqual((rx, ry, rp), (RSV1, RSV1, 0), f"seq {seq}: RSV1 only if offered")
                self.assertEqual(tx, tp)
                self.assertEqual(ty, tp)
                self.assertEqual(nx, ny, "the same compressed frame for both")
                self.assertLess(nx, 0.6 * np_, f"seq {seq}: {nx} compressed vs {np_} plain")

    def test_previews_are_never_compressed(self):
        with RawWs.connect(self.srv.port, "/ws/demo?preview=1", headers=OFFER) as ws:
            ws.rsv_ok = RSV1
            seen = {TEXT: 0, BINARY: 0}
            deadline = time.monotonic() + 20
            while (seen[TEXT] < 5 or seen[BINARY] < 5) and time.monotonic() < deadline:
                _, op, payload = ws.read_frame(max(0.01, deadline - time.monotonic()))
                if op == BINARY:
                    self.assertEqual(ws.last_rsv, 0, "a JPEG preview came compressed")
                    self.assertEqual(payload[:4], b"FCP1")
                if op in seen:
                    seen[op] += 1
            self.assertGreaterEqual(seen[BINARY], 5, seen)

    def test_offers(self):
        """Each offer gets the answer given, or (None) a plain connection."""
        offers = [
            ("permessage-deflate", "permessage-deflate; server_no_context_takeover"),
            ("permessage-deflate; client_max_window_bits",
             "permessage-deflate; server_no_context_takeover"),
            ("permessage-deflate; client_max_window_bits=10; server_no_context_takeover",
             "permessage-deflate; server_no_context_takeover"),
            ("permessage-deflate; client_no_context_takeover",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ('permessage-deflate; server_max_window_bits="15"',
             "permessage-deflate; server_no_context_takeover"),
            # A window under 15 bits cannot be shared with other clients: declined.
            ("permessage-deflate; server_max_window_bits=10", None),
            # ... but the client's next offer can be taken.
            ("permessage-deflate; server_max_window_bits=10, permessage-deflate",
             "permessage-deflate; server_no_context_takeover"),
            ("x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover",
             "permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
            ("permessage-deflate; mystery=1", None),
            ("permessage-deflate; server_no_context_takeover; server_no_context_takeover", None),
            ("permessage-deflate; server_no_context_takeover=1", None),
            ("permessage-deflate; client_max_window_bits=7", None),
            ("permessage-deflate; client_max_window_bits=016", None),
            ("permessage-deflate; server_max_window_bits", None),
            ("x-webkit-deflate-frame", None),
            (";;;,,,", None),
            ("", None),
        ]
        for offer, want in offers:
            with self.subTest(offer=offer), \
                    RawWs.connect(self.srv.port,
                                  headers=f"Sec-WebSocket-Extensions: {offer}\r\n") as ws:
                self.assertEqual(extensions(ws.head), want)
                ws.rsv_ok = RSV1 if want else 0
                if want:
                    joined(ws)
                got = results(ws, 2)  # frames with RSV1 only when accepted
                self.assertTrue(all(r == (RSV1 if want else 0) for r, _, _ in got.values()))


class Options(unittest.TestCase):
    def test_compression_off(self):
        with fc.Server(*SERVER_ARGS, "--compression", "off") as srv, \
                RawWs.connect(srv.port, headers=OFFER) as ws:
            self.assertIsNone(extensions(ws.head))
            results(ws, 3)  # and no RSV1 (read_frame refuses it)

            async def run():
                async with websockets.connect(srv.url()) as c:
                    self.assertEqual(c.extensions, [])
                    return json.loads(await asyncio.wait_for(c.recv(), 10))
            self.assertEqual(asyncio.run(run())["stream"], "demo")

    def test_messages_under_the_threshold_go_plain(self):
        with fc.Server(*SERVER_ARGS, "--compression-min", "100000") as srv, \
                RawWs.connect(srv.port, headers=OFFER) as ws:
            self.assertIsNotNone(extensions(ws.head))
            ws.rsv_ok = RSV1
            got = results(ws, 5)
            self.assertEqual({r for r, _, _ in got.values()}, {0})

    def test_bad_option_values(self):
        for args, words in ((["--compression", "maybe"], "--compression"),
                            (["--compression-min", "-1"], "--compression-min"),
                            (["--compression-min", "lots"], "--compression-min")):
            with self.subTest(args=args):
                p = subprocess.run([fc.FRAMECAST, *SERVER_ARGS, *args], capture_output=True,
                                   text=True, timeout=30)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(words, p.stderr)


class ClientMessages(unittest.TestCase):
    """What the server does with what compressed clients send."""

    @classmethod
    def setUpClass(cls):
        cls.srv = fc.Server("--source", "synthetic:size=64x64,fps=5", "--max-message", "4096")

    @classmethod
    def tearDownClass(cls):
        cls.srv.stop()

    def connect(self, offer="permessage-deflate"):
        ws = RawWs.connect(self.srv.port, headers=f"Sec-WebSocket-Extensions: {offer}\r\n")
        ws.rsv_ok = RSV1
        return ws

    def expect_close(self, ws, code):
        got, reason = ws.expect_close()
        self.assertEqual(got, code, reason)
        ws.expect_eof()
        return reason

    def test_compressed_messages_are_accepted(self):
        with self.connect() as ws:
            ws.send_frame(TEXT, deflate(b'{"hello":"' + b"world " * 200 + b'"}'), rsv=RSV1)
            ws.send_frame(BINARY, deflate(bytes(range(256)) * 4), rsv=RSV1)
            ws.send_frame(TEXT, b"plain is fine too")
            self.assertTrue(alive(ws))

    def test_the_client_context_is_kept_between_messages(self):
        # Without client_no_context_takeover the client may refer back to its
        # earlier messages: the second one only inflates with the first's
        # history. Corrupting it proves the server inflates at all.
        with self.connect() as ws:
            comp = zlib.compressobj(6, zlib.DEFLATED, -15)
            text = b'{"note":"' + os.urandom(600).hex().encode() + b'"}'
            ws.send_frame(TEXT, deflate(text, comp), rsv=RSV1)
            second = deflate(text, comp)
            self.assertLess(len(second), 100, "the second refers back to the first")
            ws.send_frame(TEXT, second, rsv=RSV1)
            self.assertTrue(alive(ws))
        with self.connect("permessage-deflate; client_no_context_takeover") as ws:
            # Promised no context: each message stands alone.
            for _ in range(3):
                ws.send_frame(TEXT, deflate(b"hello " * 100), rsv=RSV1)
            self.assertTrue(alive(ws))

    def test_a_fragmented_compressed_message(self):
        with self.connect() as ws:
            data = deflate(b'{"parts":"' + b"abc" * 500 + b'"}')
            third = len(data) // 3
            ws.send_frame(TEXT, data[:third], fin=False, rsv=RSV1)  # RSV1 on the first only
            ws.send_frame(PING, b"between")  # a control frame between fragments
            ws.send_frame(CONT, data[third:2 * third], fin=False)
            ws.send_frame(CONT, data[2 * third:])
            op, payload = ws.next_control()
            self.assertEqual((op, payload), (PONG, b"between"))
            self.assertTrue(alive(ws))

    def test_rsv1_on_a_continuation_is_1002(self):
        with self.connect() as ws:
            data = deflate(b"x" * 300)
            ws.send_frame(TEXT, data[:5], fin=False, rsv=RSV1)
            ws.send_frame(CONT, data[5:], rsv=RSV1)
            self.expect_close(ws, 1002)

    def test_control_frames_are_never_compressed(self):
        for op in (PING, PONG, CLOSE):
            with self.subTest(op=op), self.connect() as ws:
                ws.send_frame(op, close_payload(1000) if op == CLOSE else b"x", rsv=RSV1)
                self.expect_close(ws, 1002)

    def test_rsv1_without_the_extension_is_1002(self):
        with RawWs.connect(self.srv.port) as ws:
            ws.send_frame(TEXT, deflate(b"hello"), rsv=RSV1)
            self.expect_close(ws, 1002)

    def test_invalid_utf8_inside_is_1007(self):
        with self.connect() as ws:
            ws.send_frame(TEXT, deflate(b'{"bad":"\xc3\x28"}'), rsv=RSV1)
            self.expect_close(ws, 1007)

    def test_corrupt_deflate_data_is_1007(self):
        with self.connect() as ws:
            ws.send_frame(TEXT, b"\xff\xff\xff\xff not deflate", rsv=RSV1)
            self.expect_close(ws, 1007)

    def test_a_deflate_bomb_is_1009(self):
        bomb = deflate(bytes(64 << 20))  # 64 MiB of zeros in about 64 KiB
        data = bomb[:3500]               # under --max-message as sent, megabytes inflated
        with self.connect() as ws:
            ws.send_frame(BINARY, data, rsv=RSV1)
            reason = self.expect_close(ws, 1009)
            self.assertIn(b"inflated", reason)
        # (That inflating stops at the limit, not at the end, is in
        # tests/unit/test_deflate.c.)
        with RawWs.connect(self.srv.port) as ws:
            self.assertTrue(alive(ws), "the server goes on")


if __name__ == "__main__":
    fc.main()
