"""What an orchestrator relies on: /healthz and /readyz with reasons, and a
graceful stop: on SIGTERM every client gets what was already queued for it,
then close 1001, within --drain-timeout, and the process exits 0."""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402
from test_ws_protocol import CLOSE, TEXT, RawWs, result_seq  # noqa: E402


class SilentServer:
    """Accepts TCP connections and never answers: a camera that hangs."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(c)

    def close(self):
        self.sock.close()
        for c in self.held:
            c.close()


def get_json(port, path):
    status, body = fc.http_get(port, path)
    return status, json.loads(body)


class HealthTest(unittest.TestCase):
    def test_healthz_and_readyz(self):
        silent = SilentServer()
        try:
            with fc.Server("--stream", "ok=synthetic:fps=10",
                           "--stream", f"cam=http://127.0.0.1:{silent.port}/live.mjpg,timeout=2") as srv:
                self.assertEqual(get_json(srv.port, "/healthz"), (200, {"status": "ok"}))
                # The camera's first connection attempt hangs: not ready, and why.
                status, body = get_json(srv.port, "/readyz")
                self.assertEqual(status, 503)
                self.assertFalse(body["ready"])
                self.assertIn("'cam'", body["reason"])
                # Past its first attempt (timed out, now reconnecting): ready.
                fc.wait_for(lambda: get_json(srv.port, "/readyz")[0] == 200, 20,
                            "ready once the camera's first attempt is over")
                streams = {s["name"]: s for s in get_json(srv.port, "/api/streams")[1]["streams"]}
                self.assertIn(streams["cam"]["state"], ("reconnecting", "connecting"))
        finally:
            silent.close()


class DrainTest(unittest.TestCase):
    def test_sigterm_delivers_what_is_queued_then_1001(self):
        # 15 KB results at 100/s, clients that do not read yet: at SIGTERM
        # their queues hold results (queues large enough to drop none) that
        # must still reach them.
        with fc.Server("--source", "synthetic:size=64x64,fps=100", "--predictor", "fake:count=290",
                       "--queue-bytes", "64MiB", "--drain-timeout", "8000", "--io-threads", "2") as srv:
            clients = []
            for _ in range(4):
                s = socket.socket()
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                s.connect(("127.0.0.1", srv.port))
                clients.append(RawWs.connect(srv.port, sock=s))
            fc.wait_for(lambda: fc.metrics(srv.port)['framecast_queued_bytes{stream="demo"}'] > 0,
                        20, "results queued for the slow clients", interval=0.05)
            m = fc.metrics(srv.port)
            published_before = m['framecast_results_total{stream="demo"}']
            self.assertEqual(m['framecast_messages_dropped_total{stream="demo"}'], 0)
            srv.proc.send_signal(signal.SIGTERM)
            outcomes = []
            for c in clients:  # now they read everything
                seqs, close = [], None
                while close is None:
                    _, op, payload = c.read_frame(timeout=15)
                    if op == CLOSE:
                        close = payload
                    elif op == TEXT and result_seq(payload) is not None:
                        seqs.append(result_seq(payload))
                c.send_frame(CLOSE, close[:2])
                c.close()
                outcomes.append((seqs, close))
            code = srv.proc.wait(timeout=20)
            self.assertEqual(code, 0, "".join(srv.stderr_lines[-20:]))
            for seqs, close in outcomes:
                self.assertEqual(struct.unpack("!H", close[:2])[0], 1001)
                self.assertEqual(seqs, list(range(seqs[0], seqs[0] + len(seqs))),
                                 "a gap: queued results were lost at shutdown")
                self.assertGreaterEqual(seqs[-1], published_before - 1,
                                        "what was published before SIGTERM must arrive")
            self.assertTrue(any("shutting down" in l and "1001" in l for l in srv.stderr_lines))



class MetricsTest(unittest.TestCase):
    """/metrics parses with the Prometheus client library's own parser, and
    the counters move as a client observes."""

    def families(self, port):
        from prometheus_client.parser import text_string_to_metric_families
        status, body = fc.http_get(port, "/metrics")
        self.assertEqual(status, 200)
        return {f.name: f for f in text_string_to_metric_families(body.decode())}

    @staticmethod
    def value(fams, name, suffix="", **labels):
        for s in fams[name].samples:
            if s.name == name + suffix and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
        raise AssertionError(f"no sample {name}{suffix} {labels}")

    def test_metrics_parse_and_move(self):
        with fc.Server("--source", "synthetic:size=64x64,fps=50", "--predictor", "fake:count=3") as srv:
            before = self.families(srv.port)
            for name, kind in [("framecast_results", "counter"), ("framecast_clients", "gauge"),
                               ("framecast_predict_seconds", "histogram"),
                               ("framecast_capture_to_publish_seconds", "histogram"),
                               ("framecast_queue_wait_seconds", "histogram"),
                               ("framecast_frames", "counter"), ("process_cpu_seconds", "counter"),
                               ("process_resident_memory_bytes", "gauge"),
                               ("process_open_fds", "gauge"), ("framecast_build_info", "gauge"),
                               ("framecast_stream_state", "gauge"),
                               ("framecast_connections_refused", "counter")]:
                self.assertIn(name, before, name)
                self.assertEqual(before[name].type, kind, name)
            c = RawWs.connect(srv.port)
            try:
                seqs = []
                while len(seqs) < 100:
                    _, op, payload = c.read_frame()
                    if op == TEXT and result_seq(payload) is not None:
                        seqs.append(result_seq(payload))
                after = self.families(srv.port)
            finally:
                c.close()
            v = self.value
            self.assertEqual(v(after, "framecast_clients", stream="demo"), 1)
            self.assertGreaterEqual(v(after, "framecast_results", "_total", stream="demo"), seqs[-1])
            # Counted once the write has returned: the client may read the
            # bytes a moment before the loop counts them.
            fc.wait_for(lambda: v(self.families(srv.port), "framecast_messages_sent", "_total",
                                  stream="demo") >= 100, 10, "100 messages counted as sent")
            self.assertGreaterEqual(v(after, "framecast_frames", "_total", stream="demo"), seqs[-1])
            self.assertEqual(v(after, "framecast_stream_state", stream="demo", state="live"), 1)
            n = v(after, "framecast_predict_seconds", "_count", stream="demo")
            self.assertGreaterEqual(n, seqs[-1])
            self.assertEqual(v(after, "framecast_predict_seconds", "_bucket", stream="demo", le="+Inf"), n)
            self.assertGreater(v(after, "framecast_queue_wait_seconds", "_count", stream="demo"), 0)
            self.assertGreater(v(after, "process_open_fds"), 3)
            self.assertGreater(v(after, "process_resident_memory_bytes"), 1 << 20)


class LogTest(unittest.TestCase):
    def test_json_logs_are_one_object_a_line(self):
        srv = fc.Server("--source", "synthetic:fps=20", "--log-format", "json")
        with srv:
            c = RawWs.connect(srv.port)
            c.read_frame()
            c.close()
        lines = [json.loads(l) for l in srv.stderr_lines if l.strip()]
        self.assertGreaterEqual(len(lines), 2)
        for l in lines:
            self.assertTrue({"time", "level", "msg"} <= set(l), l)
        self.assertTrue(any(l.get("stream") == "demo" and "live" in l["msg"] for l in lines))

    def test_bad_log_format_is_a_usage_error(self):
        import subprocess
        p = subprocess.run([fc.FRAMECAST, "--log-format", "xml"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 2)
        self.assertIn("--log-format", p.stderr)


if __name__ == "__main__":
    fc.main()
