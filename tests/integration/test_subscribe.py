"""examples/subscribe.py (python-websockets) against the real server: it
prints results in seq order; a cut connection reconnects and resumes with
nothing lost; an outage longer than the history is reported as one gap
naming exactly the results lost (two adjoining gaps when the catch-up is
overrun too), and results go on after it; the server
killed and started again on the same port is reconnected to and reported as
a new numbering; a stream that does not exist ends it with status 2."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402
from test_history import Proxy  # noqa: E402

SUBSCRIBE = os.path.join(os.path.abspath(fc.SOURCE_DIR), "examples", "subscribe.py")
# Three seconds of history (60 results at 20 fps): a quick reconnection
# gets everything back, even on a loaded machine; a six-second outage
# loses some.
SERVER_ARGS = ("--stream", "demo=synthetic:size=160x120,fps=20", "--predictor", "fake:count=1",
               "--history", "count:60")


class SteadyProxy(Proxy):
    """Proxy that closes a client it cannot connect onwards (the server is
    down) instead of stopping."""

    def _accept(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            try:
                if self.refusing:
                    raise OSError("refusing")
                u = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            with self.lock:
                self.socks += [c, u]
            for a, b in ((c, u), (u, c)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()


class Subscribe:
    """examples/subscribe.py in the background; its stdout and stderr lines."""

    def __init__(self, *args):
        self.proc = subprocess.Popen(["/usr/bin/python3", SUBSCRIBE, *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        self.out, self.err = [], []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._pump, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.append(line.rstrip("\n"))

    def seqs(self):
        """The seq of each result line printed so far."""
        return [int(re.match(r"seq (\d+) frame \d+: ", line).group(1)) for line in list(self.out)]

    def notes(self, pattern):
        return [m for m in (re.search(pattern, line) for line in list(self.err)) if m]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode


def published(port):
    """Results the server has published on its stream so far."""
    status, body = fc.http_get(port, "/api/streams")
    return json.loads(body)["streams"][0]["results"] if status == 200 else 0


def contiguous(seqs):
    return all(b == a + 1 for a, b in zip(seqs, seqs[1:]))


class SubscribeTest(unittest.TestCase):
    def test_reconnects_resumes_and_reports_gaps(self):
        server = fc.Server(*SERVER_ARGS)
        proxy = SteadyProxy(server.port)
        sub = Subscribe(f"ws://127.0.0.1:{proxy.port}/ws/demo")
        try:
            self.run_phases(server, proxy, sub)
        except BaseException:
            sys.stderr.write("subscribe.py stderr:\n" + "".join(sub.err))
            raise
        finally:
            sub.stop()
            proxy.close()
            if server.proc.poll() is None:
                server.stop()

    def run_phases(self, server, proxy, sub):
        # Results, in order.
        fc.wait_for(lambda: len(sub.seqs()) >= 10, 30, "10 results printed")
        self.assertTrue(contiguous(sub.seqs()), sub.seqs())
        self.assertTrue(sub.notes(r"^subscribe: stream demo live$"), sub.err)
        self.assertRegex(sub.out[0], r"^seq \d+ frame \d+: 1 detections: object 0\.\d\d \[")

        # A cut connection: it reconnects with since/epoch, nothing lost.
        n = len(sub.seqs())
        proxy.cut()
        fc.wait_for(lambda: len(sub.notes(r"^subscribe: connected to .*since=\d+&epoch=[0-9a-f]{16}$")) == 1
                    and len(sub.seqs()) >= n + 20, 30, "20 results after the reconnection")
        self.assertTrue(sub.notes(r"^subscribe: connection lost \(.*\); reconnecting in 0\.\d s$"), sub.err)
        self.assertTrue(contiguous(sub.seqs()), sub.seqs())
        self.assertEqual(sub.notes(r"gap"), [])

        # Away while the server publishes twice its history (60 results):
        # what is missing is reported, exactly. One gap, or two when the
        # catch-up itself is overrun (a loaded machine): then they adjoin.
        proxy.refusing = True
        proxy.cut()
        fc.wait_for(lambda: len(sub.notes(r"reconnecting in")) >= 2, 10, "the drop noticed")
        received = sub.seqs()[-1]
        fc.wait_for(lambda: published(server.port) >= received + 120, 30, "120 results published meanwhile")
        proxy.refusing = False
        gap_line = r"^subscribe: gap: results (\d+) to (\d+) lost \((\d+) lost in all\)$"
        fc.wait_for(lambda: sub.notes(gap_line), 30, "a gap reported")
        n = len(sub.seqs())
        fc.wait_for(lambda: len(sub.seqs()) >= n + 10, 30, "10 results after the gap")
        gaps = [tuple(map(int, m.groups())) for m in sub.notes(gap_line)]
        self.assertLessEqual(len(gaps), 2, gaps)
        first, last, total = gaps[0][0], gaps[-1][1], gaps[-1][2]
        for (_, end, _), (start, _, _) in zip(gaps, gaps[1:]):
            self.assertEqual(start, end + 1, f"the gaps adjoin: {gaps}")
        self.assertEqual(total, last - first + 1)
        self.assertGreaterEqual(total, 60, "120 results published, 60 kept")
        seqs = sub.seqs()
        at = seqs.index(first - 1)
        self.assertEqual(seqs[at + 1], last + 1, "results go on right after the gap")
        self.assertTrue(contiguous(seqs[:at + 1]) and contiguous(seqs[at + 1:]), seqs)

        # The server killed and started again on the same port: a new numbering.
        port = server.port
        server.proc.kill()
        server.proc.wait()
        fc.wait_for(lambda: len(sub.notes(r"reconnecting in")) >= 3, 10, "the drop noticed")
        restarted = fc.Server(*SERVER_ARGS, listen=f"127.0.0.1:{port}")
        try:
            n = len(sub.seqs())
            fc.wait_for(lambda: len(sub.seqs()) >= n + 10, 30, "10 results from the new server")
            resets = sub.notes(r"^subscribe: reset \(epoch\): .*what came after seq (\d+) of the old numbering")
            self.assertEqual(len(resets), 1, sub.err)
            seqs = sub.seqs()
            self.assertEqual(int(resets[0].group(1)), seqs[n - 1], "the last result before the restart")
            self.assertLessEqual(seqs[n], 40, f"seq starts over on the new server: {seqs[n:]}")
            self.assertTrue(contiguous(seqs[n:]), seqs[n:])
            self.assertEqual(len(sub.notes(r"gap:")), len(gaps), "a restart is not counted as a gap")
            self.assertEqual(sub.stop(), 0)
            fc.wait_for(lambda: sub.notes(r"^subscribe: (\d+) results, (\d+) lost$"), 5, "the summary")
            [summary] = sub.notes(r"^subscribe: (\d+) results, (\d+) lost$")
            self.assertGreaterEqual(int(summary.group(1)), len(seqs))
            self.assertEqual(int(summary.group(2)), total)
        finally:
            restarted.stop()

    def test_count_json_and_an_unknown_stream(self):
        with fc.Server(*SERVER_ARGS) as server:
            p = subprocess.run(["/usr/bin/python3", SUBSCRIBE, "--json", "--count", "3", server.url("demo")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            lines = p.stdout.splitlines()
            self.assertEqual(len(lines), 3)
            self.assertTrue(all(line.startswith('{"type":"result","stream":"demo"') for line in lines), lines)
            p = subprocess.run(["/usr/bin/python3", SUBSCRIBE, server.url("nope")],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn("refused with HTTP 404: not retrying", p.stderr)


if __name__ == "__main__":
    fc.main()
