"""Video ingest through FFmpeg: real files made by the ffmpeg command, a real
RTSP server (GStreamer) that goes away and comes back, freshness under a slow
predictor, and bad inputs that must not disturb other streams."""

import functools
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def captured(results):
    """When each result's frame was taken, in seconds: the source's pacing,
    without the delivery's jitter on a loaded machine."""
    return [r["capture_us"] / 1e6 for r in results]


class Subscriber:
    """framecast-client in the background; collects parsed messages."""

    def __init__(self, url, timeout=60):
        self.proc = subprocess.Popen([fc.FRAMECAST_CLIENT, "--timeout", str(timeout), url],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.messages = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            msg = json.loads(line)
            msg["_t"] = time.monotonic()
            with self.lock:
                self.messages.append(msg)

    def results(self):
        with self.lock:
            return [m for m in self.messages if m["type"] == "result"]

    def statuses(self):
        with self.lock:
            return [m for m in self.messages if m["type"] == "status"]

    def has_state(self, state, after=0):
        return any(m["state"] == state for m in self.statuses()[after:])

    def close(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


def make_video(path, codec_args, seconds, rate=30, size="320x240"):
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={rate}", "-t", str(seconds), *codec_args, path],
                   check=True)


class RtspServer:
    def __init__(self, port=0):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, "rtsp_server.py"), str(port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("ready"):
            raise AssertionError("RTSP server did not start")
        self.port = int(line.split()[1])

    def url(self):
        return f"rtsp://127.0.0.1:{self.port}/test"

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class IngestTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-ingest-")
        cls.mp4 = os.path.join(cls.dir, "clip.mp4")
        cls.avi = os.path.join(cls.dir, "clip.avi")
        cls.webm = os.path.join(cls.dir, "clip.webm")
        make_video(cls.mp4, ["-c:v", "libx264", "-pix_fmt", "yuv420p"], 3)
        make_video(cls.avi, ["-c:v", "mjpeg"], 2)
        make_video(cls.webm, ["-c:v", "libvpx-vp9", "-deadline", "realtime"], 2)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_every_frame_in_order(self):
        """realtime=0,mode=every: one result per frame, indexes 0..N-1, then 'ended'."""
        streams = {"mp4": (self.mp4, 90), "avi": (self.avi, 60), "webm": (self.webm, 60)}
        args = []
        for name, (path, _) in streams.items():
            args += ["--stream", f"{name}={path},realtime=0,mode=every,wait=1"]
        with fc.Server(*args) as server:
            subs = {name: Subscriber(server.url(name)) for name in streams}
            try:
                for name, (_, frames) in streams.items():
                    sub = subs[name]
                    fc.wait_for(lambda: sub.has_state("ended"), 60, f"{name} to end")
                    results = sub.results()
                    self.assertEqual([r["frame"]["index"] for r in results], list(range(frames)), name)
                    self.assertEqual([r["seq"] for r in results], list(range(1, frames + 1)), name)
                    self.assertEqual((results[0]["frame"]["width"], results[0]["frame"]["height"]), (320, 240))
                    pts = [r["frame"]["pts_us"] for r in results]
                    self.assertEqual(pts, sorted(pts), f"{name}: pts_us must increase")
                    # 'ended' comes after the last result
                    self.assertEqual(sub.messages[-1]["type"], "status")
            finally:
                for sub in subs.values():
                    sub.close()

    def test_realtime_pacing(self):
        """A 3 s clip with realtime=1 (the default for files) takes about 3 s."""
        with fc.Server("--stream", f"clip={self.mp4},wait=1") as server:
            sub = Subscriber(server.url("clip"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 30, "the clip to end")
                results = sub.results()
                t = captured(results)
                span = t[-1] - t[0]
                self.assertEqual(len(results), 90)
                self.assertGreater(span, 2.5)
                self.assertLess(span, 4.5)
            finally:
                sub.close()

    def test_latest_mode_stays_fresh(self):
        """A 100 ms predictor on a 30 fps source: ~10 results/s on recent frames, skips counted."""
        with fc.Server("--stream", "cam=synthetic:size=160x120,fps=30",
                       "--predictor", "fake:count=0,delay_ms=100") as server:
            sub = Subscriber(server.url("cam"))
            try:
                fc.wait_for(lambda: len(sub.results()) >= 25, 30, "25 results")
                results = sub.results()[3:]
                span = (results[-1]["publish_us"] - results[0]["publish_us"]) / 1e6  # the server's rate
                rate = (len(results) - 1) / span
                self.assertGreater(rate, 6)
                self.assertLess(rate, 12)
                steps = [b["frame"]["index"] - a["frame"]["index"] for a, b in zip(results, results[1:])]
                mean_step = sum(steps) / len(steps)
                self.assertGreater(mean_step, 2.0)
                self.assertLess(mean_step, 5.0)
                self.assertGreater(results[-1]["skipped"], 10)
                # freshness: a result's frame was captured at most ~2 frame times before
                # the predictor started on it, i.e. capture to publish stays near 100 ms
                lag = [(r["publish_us"] - r["capture_us"]) / 1000 for r in results]
                self.assertLess(sorted(lag)[len(lag) // 2], 200)
            finally:
                sub.close()

    def test_hls_over_http(self):
        """An HLS playlist served over HTTP: every frame arrives, then the stream ends."""
        hls_dir = os.path.join(self.dir, "hls")
        os.makedirs(hls_dir, exist_ok=True)
        make_video(os.path.join(hls_dir, "clip.m3u8"),
                   ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "30", "-f", "hls",
                    "-hls_time", "1", "-hls_playlist_type", "vod"], 2)
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        handler = functools.partial(Quiet, directory=hls_dir)
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/clip.m3u8"
        try:
            with fc.Server("--stream", f"web={url},retries=0,mode=every,wait=1") as server:
                sub = Subscriber(server.url("web"))
                try:
                    fc.wait_for(lambda: sub.has_state("ended"), 60, "the HLS stream to end")
                    self.assertEqual([r["frame"]["index"] for r in sub.results()], list(range(60)))
                finally:
                    sub.close()
        finally:
            httpd.shutdown()
            httpd.server_close()

    def test_rtsp_reconnects(self):
        """The camera goes away and comes back: reconnecting is broadcast, seq continues."""
        rtsp = RtspServer()
        port = rtsp.port
        try:
            with fc.Server("--stream", f"door={rtsp.url()},timeout=3",
                           "--stream", "other=synthetic:size=64x64,fps=20") as server:
                sub = Subscriber(server.url("door"), timeout=120)
                other = Subscriber(server.url("other"), timeout=120)
                try:
                    fc.wait_for(lambda: len(sub.results()) >= 20, 40, "20 results from RTSP")
                    rtsp.kill()
                    n_status = len(sub.statuses())
                    fc.wait_for(lambda: sub.has_state("reconnecting", n_status), 20, "reconnecting status")
                    before = sub.results()[-1]["seq"]
                    other_before = len(other.results())
                    rtsp = RtspServer(port)
                    fc.wait_for(lambda: len(sub.results()) >= len([r for r in sub.results() if r["seq"] <= before]) + 20,
                                60, "20 results after the camera came back")
                    seqs = [r["seq"] for r in sub.results()]
                    self.assertEqual(seqs, list(range(1, len(seqs) + 1)), "seq continues with no gap")
                    self.assertTrue(sub.has_state("live", n_status), "live again")
                    self.assertGreater(len(other.results()), other_before + 20, "other stream unaffected")
                finally:
                    sub.close()
                    other.close()
        finally:
            rtsp.kill()

    def test_bad_inputs(self):
        """Missing, non-video, truncated files and a refused camera; the other stream flows."""
        d = self.dir
        # (not .txt: FFmpeg renders text files as video with its tty demuxer)
        notvideo = os.path.join(d, "notes.json")
        with open(notvideo, "w") as f:
            json.dump({"not": "a video", "values": list(range(500))}, f)
        ts = os.path.join(d, "clip.ts")
        make_video(ts, ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "mpegts"], 2)
        data = bytearray(open(ts, "rb").read())
        cut = data[: len(data) * 2 // 3]
        for i in range(len(cut) // 3, len(cut) // 3 + 4000, 7):  # garbage in the middle
            cut[i] ^= 0x5A
        broken = os.path.join(d, "broken.ts")
        with open(broken, "wb") as f:
            f.write(cut)
        with fc.Server("--stream", f"missing={d}/nope.mp4",
                       "--stream", f"text={notvideo}",
                       "--stream", f"broken={broken},realtime=0,mode=every,wait=1",
                       "--stream", "refused=rtsp://127.0.0.1:1/,timeout=2",
                       "--stream", "nodevice=v4l2:/dev/video99,retries=0",
                       "--stream", "ok=synthetic:size=64x64,fps=20") as server:
            subs = {n: Subscriber(server.url(n))
                    for n in ["missing", "text", "broken", "refused", "nodevice", "ok"]}
            try:
                fc.wait_for(lambda: subs["missing"].has_state("failed"), 20, "missing: failed")
                err = subs["missing"].statuses()[-1]["error"]
                self.assertIn("nope.mp4", err)
                self.assertIn("No such file", err)
                fc.wait_for(lambda: subs["text"].has_state("failed"), 20, "text: failed")
                self.assertIn("notes.json", subs["text"].statuses()[-1]["error"])
                fc.wait_for(lambda: subs["broken"].has_state("ended"), 30, "broken: ended")
                self.assertGreater(len(subs["broken"].results()), 10, "decodes what it can")
                # refused: retried with a growing backoff
                fc.wait_for(lambda: len([s for s in subs["refused"].statuses() if s.get("retry_ms")]) >= 3,
                            30, "three retries")
                retries = [s for s in subs["refused"].statuses() if s.get("retry_ms")]
                self.assertIn("refused", retries[0]["error"].lower())
                # (the subscriber may have joined after the first retry: check the steps)
                attempts = [s["attempt"] for s in retries[:3]]
                self.assertEqual(attempts, list(range(attempts[0], attempts[0] + 3)))
                self.assertLess(retries[0]["retry_ms"], retries[2]["retry_ms"])
                fc.wait_for(lambda: subs["nodevice"].has_state("failed"), 20, "nodevice: failed")
                self.assertIn("/dev/video99", subs["nodevice"].statuses()[-1]["error"])
                n = len(subs["ok"].results())
                fc.wait_for(lambda: len(subs["ok"].results()) > n + 10, 20, "the good stream to flow")
            finally:
                for s in subs.values():
                    s.close()


if __name__ == "__main__":
    fc.main()
