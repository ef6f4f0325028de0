"""Shared helpers for framecast's integration tests.

Starts the real binary on a free port (it prints the port it bound), waits
for conditions with deadlines, and stops it checking that it exited cleanly
(a sanitizer report makes the exit status non-zero). Run with /usr/bin/python3
so Debian's python3-websockets is importable.
"""

import os
import re
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

    def __init__(self, *args, listen="127.0.0.1:0", env=None):
        cmd = [FRAMECAST, "--listen", listen, *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, env={**os.environ, **(env or {})})
        self.stderr_lines = []
        self.stdout_lines = []
        self._stderr_thread = threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr_lines), daemon=True)
        self._stderr_thread.start()
        self.port = None
        deadline = time.monotonic() + 30
        while self.port is None:
            line = self.proc.stdout.readline()
            if not line:
                self.proc.wait(timeout=10)
                raise AssertionError("framecast exited before listening: " + "".join(self.stderr_lines))
            self.stdout_lines.append(line)
            m = re.search(r"listening on http://[^ ]*:(\d+)/", line)
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
            code = self.proc.wait(timeout=timeout)
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


def main():
    unittest.main(verbosity=2)
