#!/usr/bin/python3
"""Smoke check for a benchmark server (framecast or a peer in bench/peers/):
connects a few clients, receives for a while, and checks each message has
framecast's shape, that seq grows by 1, and reports size, rate and latency
(receipt minus publish_us). Not a load generator: that is framecast-bench.

usage: /usr/bin/python3 bench/check_peer.py ws://127.0.0.1:PORT/ws/demo [--clients N] [--seconds S]
Exit status 0 if every check passed.
"""

import argparse
import asyncio
import json
import sys
import time

import websockets

KEYS = ["type", "stream", "seq", "capture_us", "publish_us", "frame", "model", "infer_us",
        "detections"]


async def client(url, seconds, out):
    lat, sizes, seqs, errors = [], [], [], []
    ws = await websockets.connect(url, compression=None, max_size=None)
    try:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                m = await asyncio.wait_for(ws.recv(), left)
            except asyncio.TimeoutError:
                break
            now = time.time_ns() // 1000
            if not isinstance(m, str):
                errors.append("binary frame")
                continue
            d = json.loads(m)
            if list(d) != KEYS or d["type"] != "result" or d["stream"] != "demo":
                errors.append(f"shape: {list(d)}")
            if list(d["frame"]) != ["index", "width", "height", "pts_us"]:
                errors.append(f"frame shape: {list(d['frame'])}")
            lat.append(now - d["publish_us"])
            sizes.append(len(m.encode()))
            seqs.append(d["seq"])
    finally:
        ws.transport.abort()  # no closing handshake behind a backlog of messages
    out.append((lat, sizes, seqs, errors))


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("url")
    p.add_argument("--clients", type=int, default=3)
    p.add_argument("--seconds", type=float, default=3.0)
    a = p.parse_args()
    out = []
    await asyncio.wait_for(asyncio.gather(*(client(a.url, a.seconds, out) for _ in range(a.clients))),
                           a.seconds + 15)
    ok = True
    for i, (lat, sizes, seqs, errors) in enumerate(out):
        gaps = sum(1 for x, y in zip(seqs, seqs[1:]) if y != x + 1)
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else None
        print(f"client {i}: {len(seqs)} msgs ({len(seqs) / a.seconds:.1f}/s), "
              f"size {min(sizes, default=0)}..{max(sizes, default=0)} B, seq {seqs[:1]}..{seqs[-1:]}, "
              f"gaps {gaps}, latency p50 {lat[len(lat) // 2] if lat else None} us p99 {p99} us, "
              f"errors {errors[:3]}")
        ok = ok and bool(seqs) and not errors and gaps == 0
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
