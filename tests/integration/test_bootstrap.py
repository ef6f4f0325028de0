"""`make run` for people without root or npm: scripts/bootstrap run as a real
non-root user (nobody, when the tests run as root), with no sudo, apt-get,
npm or node in PATH, passes when every package is present and names exactly
the missing ones otherwise; --check never installs, even as root."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(__file__))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
BOOTSTRAP = os.path.join(SRC, "scripts", "bootstrap")
# Tools that must not be needed (or, for apt-get, not reached) by a check.
HIDDEN = {"sudo", "apt-get", "apt", "npm", "npx", "node", "nodejs", "dpkg-query"}


class BootstrapTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="fc-bootstrap-")
        os.chmod(cls.dir, 0o755)
        # A PATH like the system's, without the hidden tools...
        cls.sysbin = os.path.join(cls.dir, "sysbin")
        os.makedirs(cls.sysbin)
        for name in os.listdir("/usr/bin"):
            if name not in HIDDEN:
                os.symlink(os.path.join("/usr/bin", name), os.path.join(cls.sysbin, name))
        # ...and in front of it, stand-ins: npm, node and apt-get leave a mark if
        # anything runs them (sudo is simply absent); dpkg-query answers "not
        # installed" for the packages named in FAKE_MISSING and asks the real one
        # otherwise.
        cls.fakebin = os.path.join(cls.dir, "fakebin")
        os.makedirs(cls.fakebin)
        cls.marks = os.path.join(cls.dir, "marks")
        os.makedirs(cls.marks)
        os.chmod(cls.marks, 0o777)
        for tool in ("npm", "node", "apt-get"):
            cls.script(tool, f'#!/bin/sh\necho "$0 $*" >> {cls.marks}/{tool}\nexit 1\n')
        cls.script("dpkg-query", '#!/bin/sh\n'
                   'for pkg; do :; done\n'
                   'for m in $FAKE_MISSING; do\n'
                   '  if [ "$m" = "$pkg" ]; then printf "deinstall ok config-files"; exit 0; fi\n'
                   'done\n'
                   'exec /usr/bin/dpkg-query "$@"\n')

    @classmethod
    def script(cls, name, text):
        path = os.path.join(cls.fakebin, name)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        for f in os.listdir(self.marks):
            os.remove(os.path.join(self.marks, f))

    def bootstrap(self, *args, missing=(), as_root=False, stand_ins=("npm", "node", "apt-get")):
        """Runs scripts/bootstrap with a clean environment; as the user nobody when
        the tests run as root (unless as_root)."""
        path = [self.fakebin, self.sysbin] if stand_ins else [self.sysbin]
        env = {"PATH": ":".join(path), "HOME": self.dir, "LANG": "C.UTF-8",
               "FAKE_MISSING": " ".join(missing)}
        if not stand_ins:  # the real dpkg-query, nothing else
            os.symlink("/usr/bin/dpkg-query", os.path.join(self.sysbin, "dpkg-query"))
        cmd = ["/bin/bash", BOOTSTRAP, *args]
        if os.geteuid() == 0 and not as_root:
            cmd = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *cmd]
        try:
            return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        finally:
            if not stand_ins:
                os.remove(os.path.join(self.sysbin, "dpkg-query"))

    def marks_left(self):
        return sorted(os.listdir(self.marks))

    def test_make_run_needs_no_root_no_sudo_no_npm(self):
        p = self.bootstrap(stand_ins=())
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertRegex(p.stdout, r"bootstrap: all \d+ Debian packages present")
        self.assertNotIn("npm", p.stdout + p.stderr)
        # and with the stand-ins in PATH: none of them was run
        p = self.bootstrap()
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(self.marks_left(), [], "apt-get, npm or node was run")

    def test_a_missing_package_is_named(self):
        p = self.bootstrap(missing=["libcjson-dev"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("bootstrap: missing Debian packages (1): libcjson-dev\n", p.stderr)
        self.assertIn("not root and no sudo", p.stderr)
        self.assertIn("apt-get install libcjson-dev\n", p.stderr)
        self.assertEqual(self.marks_left(), [])

    def test_check_never_installs(self):
        p = self.bootstrap("--check", missing=["libuv1-dev", "python3-numpy"], as_root=True)
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("bootstrap: missing Debian packages (2): libuv1-dev python3-numpy\n", p.stderr)
        self.assertEqual(self.marks_left(), [], "--check ran an installer")

    def test_test_packages_are_only_for_tests(self):
        """A test-only package missing does not stop `make run`; it does stop --tests."""
        p = self.bootstrap(missing=["libcmocka-dev", "chromium"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        p = self.bootstrap("--tests", "--check", missing=["libcmocka-dev", "chromium"])
        self.assertEqual(p.returncode, 1, p.stdout + p.stderr)
        self.assertIn("missing Debian packages (2): libcmocka-dev chromium\n", p.stderr)

    def test_make_release_and_run_call_bootstrap_without_tests(self):
        out = subprocess.run(["make", "-n", "-C", SRC, "run"], capture_output=True, text=True,
                             timeout=60).stdout
        calls = [l for l in out.splitlines() if "scripts/bootstrap" in l]
        self.assertEqual(calls, ["scripts/bootstrap"], out)
        self.assertNotIn("npm", out)


if __name__ == "__main__":
    fc.main()
