"""The README's examples are copy-paste correct in a POSIX shell.

Every ```sh block preceded by a `<!-- checked ... -->` comment is run, in
document order, by /bin/sh in a scratch directory (with `build` and
`examples` linked from the source tree), with the PATH of a plain Debian
system, and must exit 0 within its time. `make run`'s own server command
(from `make -n run`) is started first; a block marked `<!-- checked: server
-->` replaces the running server by itself. The port 8080 of the examples is
replaced by a free port, as other servers may run on this machine. Blocks
not marked are not run, but an exec predictor spec in any sh block must be
quoted (its command has spaces)."""

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
README = os.path.join(SRC, "README.md")
ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}
BLOCK_SECONDS = 120


def blocks(text):
    """[(kind, code)] of the checked sh blocks: kind is 'server' or 'run'."""
    out = []
    for m in re.finditer(r"<!-- checked(:[^>]*?)?\s*-->\s*\n```sh\n(.*?)```", text, re.S):
        label = (m.group(1) or "").strip(": \n")
        out.append(("server" if label == "server" else "run", m.group(2)))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReadmeTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-readme-")
        for name in ("build", "examples"):
            os.symlink(os.path.join(SRC, name), os.path.join(self.dir, name))
        self.server = None
        self.log = []

    def tearDown(self):
        if self.server and self.server.poll() is None:
            self.server.kill()
            self.server.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_server(self, code):
        """Runs a server block in the background until it prints that it listens."""
        self.stop_server()
        self.server = subprocess.Popen(["/bin/sh", "-c", "exec " + code.strip()], cwd=self.dir, env=ENV,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       start_new_session=True)
        deadline = time.monotonic() + 60
        for line in self.server.stdout:
            self.log.append(line)
            if "listening on http://" in line:
                break
            if time.monotonic() > deadline:
                break
        else:
            self.fail(f"the server block exited before listening:\n{code}\n{''.join(self.log)}")
        # keep reading its output so it never blocks on a full pipe
        threading.Thread(target=lambda: self.log.extend(self.server.stdout), daemon=True).start()

    def stop_server(self):
        if not self.server:
            return
        self.server.send_signal(signal.SIGTERM)
        code = self.server.wait(timeout=30)
        self.assertEqual(code, 0, "the server exited with status %d:\n%s" % (code, "".join(self.log)))
        self.server = None

    def test_checked_examples_run(self):
        with open(README) as f:
            text = f.read()
        checked = blocks(text)
        self.assertGreaterEqual(len(checked), 4, "the README lost its checked examples")
        self.assertIn("server", [k for k, _ in checked])
        port = str(free_port())
        run = subprocess.run(["make", "-s", "-n", "-C", SRC, "run", f"LISTEN=127.0.0.1:{port}"],
                             capture_output=True, text=True, timeout=60)
        demo = [l for l in run.stdout.splitlines() if l.startswith("build/release/framecast ")]
        self.assertEqual(len(demo), 1, run.stdout)
        self.start_server(demo[0])
        outputs = []
        for kind, code in checked:
            code = code.replace("8080", port)
            if kind == "server":
                self.start_server(code)
                continue
            p = subprocess.run(["/bin/sh", "-c", code], cwd=self.dir, env=ENV, capture_output=True,
                               text=True, timeout=BLOCK_SECONDS)
            self.assertEqual(p.returncode, 0, f"README block failed:\n{code}\nstdout:\n{p.stdout}\n"
                                              f"stderr:\n{p.stderr[-3000:]}")
            outputs.append(p.stdout)
        self.stop_server()
        # what the README says the exec example shows, it shows
        out = "".join(outputs)
        self.assertIn('"model":"bright"', out)
        self.assertIn('"predictor_state":"ok"', out)
        self.assertIn("framecast_predictor_restarts_total", out)
        self.assertIn("stream 'demo': model: predict_numpy: threshold 150", "".join(self.log))

    def test_exec_specs_are_quoted(self):
        """In shell blocks, and in inline code that a reader would paste (an exec spec with
        a space in it), `exec:` comes inside quotes."""
        with open(README) as f:
            text = f.read()
        inline = [c for c in re.findall(r"(?<!`)`([^`\n]+)`(?!`)", text) if "exec:" in c and " " in c]
        self.assertTrue(inline, "the README shows an exec spec inline")
        for code in re.findall(r"```sh\n(.*?)```", text, re.S) + inline:
            for line in code.splitlines():
                for m in re.finditer(r"exec:", line):
                    before = line[:m.start()]
                    # inside quotes: an odd number of one kind of quote before it
                    self.assertTrue(before.count("'") % 2 == 1 or before.count('"') % 2 == 1,
                                    f"unquoted exec spec in the README: {line}")


if __name__ == "__main__":
    fc.main()
