#!/usr/bin/python3
"""Benchmark peer: python-websockets 10.4 with the built-in websockets.broadcast().

The library's recommended fan-out: one synchronous pass that writes the frame
into every open connection's transport, no backpressure (slow clients'
data piles up in their write buffers until keepalive closes them).

usage: /usr/bin/python3 bench/peers/py_broadcast.py [--port P] [--rate R] [--size BYTES]
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import websockets  # noqa: E402

import pypeer  # noqa: E402


async def fanout(clients, message):
    websockets.broadcast(clients, message)


if __name__ == "__main__":
    pypeer.run(__doc__.splitlines()[0], fanout)
