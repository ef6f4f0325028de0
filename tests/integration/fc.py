"""Shared helpers for framecast's integration tests.

Starts the real binary on a free port (it prints the port it bound), waits
for conditions with deadlines, and stops it checking that it exited cleanly
(a sanitizer report makes the exit status non-zero). Run with /usr/bin/python3
so Debian's python3-websockets is importable.
"""

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

FRAMECAST = os.environ.get("FRAMECAST", "build/debug/framecast")
FRAMECAST_CLIENT = os.environ.get("FRAMECAST_CLIENT", "build/debug/framecast-client")
SOURCE_DIR = os.environ.get("FC_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
# A command the server runs under (tests/valgrind/run.sh sets valgrind's),
# and how many times longer a wrapped server may take to start and stop.
WRAPPER = shlex.split(os.environ.get("FRAMECAST_WRAPPER", ""))
SLOWDOWN = float(os.environ.get("FRAMECAST_SLOWDOWN", "1"))


def wait_for(cond, timeout, what, interval=0.01):
    """Polls cond() until it returns a true value or timeout seconds pass."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


class Server:
    """A framecast process listening on 127.0.0.1 with a kernel-chosen port."""

    def __init__(self, *args, listen="127.0.0.1:0", env=None, preexec_fn=None, binary=None, cwd=None):
        # Only the binary under test is wrapped (not a release build a test
        # measures).
        cmd = [*(WRAPPER if binary is None else []), os.path.abspath(binary or FRAMECAST), "--listen",
               listen, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})},
                                     preexec_fn=preexec_fn, cwd=cwd)
        self.stderr_lines = []
        self.stdout_lines = []
        self._stderr_thread = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True)
        self._stderr_thread.start()
        self.port = None
        deadline = time.monotonic() + 30 * SLOWDOWN
        while self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                raise AssertionError("framecast exited before listening: " + "".join(self.stderr_lines))
            self.stdout_lines.append(line)
            m = re.search(r"listening on https?://[^ ]*:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
            if time.monotonic() > deadline:
                raise AssertionError("framecast did not print its port in time")
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout_lines), daemon=True).start()

    @staticmethod
    def _pump(stream, lines):
        for line in stream:
            lines.append(line)

    def url(self, stream="demo", query=""):
        return f"ws://127.0.0.1:{self.port}/ws/{stream}" + (f"?{query}" if query else "")

    def stop(self, timeout=20):
        """SIGTERM, then require a clean exit (0) within timeout."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout * SLOWDOWN)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("framecast did not stop within %ss of SIGTERM" % timeout)
        self._stderr_thread.join(timeout=5)
        self.proc.stdout.close()
        self.proc.stderr.close()
        if code != 0:
            raise AssertionError(f"framecast exited with {code}:\n" + "".join(self.stderr_lines))
        return code

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        elif self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            sys.stderr.write("framecast stderr:\n" + "".join(self.stderr_lines))


def raw_connect(port, host="127.0.0.1", timeout=10):
    s = socket.create_connection((host, port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_until_closed(sock, timeout=10):
    """Reads until the peer closes; returns all bytes."""
    sock.settimeout(timeout)
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def http_get(port, path, timeout=10):
    """GET path; returns (status, body bytes), read until the server closes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def metrics(port):
    """GET /metrics as {'name{labels}': value}."""
    status, body = http_get(port, "/metrics")
    if status != 200:
        raise AssertionError(f"/metrics answered {status}")
    out = {}
    for line in body.decode().splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS")).split()[1])


def make_video(path, frames, rate=30, size="160x120"):
    """An H.264 MP4 of a test pattern with exactly `frames` frames."""
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                    f"testsrc2=size={size}:rate={rate}", "-frames:v", str(frames),
                    "-pix_fmt", "yuv420p", path], check=True)


class _StrictResult(unittest.TextTestResult):
    """Under CI=true a test that cannot run (a missing file or feature) is a
    failure: CI must not pass by skipping."""

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.failures.append((test, f"skipped under CI=true: {reason}"))


def main():
    if os.environ.get("CI") == "true":
        unittest.main(testRunner=unittest.TextTestRunner(resultclass=_StrictResult, verbosity=2))
    else:
        unittest.main(verbosity=2)
