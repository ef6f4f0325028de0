"""Batch runs say how they ended: --exit-when-done exits 0 only when every
stream ended normally, 3 when one failed; video on demand over HTTP (a real
HLS VOD made by ffmpeg, served by `python3 -m http.server`) ends at its end
like a file, or replays with loop=1; and a wrong file given as a cascade
model is exit 2 with a message naming the file and saying what it is."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

CASCADES = "/usr/share/opencv4/haarcascades"


def run(*args, timeout=120):
    return subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", *args], capture_output=True,
                          text=True, timeout=timeout)


class HttpServer:
    """python3 -m http.server on 127.0.0.1, on a port the kernel picks."""

    def __init__(self, directory):
        self.proc = subprocess.Popen(["/usr/bin/python3", "-u", "-m", "http.server", "--bind", "127.0.0.1",
                                      "--directory", directory, "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"port (\d+)", line)
        if not m:
            self.stop()
            raise AssertionError(f"http.server did not start: {line!r}")
        self.port = int(m.group(1))

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()


class BatchTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-batch-")
        cls.clip = os.path.join(cls.dir, "clip.mp4")
        fc.make_video(cls.clip, 20)
        cls.hls = os.path.join(cls.dir, "hls")
        os.makedirs(cls.hls)
        # 2 s at 30 fps, 1 s segments, a playlist with an end: video on demand
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=160x120:rate=30", "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                        "-g", "30", "-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod",
                        os.path.join(cls.hls, "clip.m3u8")], check=True)
        cls.http = HttpServer(cls.hls)
        cls.vod = f"http://127.0.0.1:{cls.http.port}/clip.m3u8"

    @classmethod
    def tearDownClass(cls):
        cls.http.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def test_finished_stream_exits_0(self):
        p = run("--exit-when-done", "--source", f"{self.clip},realtime=0")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("every stream has ended", p.stderr)

    def test_failed_stream_exits_3(self):
        missing = os.path.join(self.dir, "nope.mp4")
        p = run("--exit-when-done", "--stream", f"good={self.clip},realtime=0",
                "--stream", f"bad={missing}")
        self.assertEqual(p.returncode, 3, p.stderr)
        self.assertIn("1 of 2 failed (exit status 3)", p.stderr)
        self.assertIn(f"stream 'bad': failed: cannot open '{missing}'", p.stderr)

    def test_a_model_failing_every_frame_fails_the_batch(self):
        """A batch whose every result is an error did not end normally: the file ends, the
        stream is failed, the status is 3. Here a model that answers each frame with an
        error, and a model whose script does not exist (the clip ends before it is given up)."""
        model = os.path.join(self.dir, "nothing_works.py")
        with open(model, "w") as f:
            f.write("import json, os, struct, sys\n"
                    "H = struct.Struct('<IIqqIIIIII')\n"
                    "while len(head := sys.stdin.buffer.read(H.size)) == H.size:\n"
                    "    f = H.unpack(head)\n"
                    "    sys.stdin.buffer.read(f[7])\n"
                    "    os.write(3, json.dumps({'frame': f[2], 'error': 'no weights'}).encode() + b'\\n')\n")
        for cmd, why in [(f"/usr/bin/python3 {model}", "the last error: model: no weights"),
                         (f"/usr/bin/python3 {self.dir}/typo.py", "can't open file")]:
            with self.subTest(cmd=cmd):
                p = run("--exit-when-done", "--source", f"{self.clip},realtime=0",
                        "--predictor", f"exec:cmd={cmd}")
                self.assertEqual(p.returncode, 3, p.stderr)
                self.assertIn("stream 'demo': failed: ", p.stderr)
                self.assertIn(why, p.stderr)

    def test_without_exit_when_done_a_failed_stream_does_not_change_the_status(self):
        """A server stopped by a signal exits 0, whatever its streams did."""
        with fc.Server("--stream", f"bad={os.path.join(self.dir, 'nope.mp4')}") as server:
            fc.wait_for(lambda: any("stream 'bad': failed" in l for l in server.stderr_lines), 30,
                        "the stream to fail")
        # Server.stop required exit status 0

    def test_hls_vod_ends_at_its_end(self):
        """No retries=0: video on demand ends like a file, every frame once, paced."""
        with fc.Server("--exit-when-done", "--stream", f"web={self.vod},mode=every,wait=1") as server:
            sub = Subscriber(server.url("web"))
            try:
                fc.wait_for(lambda: sub.has_state("ended"), 60, "the HLS VOD to end")
                self.assertEqual(sub.proc.wait(timeout=30), 0, "framecast-client exits at the end")
                code = server.proc.wait(timeout=30)
            finally:
                sub.close()
        self.assertEqual(code, 0, "".join(server.stderr_lines))
        results = sub.results()
        self.assertEqual([r["frame"]["index"] for r in results], list(range(60)))
        self.assertNotIn("reconnecting", [s["state"] for s in sub.statuses()])
        # paced like a file: 2 s of video take about 2 s (realtime=0 would take a fraction)
        span = (results[-1]["capture_us"] - results[0]["capture_us"]) / 1e6
        self.assertGreater(span, 1.5)

    def test_hls_vod_loops_with_loop_1(self):
        with fc.Server("--stream", f"web={self.vod},loop=1,realtime=0,mode=every,wait=1") as server:
            sub = Subscriber(server.url("web"))
            try:
                fc.wait_for(lambda: len(sub.results()) >= 130, 60, "a second and a third pass")
                idx = [r["frame"]["index"] for r in sub.results()]
                self.assertEqual(idx, list(range(len(idx))))
                pts = [r["frame"]["pts_us"] for r in sub.results()]
                self.assertEqual(pts, sorted(pts), "timestamps keep increasing across passes")
                self.assertFalse(sub.has_state("ended"))
                self.assertFalse(sub.has_state("reconnecting"))
            finally:
                sub.close()


class CascadeFileTest(unittest.TestCase):
    """Wrong files given as a cascade model: exit 2, the file named, and what it is."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-cascade-")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def check(self, path, why):
        if "unknown predictor" in run("--predictor", "cascade:").stderr:
            self.skipTest("framecast was built without OpenCV (the cascade predictor)")
        p = run("--source", "synthetic:size=64x64", "--predictor", f"cascade:model={path}", timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn(f"--predictor cascade: cannot load model '{path}': {why}", p.stderr)
        self.assertNotIn("terminate called", p.stderr)

    def test_a_jpeg(self):
        jpeg = os.path.join(self.dir, "face.jpg")
        subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        "testsrc2=size=64x64", "-frames:v", "1", jpeg], check=True)
        self.check(jpeg, "it is a JPEG image, not a cascade XML file")

    def test_a_directory(self):
        self.check(self.dir, "it is a directory")

    def test_a_video(self):
        clip = os.path.join(self.dir, "clip.mp4")
        fc.make_video(clip, 5)
        self.check(clip, "it is an MP4/QuickTime video, not a cascade XML file")

    def test_truncated_cascades(self):
        """opencv-data's frontal-face cascade cut at several points."""
        src = os.path.join(CASCADES, "haarcascade_frontalface_default.xml")
        if not os.path.exists(src):
            self.skipTest(f"{src} absent (Debian's opencv-data)")
        data = open(src, "rb").read()
        for cut in (100, 5000, len(data) // 2, len(data) - 20):
            path = os.path.join(self.dir, f"cut{cut}.xml")
            with open(path, "wb") as f:
                f.write(data[:cut])
            with self.subTest(cut=cut):
                self.check(path, f"it is not a valid cascade XML file (OpenCV: {path}(")

    def test_missing_name(self):
        self.check("nosuch_cascade.xml", "no such file in /usr/share/opencv4/haarcascades")


if __name__ == "__main__":
    fc.main()
