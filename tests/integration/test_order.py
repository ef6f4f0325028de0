"""Results and previews in order with several workers, previews only while
someone watches, and counters that equal what clients received.

The fake predictor's jitter_ms gives each frame a random extra delay (seeded,
so a run is repeatable), so with four workers predictions finish out of
order on purpose; files are made by ffmpeg at test time.
"""

import asyncio
import json
import os
import struct
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

import websockets  # noqa: E402  (Debian's python3-websockets)

JITTERED = "fake:busy_ms=1,jitter_ms=8,seed=7"
IO = ("--io-threads", "2")  # clients on two loops: the hand-offs between them


def preview_seq(data):
    """The seq in a preview message's header (docs/protocol.md)."""
    if data[:4] != b"FCP1":
        raise AssertionError(f"not a preview: {data[:8]!r}")
    return struct.unpack_from("<Q", data, 8)[0]


async def collect(url, until_state="ended", timeout=60):
    """Receives until a status message with until_state; returns the
    messages in order: ('result'|'status', parsed JSON) or ('preview', seq)."""
    out = []
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no '{until_state}' status within {timeout}s")
            msg = await asyncio.wait_for(ws.recv(), timeout=left)
            if isinstance(msg, bytes):
                out.append(("preview", preview_seq(msg)))
                continue
            m = json.loads(msg)
            out.append((m["type"], m))
            if m["type"] == "status" and m["state"] == until_state:
                return out


class OrderTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.clip = os.path.join(cls.tmp.name, "clip300.mp4")
        fc.make_video(cls.clip, 300)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_every_frame_exactly_once_and_in_order(self):
        with fc.Server("--stream", f"cam={self.clip},mode=every,realtime=0,workers=4,wait=1",
                       "--predictor", JITTERED + ",fail_every=50", *IO) as srv:
            sub = Subscriber(srv.url("cam"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 120, "the stream to end")
                results = sub.results()
            finally:
                sub.close()
            self.assertEqual([r["frame"]["index"] for r in results], list(range(300)))
            self.assertEqual([r["seq"] for r in results], list(range(1, 301)))
            # A failed prediction is an error result in its place, never a gap.
            failed = [r["frame"]["index"] for r in results if "error" in r]
            self.assertEqual(failed, list(range(49, 300, 50)))
            self.assertTrue(all("fake failure" in r["error"] for r in results if "error" in r))
            # The jitter did make predictions take uneven times.
            spread = [r["infer_us"] for r in results if "error" not in r]
            self.assertGreater(max(spread) - min(spread), 3000)

    def test_latest_drops_stale_results_and_counts_them(self):
        with fc.Server("--stream", f"cam={self.clip},realtime=0,workers=4,wait=1",
                       "--predictor", JITTERED, *IO) as srv:
            sub = Subscriber(srv.url("cam"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 120, "the stream to end")
                results = sub.results()
            finally:
                sub.close()
            idx = [r["frame"]["index"] for r in results]
            self.assertEqual(idx, sorted(set(idx)), "results must leave in frame order")
            m = fc.metrics(srv.port)
            published = m['framecast_results_total{stream="cam"}']
            stale = m['framecast_results_stale_total{stream="cam"}']
            self.assertEqual(published, len(results))
            self.assertGreater(stale, 0, "four jittered workers must finish out of order")
            # Every frame of the file is accounted for: published, stale, or
            # skipped in the slot before any worker took it.
            self.assertEqual(published + stale + results[-1]["skipped"], 300)
            self.assertEqual(idx[-1], 299)

    def test_previews_follow_their_results_in_order(self):
        clip = os.path.join(self.tmp.name, "clip90.mp4")
        fc.make_video(clip, 90)
        with fc.Server("--stream", f"cam={clip},mode=every,workers=4,wait=1",
                       "--predictor", "fake:jitter_ms=40,seed=3", "--preview", "fps:60", *IO) as srv:
            msgs = asyncio.run(collect(srv.url("cam", "preview=1")))
        previews = [s for kind, s in msgs if kind == "preview"]
        self.assertGreaterEqual(len(previews), 30)
        self.assertEqual(previews, sorted(set(previews)), "previews out of order")
        # What docs/protocol.md promises: a preview comes after its own
        # result (not necessarily right after: the next result is never held
        # up while a JPEG is encoded), and previews in seq order.
        seen = set()
        for kind, m in msgs:
            if kind == "result":
                seen.add(m["seq"])
            elif kind == "preview":
                self.assertIn(m, seen, "a preview must come after its own result")

    def test_previews_are_made_only_while_someone_watches(self):
        # Default flags: previews are on, and cost nothing without a viewer.
        with fc.Server("--source", "synthetic:size=160x120,fps=30", *IO) as srv:
            key = 'framecast_previews_total{stream="demo"}'
            plain = Subscriber(srv.url())
            try:
                fc.wait_for(lambda: len(plain.results()) >= 20, 20, "results for a plain client")
                self.assertEqual(fc.metrics(srv.port)[key], 0)

                async def watch():
                    async with websockets.connect(srv.url(query="preview=1"), max_size=None) as ws:
                        while True:
                            msg = await asyncio.wait_for(ws.recv(), timeout=10)
                            if isinstance(msg, bytes):
                                return msg

                jpeg = asyncio.run(watch())
                hlen = struct.unpack_from("<H", jpeg, 4)[0]
                self.assertEqual(jpeg[hlen:hlen + 2], b"\xff\xd8", "a JPEG after the header")
                made = fc.metrics(srv.port)[key]
                self.assertGreater(made, 0)
                # The viewer has gone: no more previews are made.
                last = [made, time.monotonic()]

                def stopped():
                    now = fc.metrics(srv.port)[key]
                    if now != last[0]:
                        last[0], last[1] = now, time.monotonic()
                    return time.monotonic() - last[1] > 1.0

                fc.wait_for(stopped, 10, "previews to stop once nobody watches")
                self.assertGreater(len(plain.results()), 40)
                self.assertFalse(any(m["type"] == "binary" for m in plain.messages))
            finally:
                plain.close()

    def test_sent_counter_equals_what_clients_received(self):
        clip = os.path.join(self.tmp.name, "clip100.mp4")
        fc.make_video(clip, 100)
        with fc.Server("--stream", f"cam={clip},mode=every,wait=2", "--predictor", "fake:count=3",
                       "--preview", "fps:60", "--ping-interval", "100", *IO) as srv:

            async def both():
                return await asyncio.gather(collect(srv.url("cam")),
                                            collect(srv.url("cam", "preview=1")))

            plain, viewer = asyncio.run(both())
            m = fc.metrics(srv.port)
        data = [kind for kind, _ in plain + viewer if kind in ("result", "preview")]
        self.assertEqual(sum(1 for kind, _ in plain if kind == "result"), 100)
        self.assertGreater(sum(1 for kind in data if kind == "preview"), 0)
        # Pings (every 100 ms), status messages and the 101 answers are not
        # data messages and must not be counted.
        self.assertEqual(m['framecast_messages_sent_total{stream="cam"}'], len(data))
        self.assertEqual(m['framecast_results_total{stream="cam"}'], 100)
        # A preview may only be replaced by a newer one still waiting (counted).
        self.assertEqual(m['framecast_previews_total{stream="cam"}'],
                         sum(1 for kind, _ in viewer if kind == "preview")
                         + m['framecast_messages_dropped_total{stream="cam"}'])


if __name__ == "__main__":
    fc.main()
