"""Installation: CMake's install rules into a temporary DESTDIR (the build
under test, its configured prefix), then the installed tree on its own,
run from a directory outside the source tree: the installed binary serves
a stream to python-websockets and the viewer's files it embeds (the same
bytes as the installed share/framecast/web/), checks the installed
configuration and the three-camera example; a plug-in compiles against the
installed header found through pkg-config alone and the installed binary
loads it; the unit names the installed paths and passes systemd-analyze
verify; `make install` passes PREFIX and DESTDIR on; the Debian package's
.install lists cover every installed file (as dh_missing would)."""

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import websockets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fc  # noqa: E402

SRC = os.path.abspath(fc.SOURCE_DIR)
BUILD = os.path.abspath(os.environ.get("FC_BUILD_DIR", os.path.join(SRC, "build", "debug")))


def cache_value(name):
    with open(os.path.join(BUILD, "CMakeCache.txt")) as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split("=", 1)[1].strip()
    raise AssertionError(f"{name} not in CMakeCache.txt")


async def first_results(url, n):
    out = []
    async with websockets.connect(url, max_size=None) as ws:
        while len(out) < n:
            m = json.loads(await asyncio.wait_for(ws.recv(), 30))
            if m.get("type") == "result":
                out.append(m)
    return out


class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.root = tempfile.mkdtemp(prefix="fc-install-")
        cls.destdir = os.path.join(cls.root, "dest")
        cls.work = os.path.join(cls.root, "work")  # the cwd: no source tree here
        os.mkdir(cls.work)
        cls.prefix = cache_value("CMAKE_INSTALL_PREFIX")
        p = subprocess.run(["cmake", "--install", BUILD], env={**os.environ, "DESTDIR": cls.destdir},
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise AssertionError("cmake --install failed:\n" + p.stdout + p.stderr)
        cls.top = cls.destdir + cls.prefix  # the prefix, under DESTDIR
        cls.sysconf = cls.destdir + ("/etc" if cls.prefix == "/usr" else cls.prefix + "/etc")
        cls.binary = os.path.join(cls.top, "bin", "framecast")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root)

    def installed(self, *parts):
        return os.path.join(self.top, *parts)

    def run_installed(self, *args, timeout=60):
        p = subprocess.run([self.binary, *args], capture_output=True, text=True, cwd=self.work,
                           timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    def test_the_layout(self):
        for path in ("bin/framecast", "bin/framecast-client"):
            self.assertTrue(os.access(self.installed(path), os.X_OK), path)
        for path in ("include/framecast/predictor.h", "share/pkgconfig/framecast.pc",
                     "share/framecast/web/index.html", "share/framecast/web/app.js",
                     "share/framecast/web/style.css", "lib/systemd/system/framecast.service",
                     "share/doc/framecast/deploy.md", "share/doc/framecast/configuration.md",
                     "share/doc/framecast/examples/framecast.conf.example",
                     "share/doc/framecast/examples/nginx.conf",
                     "share/doc/framecast/examples/bright_plugin.c"):
            self.assertTrue(os.path.isfile(self.installed(path)), path)
        self.assertTrue(os.path.isfile(os.path.join(self.sysconf, "framecast", "framecast.conf")))
        with open(self.installed("include/framecast/predictor.h"), "rb") as a, \
                open(os.path.join(SRC, "include/framecast/predictor.h"), "rb") as b:
            self.assertEqual(a.read(), b.read())

    def test_the_unit_names_the_installed_paths_and_verifies(self):
        unit_path = self.installed("lib/systemd/system/framecast.service")
        with open(unit_path) as f:
            unit = f.read()
        m = re.search(r"^ExecStart=(\S+) --config (\S+)$", unit, re.M)
        self.assertIsNotNone(m, unit)
        self.assertTrue(os.access(self.destdir + m.group(1), os.X_OK), m.group(1))
        self.assertTrue(os.path.isfile(self.destdir + m.group(2)), m.group(2))
        for key in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes",
                    "LimitNOFILE=65536", "ExecReload=/bin/kill -HUP $MAINPID",
                    "RestartPreventExitStatus=2", "WantedBy=multi-user.target"):
            self.assertIn("\n" + key + "\n", unit)
        # The installed configuration is valid as installed.
        code, out, err = self.run_installed("--config", self.destdir + m.group(2), "--check-config")
        self.assertEqual(code, 0, err)
        self.assertIn("stream 'events': source push", out)
        if not shutil.which("systemd-analyze"):
            self.skipTest("systemd-analyze is not installed")
        # Verified as it would run: the binary where DESTDIR put it.
        here = os.path.join(self.root, "framecast.service")
        with open(here, "w") as f:
            f.write(unit.replace("ExecStart=" + m.group(1), "ExecStart=" + self.destdir + m.group(1)))
        p = subprocess.run(["systemd-analyze", "verify", here], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))

    def test_the_installed_binary_serves_a_stream_and_the_viewer(self):
        conf = os.path.join(self.sysconf, "framecast", "framecast.conf")
        with fc.Server("--config", conf, "--stream",
                       "cam=synthetic:size=64x64,fps=20,predictor=fake:count=2",
                       binary=self.binary) as srv:
            results = asyncio.run(first_results(srv.url("cam"), 3))
            self.assertEqual({(r["model"], len(r["detections"])) for r in results}, {("fake", 2)})
            status, body = fc.http_get(srv.port, "/api/streams")
            self.assertEqual(status, 200)
            self.assertEqual(sorted(s["name"] for s in json.loads(body)["streams"]),
                             ["cam", "events"])
            for path, name in (("/", "index.html"), ("/app.js", "app.js"),
                               ("/style.css", "style.css")):
                status, body = fc.http_get(srv.port, path)
                self.assertEqual(status, 200, path)
                with open(self.installed("share/framecast/web", name), "rb") as f:
                    self.assertEqual(body, f.read(), path)
            # The installed client, too.
            p = subprocess.run([self.installed("bin/framecast-client"), "--count", "2",
                                srv.url("cam")], capture_output=True, text=True, timeout=60,
                               cwd=self.work)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(len([l for l in p.stdout.splitlines() if '"type":"result"' in l]), 2)

    def test_the_three_camera_example_checks(self):
        code, out, err = self.run_installed(
            "--config", self.installed("share/doc/framecast/examples/framecast.conf.example"),
            "--check-config")
        self.assertEqual(code, 0, err)
        self.assertIn("3 streams", out)
        for name, predictor in (("entrance", "motion:"), ("lobby", "cascade:"),
                                ("dock", "exec:")):
            self.assertRegex(out, rf"stream '{name}': source rtsp://\*\*\*@[^ ]*, predictor "
                                  rf"{predictor}")
        self.assertNotIn("change-me", out)

    def test_a_plugin_builds_against_the_installed_header(self):
        env = {"PATH": "/usr/bin:/bin", "PKG_CONFIG_PATH": self.installed("share/pkgconfig")}
        def pkg_config(*args):
            return subprocess.run(["pkg-config", *args, "framecast"], env=env, capture_output=True,
                                  text=True, check=True).stdout.strip()

        flags, version = pkg_config("--cflags"), pkg_config("--modversion")
        self.assertEqual(os.path.realpath(flags[2:]), os.path.realpath(
            self.installed("include")))
        _, out, _ = self.run_installed("--version")
        self.assertEqual(out.strip(), "framecast " + version)
        abi = pkg_config("--variable=abi_major")
        with open(os.path.join(SRC, "include/framecast/predictor.h")) as f:
            self.assertIn(f"#define FC_PREDICTOR_ABI_MAJOR {abi}\n", f.read())
        src = os.path.join(self.work, "bright.c")
        shutil.copy(self.installed("share/doc/framecast/examples/bright_plugin.c"), src)
        lib = os.path.join(self.work, "libbright.so")
        # The flags from pkg-config alone: the source tree is not on any path.
        p = subprocess.run(f"cc -shared -fPIC -O2 -Wall -Wextra -Werror "
                           f"$(pkg-config --cflags framecast) -o {lib} {src}",
                           shell=True, env=env, cwd=self.work, capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        with fc.Server("--stream", f"b=synthetic:size=64x64,fps=20,predictor={lib}:threshold=200",
                       binary=self.binary) as srv:
            results = asyncio.run(first_results(srv.url("b"), 3))
            self.assertEqual({r["model"] for r in results}, {"bright"})

    def test_make_install_passes_prefix_and_destdir_on(self):
        p = subprocess.run(["make", "-n", "-C", SRC, "install", "PREFIX=/opt/fc",
                            "DESTDIR=/tmp/stage"], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("-DCMAKE_INSTALL_PREFIX=/opt/fc", p.stdout)
        self.assertIn("DESTDIR=/tmp/stage cmake --install build/release", p.stdout)

    def test_the_paths_follow_the_prefix(self):
        """Configured for one prefix, then another (as `make install PREFIX=`
        does with the release build): the unit, its paths and the
        configuration's place follow; only configuring, nothing is built."""
        build = os.path.join(self.root, "configured")

        def configure(prefix):
            p = subprocess.run(["cmake", "-S", SRC, "-B", build, "-DFC_TESTS=OFF",
                                f"-DCMAKE_INSTALL_PREFIX={prefix}"], capture_output=True,
                               text=True, timeout=120)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            with open(os.path.join(build, "framecast.service")) as f:
                unit = f.read()
            with open(os.path.join(build, "cmake_install.cmake")) as f:
                rules = f.read()
            return unit, rules

        configure("/usr/local")
        unit, rules = configure("/opt/fc")
        self.assertIn("ExecStart=/opt/fc/bin/framecast --config /etc/opt/fc/framecast/framecast.conf\n",
                      unit)
        self.assertIn("/opt/fc/lib/systemd/system", rules)
        self.assertNotIn("/usr/local", rules)
        unit, rules = configure("/usr")
        self.assertIn("ExecStart=/usr/bin/framecast --config /etc/framecast/framecast.conf\n", unit)
        self.assertIn("/usr/lib/systemd/system", rules)

    def test_the_debian_install_lists_cover_every_installed_file(self):
        """What packaging/debian/*.install take from debian/tmp (installed
        with prefix /usr) against what the install rules put there: each
        file in exactly one package, each line matching something."""
        def as_debian(path):  # this tree's prefix -> the package's (prefix /usr)
            rel = os.path.relpath(path, self.destdir)
            local = self.prefix.strip("/")
            for ours, theirs in ((local + "/etc/", "etc/"),
                                 (local + "/lib/systemd/", "lib/systemd/"),
                                 (local + "/", "usr/")):
                if rel.startswith(ours):
                    return theirs + rel[len(ours):]
            return rel

        files = set()
        for d, _, names in os.walk(self.destdir):
            files |= {as_debian(os.path.join(d, n)) for n in names}
        owner = {}
        debian = os.path.join(SRC, "packaging", "debian")
        for name in sorted(os.listdir(debian)):
            if not name.endswith(".install"):
                continue
            with open(os.path.join(debian, name)) as f:
                for entry in f.read().split():
                    matched = {p for p in files if p == entry or p.startswith(entry + "/")}
                    self.assertTrue(matched, f"{name}: {entry} matches no installed file")
                    for p in matched:
                        self.assertNotIn(p, owner, f"{p} in {owner.get(p)} and {name}")
                        owner[p] = name
        self.assertEqual(sorted(files - set(owner)), [])
        self.assertEqual(owner["usr/include/framecast/predictor.h"], "framecast-dev.install")
        self.assertEqual(owner["usr/bin/framecast"], "framecast.install")


if __name__ == "__main__":
    fc.main()
