"""No credential is ever shown: camera URLs with userinfo (a password with
'@' in it), query and path parameters that carry secrets, and an exec model
given a token on its command line. Checked in the unauthenticated
/api/streams and /metrics, in the status messages clients receive and in
every log line (FFmpeg's own included, at --log-level debug). The cameras refuse the
connection (port 1), so the URLs travel through the error paths."""

import json
import os
import subprocess
import sys
import unittest
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_ingest import Subscriber  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
SECRETS = ["p@ss", "hunter2", "xmpass", "webpw", "tok123", "exectok", "admin:"]

STREAMS = {
    "cam": "rtsp://admin:p@ss@127.0.0.1:1/x?user=bob&password=hunter2",
    "xm": "rtsp://127.0.0.1:1/user=admin&password=xmpass&channel=1&stream=0.sdp",
    "web": "http://viewer:webpw@127.0.0.1:1/live.m3u8?token=tok123",
}
SHOWN = {
    "cam": "rtsp://***@127.0.0.1:1/x?user=bob&password=***",
    "xm": "rtsp://127.0.0.1:1/user=admin&password=***&channel=1&stream=0.sdp",
    "web": "http://***@127.0.0.1:1/live.m3u8?token=***",
}


class SecretsTest(unittest.TestCase):
    def assert_no_secret(self, text, where):
        for s in SECRETS:
            self.assertNotIn(s, text, f"{where} shows '{s}'")

    def test_credentials_never_shown(self):
        args = ["--log-level", "debug"]
        for name, url in STREAMS.items():
            args += ["--stream", f"{name}={url},timeout=1"]
        model = os.path.join(SRC, "examples", "predict_null.py")
        args += ["--stream", "ok=synthetic:size=64x64,fps=10",
                 "--predictor", f"exec:cmd=/usr/bin/python3 {model} --token=exectok"]
        with fc.Server(*args) as server:
            subs = {name: Subscriber(server.url(name)) for name in STREAMS}
            try:
                for name, sub in subs.items():
                    fc.wait_for(lambda: any(s.get("error") for s in sub.statuses()), 30,
                                f"{name}: a status with an error")
                fc.wait_for(lambda: any("exec predictor: started" in l for l in server.stderr_lines), 30,
                            "the exec model to start")
                with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/streams", timeout=10) as r:
                    api = r.read().decode()
                streams = {s["name"]: s for s in json.loads(api)["streams"]}
                for name, shown in SHOWN.items():
                    self.assertEqual(streams[name]["source"], shown + ",timeout=1")
                self.assertIn("--token=***", streams["ok"]["predictor"])
                self.assert_no_secret(api, "/api/streams")
                status, body = fc.http_get(server.port, "/metrics")
                self.assertEqual(status, 200)
                self.assert_no_secret(body.decode(), "/metrics")
                for name, sub in subs.items():
                    errors = [s["error"] for s in sub.statuses() if s.get("error")]
                    self.assertIn(SHOWN[name].split("?")[0], errors[0])  # the URL is named...
                    self.assert_no_secret(json.dumps(sub.statuses()), f"{name}'s status")  # ...safely
            finally:
                for sub in subs.values():
                    sub.close()
        log = "".join(server.stderr_lines)
        self.assertIn("ffmpeg:", log)  # FFmpeg's own lines were there to check
        self.assert_no_secret(log, "the log")

    def test_bad_option_error_hides_credentials(self):
        p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", "--stream",
                            "cam=rtsp://admin:hunter2@cam/x?token=tok123,bogus=1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("bogus", p.stderr)
        self.assertIn("rtsp://***@cam/x?token=***", p.stderr)
        self.assert_no_secret(p.stderr + p.stdout, "the error message")


if __name__ == "__main__":
    fc.main()
