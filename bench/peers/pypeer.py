"""Shared part of the python-websockets benchmark peers (py_broadcast.py,
py_wait.py): CLI, the message framecast publishes, pacing, the server.

Each peer publishes the same JSON framecast publishes with
`--predictor fake:count=N` on a 64x64 synthetic source (see src/predict/fake.c)
at ws://127.0.0.1:PORT/ws/demo. Only the fan-out differs between peers; it is
passed in as `fanout(clients, message)`, a coroutine function.

Written for Debian's python3-websockets 10.4 (legacy asyncio API:
websockets.serve, websockets.broadcast); run with /usr/bin/python3.
"""

import argparse
import asyncio
import http
import os
import signal
import sys
import time

import websockets

PATH = "/ws/demo"
WIDTH = HEIGHT = 64  # the synthetic source size run_all.sh gives framecast


def parse_args(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks one)")
    p.add_argument("--rate", type=float, default=30.0,
                   help="messages per second (0 = as fast as possible)")
    p.add_argument("--size", type=int, default=300, help="approximate message size in bytes")
    p.add_argument("--compression", choices=("none", "deflate"), default="none",
                   help="permessage-deflate for clients that offer it (deflate: the "
                        "library's default, compressing each message for each client)")
    a = p.parse_args()
    if a.rate < 0 or a.size < 0 or not 0 <= a.port <= 65535:
        p.error("--rate, --size and --port must be >= 0 (port <= 65535)")
    return a


def _detection(k):
    # Same fields and formatting as framecast's fake predictor.
    return '{"label":"object","score":%.2f,"box":[%d,%d,%d,%d]}' % (
        0.5 + (k % 50) / 100.0, k * WIDTH // 97, k * HEIGHT // 97, WIDTH // 8, HEIGHT // 8)


_DET = [_detection(k) for k in range(97)]


def _message(seq, now_us, count):
    index = seq - 1
    dets = ",".join(_DET[(index + i) % 97] for i in range(count))
    return ('{"type":"result","stream":"demo","seq":%d,"capture_us":%d,"publish_us":%d,'
            '"frame":{"index":%d,"width":%d,"height":%d,"pts_us":%d},"model":"fake",'
            '"infer_us":0,"detections":[%s]}' % (seq, now_us, now_us, index, WIDTH, HEIGHT,
                                                  index * 33333, dets))


def detections_for_size(size):
    """The detection count whose message is closest to size bytes (at seq ~1e5)."""
    best, best_err = 0, None
    for n in range(0, 4096):
        err = abs(len(_message(100000, 1_700_000_000_000_000, n)) - size)
        if best_err is not None and err > best_err:
            break
        best, best_err = n, err
    return best


async def _publish(args, clients, fanout, stats):
    count = detections_for_size(args.size)
    period = 1.0 / args.rate if args.rate > 0 else 0.0
    start = time.monotonic()
    seq = 0
    skipped = 0
    while True:
        seq += 1
        if period:
            # Paced against the start (no drift). More than a second behind
            # (the fan-out blocked), the missed slots are skipped, the way
            # framecast's latest-frame slot drops frames nobody took.
            due = start + (seq - 1 + skipped) * period
            now = time.monotonic()
            if now - due > 1.0:
                missed = int((now - due) / period)
                skipped += missed
                due += missed * period
            await asyncio.sleep(due - now)  # <= 0 still yields once
        # Stamp publish_us right before the fan-out: latency includes it.
        stats["seq"], stats["skipped"] = seq, skipped
        msg = _message(seq, time.time_ns() // 1000, count)
        if clients:
            await fanout(clients, msg)
        if not period:
            # The docs' rule: a broadcasting loop must yield to the event loop.
            await asyncio.sleep(0)


def run(description, fanout):
    args = parse_args(description)

    async def main():
        clients = set()
        stats = {"seq": 0, "skipped": 0}
        loop = asyncio.get_running_loop()
        stop = loop.create_future()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, lambda: stop.done() or stop.set_result(None))

        async def handler(ws, path=None):
            clients.add(ws)
            try:
                async for _ in ws:  # discard what clients send; keeps pongs flowing
                    pass
            except websockets.ConnectionClosed:
                pass
            finally:
                clients.discard(ws)

        async def process_request(path, headers):
            if path.split("?", 1)[0] != PATH:
                return http.HTTPStatus.NOT_FOUND, [], b"not found\n"
            return None

        # compression=None unless asked for (bench/deflate_bench.py compares
        # compressed fan-out; the other scenarios compare plain fan-out).
        # backlog=1024 as framecast's listen(). Keepalive stays at the
        # library defaults (ping_interval=20, ping_timeout=20).
        compression = None if args.compression == "none" else "deflate"
        async with websockets.serve(handler, "127.0.0.1", args.port, compression=compression,
                                    process_request=process_request, backlog=1024) as server:
            port = server.sockets[0].getsockname()[1]
            print(f"listening on http://127.0.0.1:{port}/", flush=True)
            publisher = asyncio.create_task(_publish(args, clients, fanout, stats))
            await asyncio.wait([publisher, stop], return_when=asyncio.FIRST_COMPLETED)
            if publisher.done():
                publisher.result()  # raises what made it stop
            print(f"published {stats['seq']} messages, skipped {stats['skipped']} slots",
                  file=sys.stderr, flush=True)
            # A benchmark server: exit at once rather than run closing
            # handshakes with clients that may be stalled (the asyncio.wait
            # pattern would be stuck in a send for ever).
            os._exit(0)

    asyncio.run(main())
