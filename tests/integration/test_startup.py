"""Start-up failure paths: a loop, an I/O thread, a worker thread or a source
thread that cannot be created unwinds only what was started: a clear error,
exit status 1, and no sanitizer report (no uv_run on a loop that was never
initialized, no join of a thread that never ran, nothing leaked).

The failures are injected with FC_FAULT=SITE:N (the test build's fault
injection, src/util/fault.h): the Nth call of that site fails."""

import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

SANITIZER_MARKS = ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer")


def run_with_fault(fault, *args):
    env = {**os.environ, "FC_FAULT": fault}
    p = subprocess.run([fc.FRAMECAST, "--listen", "127.0.0.1:0", *args], env=env,
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stderr


class StartupFailureTest(unittest.TestCase):
    def check(self, fault, expect, *args):
        code, err = run_with_fault(fault, *args)
        for mark in SANITIZER_MARKS:
            self.assertNotIn(mark, err, f"{fault}: a sanitizer report:\n{err[-3000:]}")
        self.assertEqual(code, 1, f"{fault}: exit status {code}:\n{err[-2000:]}")
        self.assertIn(expect, err, f"{fault}: the error should say what failed")

    def test_first_loop_cannot_start(self):
        self.check("loop_init:1", "cannot start the I/O threads", "--io-threads", "3")

    def test_third_loop_cannot_start(self):
        self.check("loop_init:3", "cannot start the I/O threads", "--io-threads", "3")

    def test_an_io_thread_cannot_be_created(self):
        self.check("loop_thread:2", "cannot start the I/O threads", "--io-threads", "3")

    def test_a_worker_thread_cannot_be_created(self):
        self.check("worker_thread:2", "cannot start a predictor worker thread", "--workers", "3")

    def test_a_source_thread_cannot_be_created(self):
        self.check("source_thread:2", "cannot start the source thread",
                   "--stream", "a=synthetic:fps=30", "--stream", "b=synthetic:fps=30",
                   "--workers", "2", "--io-threads", "2")

    def test_without_a_fault_the_same_server_runs(self):
        with fc.Server("--io-threads", "3", "--workers", "3", env={"FC_FAULT": "none:1"}) as srv:
            status, _ = fc.http_get(srv.port, "/api/streams")
            self.assertEqual(status, 200)


if __name__ == "__main__":
    fc.main()
