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
  - churn: R new connections a second over the whole run, by
    framecast-churn (bench/churn.c: one libuv loop in C; a Python client
    opened only about 120 a second here), each one of:
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
request head the churn process itself sent 10 s or more after beginning
its connect (its loop starved on a loaded machine) is counted as "too late
here", not as a failure: the server's --handshake-timeout (10 s) may end it
first, as documented. Each failure is listed with its time since the start,
its stage (connect, head, frame), when its head went out and how late the
churn process's loop ran at worst; the table shows the host's accept-queue
overflows (TcpExt ListenOverflows) per sample. --server-log FILE keeps the
server's stderr.
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


async def read_head(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1])


async def read_frame(reader):
    """(opcode, payload) of one server frame; checks what a client must."""
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
    churn_proc = subprocess.Popen([f"{a.build}/framecast-churn", "--url",
                                   f"ws://127.0.0.1:{port}", "--streams", ",".join(streams),
                                   "--rate", str(a.churn),
                                   "--duration", str(churn_end - time.monotonic())],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    counts = {}

    async def load():
        try:
            await previews(port, streams, churn_end, counts)
        except (ProtocolError, OSError, asyncio.IncompleteReadError) as e:
            checks.append(("preview clients", False, f"{type(e).__name__}: {e}"))
    asyncio.run(load())
    out, err = churn_proc.communicate(timeout=60)  # its connections get 25 s at most
    try:
        churn = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        churn = None
        checks.append(("churn ran", False, f"framecast-churn exit {churn_proc.returncode}: "
                       f"{(out + err)[-400:]}"))
    report["churn"] = churn
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
    if churn:
        # The rate that counts is the one opened: a start skipped at the cap
        # never reached the server.
        checks.append(("churn rate", churn["opened_per_s"] >= 0.9 * a.churn,
                       f"{churn['opened_per_s']:.0f}/s opened (asked {a.churn:.0f}/s); "
                       f"{churn['per_s']:.0f}/s due, the rest skipped at the cap of 400 "
                       "in flight"))
        checks.append(("checked churn connections all as expected",
                       all(churn["failed"][k] == 0 for k in well) and not churn["unfinished"],
                       json.dumps({k: (churn["done"][k], churn["failed"][k]) for k in well}) +
                       (f"; {churn['unfinished']} unfinished" if churn["unfinished"] else "") +
                       (f"; too late here, not counted: "
                        f"{json.dumps({k: churn['late'][k] for k in well})}"
                        if any(churn["late"][k] for k in well) else "") +
                       (f"; first failures: {churn['first_failure']}"
                        if churn["first_failure"] else "")))
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
          f"{a.clients} stable clients ({stalled * a.streams} stalled), churn " +
          (f"{churn['per_s']:.0f} connections/s due ({churn['started']} in all), "
           f"{churn['opened_per_s']:.0f}/s opened ({churn['opened']})" if churn else "failed"))
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
    if churn and any(churn["late"].values()):
        print("checked churn connections the churn process was too late for (head sent "
              f">= {HANDSHAKE_S:.0f} s after beginning the connect: the server's handshake "
              f"timeout; not counted as failures): {json.dumps(churn['late'])}")
    if churn:
        print(f"churn process's own event loop: at most {churn['client_loop_lag_max_s']:.2f} s "
              "late" + (f"; late by 1 s or more at (t s, lag s): {churn['client_loop_lags'][:15]}"
                        if churn["client_loop_lags"] else ""))
    if churn and churn["failures"]:  # when (s from the start), where, how long after the connect
        by = {}
        for f in churn["failures"]:
            by[(f["kind"], f["stage"])] = by.get((f["kind"], f["stage"]), 0) + 1
        print("churn failures by kind/stage (first 200): " +
              ", ".join(f"{k}/{st} {n}" for (k, st), n in sorted(by.items())))
        for f in churn["failures"][:20]:
            print(f"  t {f['t']:7.2f} s  {f['kind']:8} {f['stage']:7} connect "
                  f"{f.get('connect_s')} s, head sent at {f.get('head_sent_s')} s, failed "
                  f"{f.get('after_connect_s')} s after the connect, port {f['port']}: "
                  f"{f['error']}")
    if a.json:
        print(json.dumps(report))
    sys.exit(0 if all(ok for _, ok, _ in checks) else 1)


if __name__ == "__main__":
    main()
