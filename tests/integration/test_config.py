"""--config FILE: the INI file and the command line together (flags win,
--stream NAME replaces the file's [stream NAME], --allowed-origin replaces
the file's list), every option of --help settable in the file, per-stream
predictors from both, every problem listed with the option, the value and
what is allowed (exit 2, at start as with --check-config), --check-config
on a valid file, and the example of docs/configuration.md checked."""

import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_access import request  # noqa: E402
from test_cli import head_status  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)


def run(*args, timeout=60):
    """framecast ARGS to its end: (status, stdout, stderr)."""
    p = subprocess.run([fc.FRAMECAST, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def api_streams(port):
    status, body = fc.http_get(port, "/api/streams")
    assert status == 200, status
    return {s["name"]: s for s in json.loads(body)["streams"]}


async def results(url, n):
    """The first n results of a stream."""
    out = []
    async with websockets.connect(url, max_size=None) as ws:
        while len(out) < n:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m.get("type") == "result":
                out.append(m)
    return out


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-config-")

    def tearDown(self):
        for name in os.listdir(self.dir):
            os.unlink(os.path.join(self.dir, name))
        os.rmdir(self.dir)

    def conf(self, text, name="framecast.conf"):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_flags_win_over_the_file(self):
        path = self.conf("""
# the server's options
max-head = 4KiB
queue-msgs = 7
predictor = fake:count=1   ; the default predictor
allowed-origin = https://file.example.com

[stream door]
source = synthetic:size=64x64,fps=20
predictor = fake:count=4

[stream yard]
    source = synthetic:size=32x32,fps=20
    fps = 10
""")
        with fc.Server("--config", path, "--max-head", "12KiB",
                       "--stream", "door=synthetic:size=48x48,fps=20,predictor=fake:count=2",
                       "--allowed-origin", "https://flag.example.com") as srv:
            # A flag replaces the file's value: a 6,000-byte head passes.
            self.assertEqual(head_status(srv.port, 6000), 200)
            self.assertEqual(head_status(srv.port, 14000), 431)
            streams = api_streams(srv.port)
            self.assertEqual(sorted(streams), ["door", "yard"])
            # --stream door replaces the file's [stream door] whole.
            self.assertEqual(streams["door"]["source"], "synthetic:size=48x48,fps=20")
            self.assertEqual(streams["door"]["predictor"], "fake:count=2")
            # The file's other stream stays, with its source keys (indented:
            # still keys, not continuations) and the file's default predictor.
            self.assertEqual(streams["yard"]["source"], "synthetic:size=32x32,fps=20,fps=10")
            self.assertEqual(streams["yard"]["predictor"], "fake:count=1")
            door = asyncio.run(results(srv.url("door"), 3))
            yard = asyncio.run(results(srv.url("yard"), 3))
            self.assertEqual({len(r["detections"]) for r in door}, {2})
            self.assertEqual({r["frame"]["width"] for r in door}, {48})
            self.assertEqual({len(r["detections"]) for r in yard}, {1})
            # --allowed-origin replaces the file's list.
            status, _, _ = request(srv.port, "/ws/door", [("Origin", "https://flag.example.com")],
                                   ws=True)
            self.assertEqual(status, 101)
            status, _, body = request(srv.port, "/ws/door",
                                      [("Origin", "https://file.example.com")], ws=True)
            self.assertEqual(status, 403, body)

    def test_the_file_alone_sets_the_server(self):
        """Without flags over it, the file's values are the ones used."""
        path = self.conf("max-head = 4KiB\nlisten = 127.0.0.1:0\n"
                         "[stream only]\nsource = synthetic:size=64x64,fps=20\n")
        # fc.Server passes --listen, which wins: the file's listen is not used.
        with fc.Server("--config", path) as srv:
            self.assertEqual(head_status(srv.port, 6000), 431)
            self.assertEqual(sorted(api_streams(srv.port)), ["only"])

    def test_per_stream_predictors(self):
        """Three streams, three predictors: two from the file, one from a
        flag whose predictor options have commas of their own."""
        path = self.conf("""
predictor = null
[stream a]
source = synthetic:size=64x64,fps=20
predictor = motion:threshold=20
[stream b]
source = synthetic:size=64x64,fps=20
predictor = fake:count=3,seed=7
[stream c]
source = synthetic:size=64x64,fps=20
""")
        with fc.Server("--config", path,
                       "--stream", "d=synthetic:size=64x64,fps=20,predictor=fake:count=1,seed=2",
                       "--io-threads", "2") as srv:
            got = {name: asyncio.run(results(srv.url(name), 3)) for name in "abcd"}
            self.assertEqual({r["model"] for r in got["a"]}, {"motion"})
            self.assertEqual({(r["model"], len(r["detections"])) for r in got["b"]}, {("fake", 3)})
            self.assertEqual({(r["model"], len(r["detections"])) for r in got["c"]}, {("null", 0)})
            self.assertEqual({(r["model"], len(r["detections"])) for r in got["d"]}, {("fake", 1)})
            streams = api_streams(srv.port)
            self.assertEqual({n: s["predictor"] for n, s in streams.items()},
                             {"a": "motion:threshold=20", "b": "fake:count=3,seed=7",
                              "c": "null", "d": "fake:count=1,seed=2"})

    BAD = """# a file with a problem on most lines
queue-bytes = lots
workers = 0
log-level = loud
bogus = 1
max_head = 4KiB
queue-msgs = 5
queue-msgs = 6
config = other.conf
[stream door]
source = synthetic:size=64x64,fps=5
predictor = nosuch
slow = sometimes
[stream yard]
predictor = motion
[cameras]
garbage line
[stream bad name!]
source = push
"""

    # Every problem: (option or line, the value, what is allowed).
    EXPECTED = [
        "framecast.conf:2: queue-bytes: 'lots' is not valid (expected a size from 1024 to "
        "1073741824 bytes",
        "framecast.conf:3: workers: '0' is not valid (expected an integer from 1 to 64)",
        "framecast.conf:4: log-level: 'loud' is not valid (expected debug, info, warn, error or "
        "off)",
        "framecast.conf:5: bogus: unknown option (the options are the long command-line options "
        "without --",
        "framecast.conf:6: max_head: unknown option (did you mean max-head?)",
        "framecast.conf:8: queue-msgs: given twice (first at line 7)",
        "framecast.conf:9: config: only on the command line",
        "framecast.conf:13: [stream door] slow: 'sometimes' is not valid (expected drop, latest "
        "or close)",
        "framecast.conf:16: [cameras]: unknown section (expected [stream NAME])",
        "framecast.conf:17: expected KEY = VALUE, [stream NAME] or a comment",
        "framecast.conf:18: [stream bad name!]: 'bad name!' is not a valid stream name (expected "
        "1 to",
        "--io-threads: 'x' is not valid (expected an integer from 1 to 256)",
        "framecast.conf:14: [stream yard]: source is missing (a file, a URL, synthetic:... or "
        "push)",
        "stream 'door': predictor: unknown predictor 'nosuch' (expected one of: null, fake, "
        "motion, exec, cascade, people, dnn, or a plugin PATH.so)",
    ]

    def check_every_problem(self, err):
        lines = [l for l in err.splitlines() if l.startswith("framecast: ")]
        for want in self.EXPECTED:
            self.assertTrue([l for l in lines if want in l], f"{want!r} not in:\n{err}")

    def test_every_problem_is_listed_and_the_status_is_2(self):
        path = self.conf(self.BAD)
        code, out, err = run("--config", path, "--check-config", "--io-threads", "x")
        self.assertEqual(code, 2, err)
        self.check_every_problem(err)
        self.assertIn(f"framecast: {len(self.EXPECTED)} problems in the configuration", err)
        self.assertEqual(out, "")
        # A start lists the same problems and serves nothing.
        code, out, err = run("--config", path, "--io-threads", "x", "--listen", "127.0.0.1:0")
        self.assertEqual(code, 2, err)
        self.check_every_problem(err)
        self.assertNotIn("listening", out)

    def test_file_problems_of_their_own(self):
        long_line = "predictor = exec:cmd=" + "x" * 200 + "\n"
        path = self.conf("\ufeff[stream a]\nsource = push\nfps = 5\n" + long_line +
                         "[stream a]\nsource = push\n[stream b\n")
        code, _, err = run("--config", path, "--check-config")
        self.assertEqual(code, 2, err)
        self.assertIn("framecast.conf:4: the line is longer than 199 characters", err)
        self.assertIn("framecast.conf:5: [stream a]: stream 'a' is given twice (first at line 1)",
                      err)
        self.assertIn("framecast.conf:7: a section needs its closing ']'", err)
        self.assertIn("stream 'a': a push stream takes no source options ('fps=5')", err)
        code, _, err = run("--config", os.path.join(self.dir, "missing.conf"), "--check-config")
        self.assertEqual(code, 2)
        self.assertIn("--config: cannot open '", err)
        self.assertIn("missing.conf': No such file or directory", err)

    def test_check_config_of_a_valid_file(self):
        path = self.conf("""
listen = 127.0.0.1:9999
[stream door]
source = rtsp://viewer:hunter2@192.0.2.1/stream1
predictor = motion:threshold=30
[stream faces]
source = synthetic:size=64x64
predictor = cascade:model=/usr/share/opencv4/haarcascades/haarcascade_frontalface_default.xml
[stream feed]
source = push
""")
        code, out, err = run("--config", path, "--check-config", "--stream",
                             "extra=synthetic:size=32x32,predictor=fake:count=2")
        self.assertEqual(code, 0, err)
        self.assertIn(f"the configuration is valid ({path} and the options): listen "
                      "127.0.0.1:9999, 4 streams", out)
        self.assertIn("stream 'door': source rtsp://***@192.0.2.1/stream1, "
                      "predictor motion:threshold=30", out)
        self.assertNotIn("hunter2", out + err)
        self.assertIn("stream 'feed': source push, predictor none (push)", out)
        self.assertIn("stream 'extra': source synthetic:size=32x32, predictor fake:count=2", out)
        # A cascade model that does not load is a problem of the check, too.
        bad = self.conf("[stream faces]\nsource = synthetic:size=64x64\n"
                        "predictor = cascade:model=/nonexistent/model.xml\n", "bad.conf")
        code, _, err = run("--config", bad, "--check-config")
        self.assertEqual(code, 2)
        self.assertIn("stream 'faces': ", err)
        self.assertIn("/nonexistent/model.xml", err)

    def test_every_option_of_help_is_a_key_of_the_file(self):
        code, usage, _ = run("--help")
        self.assertEqual(code, 0)
        names = sorted(set(re.findall(r"^\s+--([a-z][a-z-]+)", usage, re.M)))
        self.assertGreater(len(names), 30)
        cli_only = {"config", "check-config", "help", "version"}
        for name in names:
            path = self.conf(f"{name} = @bad@\n", "one.conf")
            _, _, err = run("--config", path, "--check-config")
            self.assertNotIn("unknown option", err, name)
            if name in cli_only:
                self.assertIn(f"one.conf:1: {name}: only on the command line", err)
            else:
                self.assertNotIn("only on the command line", err, name)

    def test_the_example_of_the_docs_is_valid(self):
        with open(os.path.join(SRC, "docs", "configuration.md")) as f:
            doc = f.read()
        blocks = re.findall(r"<!-- checked[^>]*-->\s*\n```ini\n(.*?)```", doc, re.S)
        self.assertEqual(len(blocks), 1)
        path = self.conf(blocks[0], "example.conf")
        code, out, err = run("--config", path, "--check-config")
        self.assertEqual(code, 0, err)
        self.assertIn("3 streams", out)
        for name in ("door", "lobby", "sensors"):
            self.assertIn(f"stream '{name}': ", out)
        self.assertNotIn("secret", out)


if __name__ == "__main__":
    fc.main()
