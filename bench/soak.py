#!/usr/bin/python3
"""Soak and churn: framecast under many clients and a stream of short,
badly behaved connections for a fixed time, then a report. Loopback only,
bounded in time and count, stops by itself.

    bench/soak.py BUILD_DIR [--duration S] [--streams N] [--clients N]
                  [--stalled-pct P] [--churn R] [--json] [--server-log FILE]

The server (BUILD_DIR/framecast) runs N synthetic streams at 30 fps with
the motion predictor and previews. Against it:
  - stable clients: framecast-bench, one process per stream, clients/N
    each, P % of them stalled (they never read after the handshake);
  - preview clients: one per stream with ?preview=1, reading everything;
  - churn: R new connections a second over the whole run, each one of:
      hello    upgrade, read the status and a result, close 1000 (checked)
      resume   upgrade with ?since=&epoch= a few results back, read up to
               a result past it or a reset, close 1000 (checked)
      reset    upgrade, read a little, then reset the TCP connection
      garbage  upgrade, ping, then an unmasked frame: expect the pong and
               1002 (checked)
      badhttp  a request head that is not HTTP: expect 400 (checked)
      slowhead half a request head, then gone
The well-behaved kinds (hello, resume) must never see a protocol error.
A churn connection is begun only while fewer than 400 are in flight; the
report gives the rate due and the rate opened. A checked connection whose
request head this process itself sent 10 s or more after beginning its
connect (its one event loop starved on a loaded machine) is counted as
"too late here", not as a failure: the kernel completes a connect at
once, so the server's --handshake-timeout (10 s) may end it first, as
documented. Each failure is listed with its time since the start, its
stage (connect, head, frame), when its head went out and how late this
process's event loop ran meanwhile; the table shows the host's accept-
queue overflows (TcpExt ListenOverflows) per sample. --server-log FILE
keeps the server's stderr.
Every 5 s the server's RSS, open descriptors and CPU are sampled. At the
end: the churn stops, the descriptors must come back to what they were
with only the stable clients connected, the bench processes report gaps
and protocol errors, and the server must exit 0 on SIGTERM.

Exit status 0 when every check holds, 1 otherwise (the report says which).
Stdlib only; run with /usr/bin/python3."""

import argparse
import asyncio
import base64
import json
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

TICK = 5.0
HANDSHAKE_S = 10.0  # the server's --handshake-timeout (its default, which the soak keeps)


def proc_sample(pid):
    """(rss KiB, open descriptors, cpu seconds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return rss, fds, cpu


def listen_overflows():
    """The kernel's count of connections a full accept queue turned away
    (every listener on the host: TcpExt ListenOverflows), or None."""
    try:
        with open("/proc/net/netstat") as f:
            lines = [ln.split() for ln in f if ln.startswith("TcpExt:")]
        return int(lines[1][lines[0].index("ListenOverflows")])
    except (OSError, ValueError, IndexError):
        return None


# --- A minimal WebSocket client on asyncio streams ---------------------------

def upgrade_request(port, path):
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


def frame(opcode, payload=b"", mask=True):
    n = len(payload)
    head = bytes([0x80 | opcode])
    if n < 126:
        head += bytes([(0x80 if mask else 0) | n])
    else:
        head += bytes([(0x80 if mask else 0) | 126]) + struct.pack("!H", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i & 3] for i, b in enumerate(payload))


class ProtocolError(Exception):
    pass


def stage(reader, name):
    """Where a churn connection is (connect, head, frame): its failure says it."""
    info = getattr(reader, "soak_info", None)
    if info is not None:
        info["stage"] = name
        if name == "head":  # each kind reads the head right after writing its own
            info.setdefault("wrote", time.monotonic())


async def read_head(reader):
    stage(reader, "head")
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1])


async def read_frame(reader):
    """(opcode, payload) of one server frame; checks what a client must."""
    stage(reader, "frame")
    b0, b1 = await reader.readexactly(2)
    if b0 & 0x70:
        raise ProtocolError("RSV bits set without an extension")
    if b1 & 0x80:
        raise ProtocolError("a masked server frame")
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    payload = await reader.readexactly(n)
    op = b0 & 0x0F
    if op == 1:
        try:
            json.loads(payload)
        except ValueError as e:
            raise ProtocolError(f"a text message that is not JSON: {e}") from None
    elif op not in (2, 8, 9, 10):
        raise ProtocolError(f"opcode {op}")
    return op, payload


class Churn:
    def __init__(self, port, streams, rate, deadline):
        self.port, self.streams, self.rate, self.deadline = port, streams, rate, deadline
        self.kinds = ["hello", "resume", "reset", "garbage", "badhttp", "slowhead"]
        self.done = {k: 0 for k in self.kinds}
        self.failed = {k: 0 for k in self.kinds}
        self.late = {k: 0 for k in self.kinds}  # see one()
        self.first_failure = {}
        self.latest = {}  # stream -> (epoch, seq) seen by a hello
        self.started = 0  # due, by the rate
        self.opened = 0  # started, of those (the rest found the in-flight cap)
        self.t0 = time.monotonic()  # the times reported count from here (the soak sets it)
        self.failures = []  # the first few, each with its times and stage
        self.max_lag, self.lags = 0.0, []  # the event loop's lateness (s), and when >= 1 s
        self.recent_lags = []  # (when, lag s) of lags >= 0.5 s, the last 1000

    def fail(self, kind, why, info):
        self.failed[kind] += 1
        self.first_failure.setdefault(kind, why)
        if len(self.failures) < 200:
            now = time.monotonic()
            self.failures.append({
                "t": round(info["t"] - self.t0, 2), "kind": kind, "stage": info["stage"],
                "connect_s": round(info["connected"] - info["t"], 3) if "connected" in info
                else None,
                "after_connect_s": round(now - info["connected"], 3) if "connected" in info
                else None,
                "head_sent_s": round(info["wrote"] - info["t"], 3) if "wrote" in info else None,
                "client_lag_s": round(max([lag for t, lag in self.recent_lags
                                           if t >= info["t"]], default=0), 2),
                "port": info.get("port"), "error": why})

    async def one(self, kind):
        stream = random.choice(self.streams)
        writer = None
        info = {"t": time.monotonic(), "stage": "connect"}
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.port), 10)
            info["connected"] = time.monotonic()
            info["port"] = (writer.get_extra_info("sockname") or (None, None))[1]
            reader.soak_info = info
            await asyncio.wait_for(getattr(self, kind)(reader, writer, stream), 15)
            self.done[kind] += 1
        except ProtocolError as e:
            self.fail(kind, f"protocol: {e}", info)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
            if kind in ("reset", "slowhead"):
                self.done[kind] += 1  # what they do ends the connection anyway
            elif (info["stage"] == "head" and info["wrote"] - info["t"] >= HANDSHAKE_S and
                  isinstance(e, (asyncio.IncompleteReadError, ConnectionResetError))):
                # This process was too late itself: the kernel completes the
                # connect at once and the server's handshake clock starts then,
                # but this (single-threaded, perhaps starved) event loop sent
                # the head 10 s or more after beginning the connect. The server
                # closing it is its --handshake-timeout, as documented; the head
                # of a connection that is not late here reached the server in
                # time, and its failure stays a failure.
                self.late[kind] += 1
            else:
                self.fail(kind, f"{type(e).__name__}: {e}", info)
        finally:
            if writer:
                writer.transport.abort() if kind == "reset" else writer.close()

    async def close_cleanly(self, reader, writer):
        writer.write(frame(8, struct.pack("!H", 1000)))
        while True:
            op, payload = await read_frame(reader)
            if op == 8:
                return

    async def hello(self, reader, writer, stream):
        writer.write(upgrade_request(self.port, f"/ws/{stream}"))
        if await read_head(reader) != 101:
            raise ProtocolError("no 101")
        while True:
            op, payload = await read_frame(reader)
            if op == 1:
                m = json.loads(payload)
                if m["type"] == "result":
                    self.latest[stream] = (m["epoch"], m["seq"])
                    break
        await self.close_cleanly(reader, writer)

    async def resume(self, reader, writer, stream):
        if stream not in self.latest:
            return await self.hello(reader, writer, stream)
        epoch, seq = self.latest[stream]
        since = max(0, seq - 5)
        writer.write(upgrade_request(self.port, f"/ws/{stream}?since={since}&epoch={epoch}"))
        if await read_head(reader) != 101:
            raise ProtocolError("no 101")
        while True:
            op, payload = await read_frame(reader)
            if op != 1:
                continue
            m = json.loads(payload)
            if m["type"] == "reset":
                break
            if m["type"] == "result":
                if m["seq"] != since + 1 and m["epoch"] == epoch:
                    raise ProtocolError(f"resumed after {since} at {m['seq']}")
                break
        await self.close_cleanly(reader, writer)

    async def reset(self, reader, writer, stream):
        writer.write(upgrade_request(self.port, f"/ws/{stream}"))
        await read_head(reader)
        await reader.read(random.randint(1, 64))  # part of a frame, perhaps

    async def garbage(self, reader, writer, stream):
        writer.write(upgrade_request(self.port, f"/ws/{stream}"))
        if await read_head(reader) != 101:
            raise ProtocolError("no 101")
        writer.write(frame(9, b"soak"))
        writer.write(frame(1, b"unmasked", mask=False))
        pong = False
        while True:
            op, payload = await read_frame(reader)
            if op == 10 and payload == b"soak":
                pong = True
            if op == 8:
                code = struct.unpack("!H", payload[:2])[0]
                if not pong or code != 1002:
                    raise ProtocolError(f"pong {pong}, close {code} (expected the pong and 1002)")
                return

    async def badhttp(self, reader, writer, stream):
        writer.write(b"\x16\x03\x01 not http at all\r\n\r\n")
        if await read_head(reader) != 400:
            raise ProtocolError("expected 400")

    async def slowhead(self, reader, writer, stream):
        writer.write(f"GET /ws/{stream} HTTP/1.1\r\nHost: x\r\nUpgr".encode())
        await asyncio.sleep(random.uniform(0, 0.5))

    async def watch_lag(self):
        """How late this process's own event loop runs: a stalled client
        (a loaded machine) opens connections and then sends nothing for
        seconds, which the server's handshake timeout rightly ends."""
        while True:
            t = time.monotonic()
            await asyncio.sleep(0.1)
            lag = time.monotonic() - t - 0.1
            self.max_lag = max(self.max_lag, lag)
            if lag >= 0.5:
                self.recent_lags = self.recent_lags[-999:] + [(t, lag)]
            if lag >= 1 and len(self.lags) < 200:
                self.lags.append((round(t - self.t0, 1), round(lag, 2)))

    async def run(self):
        tasks = set()
        start = time.monotonic()
        lag = asyncio.create_task(self.watch_lag())
        while time.monotonic() < self.deadline:
            due = start + self.started / self.rate
            now = time.monotonic()
            if due > now:
                await asyncio.sleep(due - now)
            if len(tasks) < 400:  # at most this many in flight
                t = asyncio.create_task(self.one(random.choice(self.kinds)))
                self.opened += 1
                tasks.add(t)
                t.add_done_callback(tasks.discard)
            self.started += 1
        if tasks:
            await asyncio.wait(tasks, timeout=20)
        lag.cancel()
        return time.monotonic() - start


async def previews(port, streams, deadline, counts):
    async def one(stream):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(upgrade_request(port, f"/ws/{stream}?preview=1"))
        await read_head(reader)
        while time.monotonic() < deadline:
            op, payload = await read_frame(reader)
            if op == 9:  # keepalive: answer, or be closed as dead
                writer.write(frame(10, payload))
            if op == 2:
                if payload[:4] != b"FCP1":
                    raise ProtocolError("a preview without its magic")
                counts[stream] = counts.get(stream, 0) + 1
        writer.close()
    await asyncio.gather(*(one(s) for s in streams))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("build")
    ap.add_argument("--duration", type=float, default=600)
    ap.add_argument("--streams", type=int, default=8)
    ap.add_argument("--clients", type=int, default=2000)
    ap.add_argument("--stalled-pct", type=float, default=2)
    ap.add_argument("--churn", type=float, default=500, help="new short connections per second")
    ap.add_argument("--size", default="320x240")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--server-log", metavar="FILE", help="write the server's stderr here")
    a = ap.parse_args()
    if a.duration < 20 or a.streams < 1 or a.clients < a.streams or a.churn <= 0:
        ap.error("--duration >= 20, --streams >= 1, --clients >= --streams, --churn > 0")
    streams = [f"s{i}" for i in range(a.streams)]
    args = [f"{a.build}/framecast", "--listen", "127.0.0.1:0", "--predictor", "motion"]
    for s in streams:
        args += ["--stream", f"{s}=synthetic:size={a.size},fps=30,objects=3"]
    server = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = []
    threading.Thread(target=lambda: log.extend(server.stderr), daemon=True).start()
    port = None
    t_end = time.monotonic() + 20
    while port is None and time.monotonic() < t_end:
        m = re.search(r"listening on http://[^ ]*:(\d+)/", server.stdout.readline())
        port = int(m.group(1)) if m else None
    if port is None:
        server.kill()
        sys.exit("framecast did not start: " + "".join(log))
    threading.Thread(target=lambda: [None for _ in server.stdout], daemon=True).start()

    report = {"duration_s": a.duration, "streams": a.streams, "clients": a.clients,
              "churn_per_s": a.churn, "samples": []}
    checks = []
    per = a.clients // a.streams
    stalled = round(per * a.stalled_pct / 100)
    warmup = min(30.0, a.duration / 6)
    t0 = time.monotonic()
    benches = [subprocess.Popen([f"{a.build}/framecast-bench", "--url",
                                 f"ws://127.0.0.1:{port}/ws/{s}", "--clients", str(per),
                                 "--stalled", str(stalled), "--connect-rate", "1000",
                                 "--warmup", str(warmup), "--duration",
                                 str(a.duration - warmup - 5), "--json"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for s in streams]

    samples = report["samples"]
    stop_sampling = threading.Event()

    def sampler():
        while not stop_sampling.is_set():
            try:
                rss, fds, cpu = proc_sample(server.pid)
            except (OSError, AttributeError):
                return
            samples.append({"t": round(time.monotonic() - t0, 1), "rss_kib": rss, "fds": fds,
                            "cpu_s": cpu, "listen_overflows": listen_overflows()})
            stop_sampling.wait(TICK)
    threading.Thread(target=sampler, daemon=True).start()

    # Wait until the stable clients are connected: the descriptor baseline.
    deadline = time.monotonic() + 60
    base_fds = None
    while time.monotonic() < deadline:
        _, fds, _ = proc_sample(server.pid)
        if fds >= a.streams * per:
            time.sleep(1)
            base_fds = proc_sample(server.pid)[1]
            break
        time.sleep(0.2)
    checks.append(("stable clients connected", base_fds is not None,
                   f"{base_fds} descriptors with them" if base_fds else "timed out"))

    churn_end = t0 + a.duration - 10  # the last 10 s: churn over, descriptors settle
    churn = Churn(port, streams, a.churn, churn_end)
    churn.t0 = t0  # failure and lag times count from the start, as the samples do
    counts = {}

    async def load():
        pv = asyncio.create_task(previews(port, streams, churn_end, counts))
        took = await churn.run()
        try:
            await asyncio.wait_for(pv, 15)
        except (asyncio.TimeoutError, ProtocolError, OSError,
                asyncio.IncompleteReadError) as e:
            checks.append(("preview clients", False, f"{type(e).__name__}: {e}"))
        return took
    took = asyncio.run(load())
    report["churn"] = {"started": churn.started, "per_s": round(churn.started / took, 1),
                       "opened": churn.opened, "opened_per_s": round(churn.opened / took, 1),
                       "late": churn.late,
                       "client_loop_lag_max_s": round(churn.max_lag, 2),
                       "client_loop_lags": churn.lags,
                       "done": churn.done, "failed": churn.failed,
                       "first_failure": churn.first_failure, "failures": churn.failures}
    report["previews"] = counts

    # Descriptors back to the baseline once the churn is over.
    after = None
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        after = proc_sample(server.pid)[1]
        if base_fds is not None and after <= base_fds:
            break
        time.sleep(0.5)
    report["fds_baseline"], report["fds_after_churn"] = base_fds, after

    bench = []
    for b in benches:
        out, err = b.communicate(timeout=120)
        lines = out.strip().splitlines()
        bench.append(json.loads(lines[-1]) if b.returncode == 0 and lines else
                     {"error": (out + err)[-400:]})
    report["bench"] = bench
    stop_sampling.set()

    metrics = ""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            while chunk := s.recv(65536):
                metrics += chunk.decode()
    except OSError:
        pass
    server.send_signal(signal.SIGTERM)
    try:
        code = server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        code = "hung"
    report["exit"] = code

    # --- Checks ---------------------------------------------------------------
    well = ("hello", "resume", "garbage", "badhttp")
    # The rate that counts is the one opened: a start skipped at the cap never
    # reached the server. This client is Python: on 2 cores shared with the
    # server and the benches it opens about 100 a second.
    checks.append(("churn rate", churn.opened / took >= 0.9 * a.churn,
                   f"{churn.opened / took:.0f}/s opened (asked {a.churn:.0f}/s); "
                   f"{churn.started / took:.0f}/s due, the rest skipped at the cap of 400 "
                   "in flight"))
    checks.append(("checked churn connections all as expected",
                   all(churn.failed[k] == 0 for k in well),
                   json.dumps({k: (churn.done[k], churn.failed[k]) for k in well}) +
                   (f"; too late here, not counted: {json.dumps({k: churn.late[k] for k in well})}"
                    if any(churn.late[k] for k in well) else "") +
                   (f"; first failures: {churn.first_failure}" if churn.first_failure else "")))
    checks.append(("previews flowing", len(counts) == a.streams and min(counts.values()) > 0,
                   json.dumps(counts)))
    ok_bench = all("error" not in x for x in bench)
    checks.append(("bench runs completed", ok_bench,
                   "" if ok_bench else json.dumps([x.get("error") for x in bench])))
    if ok_bench:
        gaps = sum(x["gaps"] for x in bench)
        perr = sum(x["protocol_errors"] for x in bench)
        fast_closed = sum(x["closed_by_server"] - x["closed_stalled"] for x in bench)
        checks.append(("fast clients: no seq gap", gaps == 0, f"{gaps} gaps"))
        checks.append(("fast clients: no protocol error", perr == 0, f"{perr}"))
        checks.append(("fast clients: none closed by the server", fast_closed == 0,
                       f"{fast_closed}"))
        report["deliveries_per_s"] = sum(x["deliveries_per_s"] for x in bench)
    if base_fds is not None:
        checks.append(("descriptors back to the baseline after the churn", after <= base_fds,
                       f"{after} after, {base_fds} before"))
    steady = [x for x in samples if warmup + 5 <= x["t"] <= a.duration - 10]
    if len(steady) >= 3:
        first, mid, last = steady[0], steady[len(steady) // 2], steady[-1]
        report["rss_mib"] = {"start": first["rss_kib"] / 1024, "middle": mid["rss_kib"] / 1024,
                             "end": last["rss_kib"] / 1024}
        growth = (last["rss_kib"] - first["rss_kib"]) / first["rss_kib"]
        checks.append(("RSS flat after warm-up (within 10 %)", growth <= 0.10,
                       f"{first['rss_kib'] / 1024:.1f} -> {mid['rss_kib'] / 1024:.1f} -> "
                       f"{last['rss_kib'] / 1024:.1f} MiB ({growth * 100:+.1f} %)"))
    checks.append(("server exits 0 on SIGTERM", code == 0, f"exit {code}"))
    # What the server said was wrong, line kinds with their counts (numbers
    # left out, so repeats of one kind count together).
    kinds = {}
    for ln in log:
        if ": warning: " in ln or ": error: " in ln:
            k = re.sub(r"\d+", "N", ln.strip())
            kinds[k] = kinds.get(k, 0) + 1
    report["server_warnings"] = kinds
    if a.server_log:
        with open(a.server_log, "w") as f:
            f.writelines(log)
    sanitizer = [ln for ln in log if "Sanitizer" in ln or "runtime error" in ln]
    checks.append(("no sanitizer report", not sanitizer, "".join(sanitizer[:3])))
    report["metrics_closed"] = re.findall(r"framecast_clients_closed_total\{[^}]*\} \d+", metrics)
    report["checks"] = [{"check": c, "ok": ok, "detail": d} for c, ok, d in checks]

    print(f"soak: {a.duration:.0f} s, {a.streams} streams x 30 fps (motion, previews), "
          f"{a.clients} stable clients ({stalled * a.streams} stalled), churn "
          f"{churn.started / took:.0f} connections/s due ({churn.started} in all), "
          f"{churn.opened / took:.0f}/s opened ({churn.opened})")
    print(f"{'t s':>6} {'RSS MiB':>8} {'fds':>6} {'CPU %':>6} {'accept q full':>13}")
    for prev, cur in zip(samples, samples[1:]):
        cpu = (cur["cpu_s"] - prev["cpu_s"]) / (cur["t"] - prev["t"]) * 100
        lo = (cur["listen_overflows"] - prev["listen_overflows"]
              if cur["listen_overflows"] is not None and prev["listen_overflows"] is not None
              else "")
        print(f"{cur['t']:6.0f} {cur['rss_kib'] / 1024:8.1f} {cur['fds']:6d} {cpu:6.0f} {lo:>13}")
    for c, ok, d in checks:
        print(f"{'ok  ' if ok else 'FAIL'} {c}: {d}")
    for k, n in sorted(kinds.items(), key=lambda x: -x[1])[:10]:
        print(f"server said {n}x: {k}")
    if any(churn.late.values()):
        print("checked churn connections this process was too late for (head sent "
              f">= {HANDSHAKE_S:.0f} s after beginning the connect: the server's handshake "
              f"timeout; not counted as failures): {json.dumps(churn.late)}")
    print(f"soak client's own event loop: at most {churn.max_lag:.2f} s late" +
          (f"; late by 1 s or more at (t s, lag s): {churn.lags[:15]}"
           if churn.lags else ""))
    if churn.failures:  # when (s from the start), where, and how long after the connect
        by = {}
        for f in churn.failures:
            by[(f["kind"], f["stage"])] = by.get((f["kind"], f["stage"]), 0) + 1
        print("churn failures by kind/stage (first 200): " +
              ", ".join(f"{k}/{st} {n}" for (k, st), n in sorted(by.items())))
        for f in churn.failures[:20]:
            print(f"  t {f['t']:7.2f} s  {f['kind']:8} {f['stage']:7} connect "
                  f"{f['connect_s']} s, head sent at {f['head_sent_s']} s, failed "
                  f"{f['after_connect_s']} s after the connect, client lag up to "
                  f"{f['client_lag_s']} s, port {f['port']}: {f['error']}")
    if a.json:
        print(json.dumps(report))
    sys.exit(0 if all(ok for _, ok, _ in checks) else 1)


if __name__ == "__main__":
    main()
