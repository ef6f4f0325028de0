#!/usr/bin/python3
"""Benchmark peer: python-websockets 10.4 with `await asyncio.wait([ws.send(m) ...])`.

The pattern the library's broadcast guide quotes as one that "doesn't really
work in practice": each message waits until every client's send() returned,
so one slow client holds back everyone (until keepalive closes it).

Python 3.11 no longer accepts bare coroutines in asyncio.wait(), so each
send() is wrapped in a task, which is what asyncio.wait() did itself before.

usage: /usr/bin/python3 bench/peers/py_wait.py [--port P] [--rate R] [--size BYTES]
"""

import asyncio
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pypeer  # noqa: E402


async def fanout(clients, message):
    # Snapshot: clients may leave while the sends are in flight.
    # Exceptions (closed connections) stay in the finished tasks, unraised,
    # like the pattern in the guide; retrieve them so asyncio does not warn.
    done, _ = await asyncio.wait([asyncio.create_task(ws.send(message)) for ws in list(clients)])
    for t in done:
        t.exception()


if __name__ == "__main__":
    pypeer.run(__doc__.splitlines()[0], fanout)
