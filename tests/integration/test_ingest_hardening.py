"""Ingest under inputs that broke it: a one-frame file looped (it spun a
core), a short looped file (each pass lost a frame's time), timestamps that
jump forwards (it slept for the gap) or backwards (the fps cap dropped every
frame), frames in a pixel format that cannot be converted (the stream looked
live and produced nothing), limited-range video in the JPEG previews (washed
out), and an HLS master playlist (every variant was downloaded). Real files
made by ffmpeg, real sockets."""

import asyncio
import functools
import http.server
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

import websockets

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber, captured  # noqa: E402

FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_share(pid, seconds):
    """The share of one core a process used over a wall interval."""
    c0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)  # a measurement interval, not a wait for a condition
    return (cpu_seconds(pid) - c0) / (time.monotonic() - t0)


def api_streams(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/streams", timeout=10) as r:
        return {s["name"]: s for s in json.loads(r.read())["streams"]}


class HardeningTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-hardening-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def ts_segment(self, name, seconds, rate, offset):
        out = self.path(name)
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i", f"testsrc2=size=160x120:rate={rate}", "-t", str(seconds),
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", str(rate),
                        "-output_ts_offset", str(offset), "-f", "mpegts", out], check=True)
        return out

    def concat(self, name, *parts):
        out = self.path(name)
        with open(out, "wb") as f:
            for p in parts:
                with open(p, "rb") as part:
                    f.write(part.read())
        return out

    def test_one_frame_file_looped_does_not_spin(self):
        one = self.path("one.mp4")
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30", "-frames:v", "1",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", one], check=True)
        with fc.Server("--stream", f"one={one},loop=1") as server:
            sub = Subscriber(server.url("one"))
            try:
                fc.wait_for(lambda: len(sub.results()) >= 10, 30, "10 results")
                share = cpu_share(server.proc.pid, 3)
                n0, t0 = len(sub.results()), time.monotonic()
                fc.wait_for(lambda: len(sub.results()) >= n0 + 30, 10, "30 more results")
                rate = (len(sub.results()) - n0) / (time.monotonic() - t0)
            finally:
                sub.close()
        print(f"one-frame loop: {share * 100:.1f} % of a core, {rate:.1f} results/s", file=sys.stderr)
        self.assertLess(share, 0.30, "a one-frame loop must not spin")
        self.assertGreater(rate, 15, "the frame still comes at about the file's 30 fps")
        self.assertLess(rate, 45)

    def test_short_looped_file_keeps_its_rate(self):
        """Two frames at 4 fps, looped: every frame 250 ms after the previous, across passes."""
        two = self.path("two.mp4")
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=4", "-frames:v", "2",
                        "-c:v", "libx264", "-pix_fmt", "yuv420p", two], check=True)
        with fc.Server("--stream", f"two={two},loop=1,wait=1,mode=every") as server:
            sub = Subscriber(server.url("two"))
            try:
                fc.wait_for(lambda: len(sub.results()) >= 13, 30, "13 results")
            finally:
                sub.close()
        results = sub.results()[:13]
        t = captured(results)
        gaps = [b - a for a, b in zip(t, t[1:])]
        span = t[-1] - t[0]
        self.assertGreater(span, 2.6, f"12 steps of 250 ms: {gaps}")
        self.assertLess(span, 3.6)
        self.assertGreater(min(gaps[1:]), 0.12, f"no pass starts early: {gaps}")
        pts = [r["frame"]["pts_us"] for r in results]
        self.assertEqual([b - a for a, b in zip(pts, pts[1:])], [250000] * 12)

    def test_forward_timestamp_jump(self):
        """Recordings concatenated: the second one's timestamps start an hour later."""
        a = self.ts_segment("fa.ts", 1, 20, 0)
        b = self.ts_segment("fb.ts", 1, 20, 3600)
        jump = self.concat("forward.ts", a, b)
        with fc.Server("--stream", f"cam={jump},wait=1,mode=every") as server:
            sub = Subscriber(server.url("cam"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 20, "the file to end (not an hour later)")
            finally:
                sub.close()
        results = sub.results()
        self.assertGreaterEqual(len(results), 38)  # a frame may be lost where the files meet
        t = captured(results)
        span = t[-1] - t[0]
        self.assertGreater(span, 1.5, "still paced")
        self.assertLess(span, 3.5, "the jump counts as one frame")

    def test_backward_timestamp_jump_with_fps_cap(self):
        """The second recording's timestamps are an hour earlier; fps=10 on 20 fps."""
        a = self.ts_segment("ba.ts", 1, 20, 3600)
        b = self.ts_segment("bb.ts", 1, 20, 0)
        jump = self.concat("backward.ts", a, b)
        with fc.Server("--stream", f"cam={jump},fps=10,wait=1,mode=every") as server:
            sub = Subscriber(server.url("cam"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 20, "the file to end")
            finally:
                sub.close()
        results = sub.results()
        self.assertGreaterEqual(len(results), 18, "the cap keeps half of both recordings")
        self.assertLessEqual(len(results), 22)
        late = [r for r in results if r["frame"]["index"] >= 20]
        self.assertGreaterEqual(len(late), 8, "frames after the jump are kept")
        t = captured(results)
        span = t[-1] - t[0]
        self.assertGreater(span, 1.5, "the second recording is paced, not burst out")
        self.assertLess(span, 3.5)

    def test_unconvertible_frames_show_failing(self):
        """Frames libswscale cannot read (uyyvyy411): the stream says so instead of 'live'."""
        raw = self.path("raw411.bin")
        with open(raw, "wb") as f:
            f.write(os.urandom(64 * 64 * 3 // 2 * 20))
        nut = self.path("y411.nut")
        subprocess.run([*FFMPEG, "-f", "rawvideo", "-pixel_format", "uyyvyy411", "-video_size", "64x64",
                        "-framerate", "10", "-i", raw, "-c:v", "copy", nut], check=True)
        with fc.Server("--stream", f"raw={nut},loop=1", "--predictor", "motion") as server:
            sub = Subscriber(server.url("raw"))
            try:
                fc.wait_for(lambda: sub.has_state("failing"), 20, "a failing state")
                err = [s for s in sub.statuses() if s["state"] == "failing"][-1]["error"]
                self.assertIn("y411.nut", err)
                self.assertIn("uyyvyy411", err)
                self.assertIn("gray8", err)
                self.assertIn("libswscale cannot read", err)
                info = api_streams(server.port)["raw"]
                self.assertEqual(info["state"], "failing")
                self.assertIn("uyyvyy411", info["error"])
                self.assertEqual(sub.results(), [])
            finally:
                sub.close()

    def test_preview_keeps_grey_levels(self):
        """Limited-range video: the JPEG preview shows the grey levels the video shows."""
        clip = self.path("grey.mp4")
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i",
                        "color=c=0x202020:size=320x240:rate=10,drawbox=x=160:y=0:w=160:h=240:color=0xE0E0E0:t=fill",
                        "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-color_range", "tv", clip], check=True)

        async def first_preview(url):
            async with websockets.connect(url, max_size=None) as ws:
                while True:
                    msg = await asyncio.wait_for(ws.recv(), 20)
                    if isinstance(msg, bytes):
                        return msg

        with fc.Server("--stream", f"grey={clip},loop=1", "--preview", "fps:5,width:320,quality:95") as server:
            msg = asyncio.run(first_preview(server.url("grey", "preview=1")))
        self.assertEqual(msg[:4], b"FCP1")
        header_len = struct.unpack_from("<H", msg, 4)[0]
        width, height = struct.unpack_from("<II", msg, 24)
        self.assertEqual((width, height), (320, 240))
        # Decoded as any JPEG viewer does (full range), to grey levels.
        gray = subprocess.run([*FFMPEG, "-f", "mjpeg", "-i", "pipe:", "-f", "rawvideo", "-pix_fmt", "gray",
                               "pipe:"], input=msg[header_len:], capture_output=True, check=True).stdout
        self.assertEqual(len(gray), width * height)

        def mean(x0, x1):
            vals = [gray[y * width + x] for y in range(20, height - 20) for x in range(x0, x1)]
            return sum(vals) / len(vals)

        dark, light = mean(20, 140), mean(180, 300)
        self.assertAlmostEqual(dark, 0x20, delta=5, msg=f"dark band {dark:.1f}, expected 32")
        self.assertAlmostEqual(light, 0xE0, delta=5, msg=f"light band {light:.1f}, expected 224")

    def test_hls_downloads_only_the_variant_used(self):
        hls = self.path("hls")
        os.makedirs(hls, exist_ok=True)
        subprocess.run([*FFMPEG, "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10", "-t", "4",
                        "-filter_complex", "[0]split=2[a][b];[b]scale=160:120[b2]",
                        "-map", "[a]", "-map", "[b2]", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "10",
                        "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                        "-var_stream_map", "v:0 v:1", os.path.join(hls, "v%v", "index.m3u8")], check=True)
        with open(os.path.join(hls, "master.m3u8"), "w") as f:
            f.write("#EXTM3U\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=400000,RESOLUTION=320x240\nv0/index.m3u8\n"
                    "#EXT-X-STREAM-INF:BANDWIDTH=100000,RESOLUTION=160x120\nv1/index.m3u8\n")
        requests = []

        class Logged(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                requests.append(self.path)
                super().do_GET()

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Logged, directory=hls))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/master.m3u8"
        try:
            with fc.Server("--stream", f"web={url},retries=0,realtime=0,mode=every,wait=1") as server:
                sub = Subscriber(server.url("web"))
                try:
                    fc.wait_for(lambda: sub.has_state("ended"), 60, "the HLS stream to end")
                finally:
                    sub.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
        self.assertEqual(len(sub.results()), 40)
        used = "v0" if sub.results()[0]["frame"]["width"] == 320 else "v1"
        unused = "v1" if used == "v0" else "v0"
        segs = {v: sorted({r for r in requests if r.startswith(f"/{v}/") and r.endswith(".ts")})
                for v in ("v0", "v1")}
        self.assertEqual(len(segs[used]), 4, requests)
        # the stream probe may read the first segment of each variant, no more
        self.assertLessEqual(len(segs[unused]), 1, requests)


if __name__ == "__main__":
    fc.main()
