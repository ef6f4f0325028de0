"""docs/security.md's recipes work as written: every ```sh block preceded
by `<!-- checked -->` is run by /bin/sh, in document order, in one scratch
directory (with `build` linked from the source tree) and the PATH of a
plain Debian system, and must exit 0; a block marked `<!-- checked: server
-->` is a server, started in the background (replacing the previous one)
until it prints that it listens. Port 8080 becomes a free port. So the
keys, the tokens minted with `framecast token` and with the openssl
command, and the servers that take them are checked together. The document
also names every security option framecast has."""

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
DOC = os.path.join(SRC, "docs", "security.md")
ENV = {"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp"), "LANG": "C.UTF-8"}


def blocks(text):
    out = []
    for m in re.finditer(r"<!-- checked(:[^>]*?)?\s*-->\s*\n```sh\n(.*?)```", text, re.S):
        out.append(("server" if (m.group(1) or "").strip(": ") == "server" else "run", m.group(2)))
    return out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SecurityDocTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="fc-security-doc-")
        os.symlink(os.path.join(SRC, "build"), os.path.join(self.dir, "build"))
        self.server = None
        self.log = []

    def tearDown(self):
        self.stop_server()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop_server(self):
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGTERM)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait()
        self.server = None

    def start_server(self, code):
        self.stop_server()
        self.log = []
        self.server = subprocess.Popen(["/bin/sh", "-c", "exec " + code.strip()], cwd=self.dir,
                                       env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)
        deadline = time.monotonic() + 60
        for line in self.server.stdout:
            self.log.append(line)
            if "listening on http" in line or time.monotonic() > deadline:
                break
        if not any("listening on http" in line for line in self.log):
            self.fail(f"the server block did not start:\n{code}\n{''.join(self.log)}")
        threading.Thread(target=lambda: self.log.extend(self.server.stdout), daemon=True).start()

    def test_checked_recipes_run(self):
        with open(DOC) as f:
            found = blocks(f.read())
        self.assertGreaterEqual(len(found), 6, "the checked blocks are gone")
        port = str(free_port())
        for kind, code in found:
            code = code.replace("8080", port)
            if kind == "server":
                self.start_server(code)
                continue
            p = subprocess.run(["/bin/sh", "-e", "-c", code], cwd=self.dir, env=ENV,
                               capture_output=True, text=True, timeout=120)
            self.assertEqual(p.returncode, 0,
                             f"block failed:\n{code}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}\n"
                             f"server:\n{''.join(self.log)}")
        # What the blocks made is what the text says it is.
        for name in ("viewer.jwt", "metrics.jwt", "rs256.jwt", "es256.jwt"):
            with open(os.path.join(self.dir, name)) as f:
                tok = f.read().strip()
            self.assertRegex(tok, r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$", name)
        self.assertEqual(os.stat(os.path.join(self.dir, "framecast.secret")).st_mode & 0o077, 0)

    def test_every_security_option_is_documented(self):
        with open(DOC) as f:
            doc = f.read()
        usage = subprocess.run([fc.FRAMECAST, "--help"], capture_output=True, text=True,
                               timeout=30).stdout
        options = re.findall(r"--(?:auth|allowed|require|max-c|tls)[a-z-]*", usage)
        self.assertGreaterEqual(len(set(options)), 10, usage)
        for opt in set(options):
            self.assertIn(f"`{opt}", doc, f"{opt} is not in docs/security.md")


if __name__ == "__main__":
    fc.main()
