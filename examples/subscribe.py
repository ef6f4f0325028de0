#!/usr/bin/python3
"""Subscribes to a framecast stream and prints its results, one line each;
reconnects when the connection drops, resumes where it left off, and says
which results were lost.

    python3 examples/subscribe.py ws://127.0.0.1:8080/ws/demo
    python3 examples/subscribe.py --json ws://127.0.0.1:8080/ws/demo | jq .detections

A reconnection asks for what it missed (`?since=SEQ&epoch=E`, from the last
result received): the server sends exactly those results, or a reset saying
what is lost (docs/protocol.md, "Resuming"). Results that will never come
are reported on stderr as a gap, `gap: results 120 to 160 lost`, and
counted; so is a server restart, after which `seq` starts over. Connection
changes and the stream's status go to stderr too, so stdout holds results
only. Needs python-websockets (Debian's python3-websockets).
"""

import argparse
import asyncio
import inspect
import json
import random
import sys
import urllib.parse

import websockets

BACKOFF_MIN = 0.5  # seconds; doubles up to BACKOFF_MAX, with +-20 % jitter
BACKOFF_MAX = 5.0


def note(text):
    print(f"subscribe: {text}", file=sys.stderr, flush=True)


class Subscription:
    """What the client knows of the stream: where to resume, what was lost."""

    def __init__(self, url, last=True):
        self.url = url
        self.last = last
        self.last_seq = None
        self.epoch = None
        self.results = 0
        self.lost = 0

    def connect_url(self):
        """The stream's URL with since/epoch once there is a result to resume from."""
        parts = urllib.parse.urlsplit(self.url)
        query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k not in ("since", "epoch", "last")]
        if self.last_seq is not None and self.epoch:
            query += [("since", str(self.last_seq)), ("epoch", self.epoch)]
        elif self.last:
            query.append(("last", "1"))
        return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))

    def gap(self, first, last):
        self.lost += last - first + 1
        note(f"gap: results {first} to {last} lost ({self.lost} lost in all)")

    def on_message(self, msg):
        """Handles one parsed message; returns it when it is a result to print."""
        kind = msg.get("type")
        if kind == "status":
            why = f": {msg['error']}" if msg.get("error") else ""
            model = msg.get("predictor_state", "ok")
            note(f"stream {msg.get('stream')} {msg.get('state')}{why}"
                 + ("" if model == "ok" else f" (model {model}: {msg.get('predictor_error', '')})"))
        elif kind == "reset":
            oldest = msg.get("oldest_seq")
            if msg.get("reason") in ("expired", "overrun"):
                if self.last_seq is not None and oldest > self.last_seq + 1:
                    self.gap(self.last_seq + 1, oldest - 1)
                self.last_seq = oldest - 1
            else:
                # epoch: the server restarted (or no epoch was known); future:
                # our seq is beyond its newest. Either way seq starts over.
                note(f"reset ({msg.get('reason')}): the server's results are numbered anew "
                     f"(epoch {msg.get('epoch')}); what came after seq {self.last_seq} of the old "
                     "numbering is unknown")
                self.last_seq = None
            self.epoch = msg.get("epoch")
        elif kind == "result":
            seq = msg["seq"]
            if self.last_seq is not None and msg.get("epoch") == self.epoch:
                if seq > self.last_seq + 1:
                    self.gap(self.last_seq + 1, seq - 1)
                elif seq <= self.last_seq:
                    note(f"seq {seq} again (after {self.last_seq}): skipped")
                    return None
            self.last_seq = seq
            self.epoch = msg.get("epoch")
            self.results += 1
            return msg
        return None


def describe(msg):
    """One line for a result: seq, frame, and its detections."""
    dets = ", ".join(f"{d['label']} {d['score']:.2f} [{', '.join(f'{v:g}' for v in d['box'])}]"
                     for d in msg.get("detections", []))
    frame = msg.get("frame", {})
    line = f"seq {msg['seq']} frame {frame.get('index', '-')}: {len(msg.get('detections', []))} detections"
    if dets:
        line += f": {dets}"
    if msg.get("error"):
        line += f" (error: {msg['error']})"
    return line


def connect_args(token):
    """Authorization header, under the name this python-websockets takes."""
    if not token:
        return {}
    headers = {"Authorization": f"Bearer {token}"}
    params = inspect.signature(websockets.connect).parameters
    return {"additional_headers" if "additional_headers" in params else "extra_headers": headers}


async def run(sub, as_json, count, token):
    backoff = BACKOFF_MIN
    while True:
        url = sub.connect_url()
        try:
            async with websockets.connect(url, open_timeout=10, max_size=None, **connect_args(token)) as ws:
                note(f"connected to {url}")
                backoff = BACKOFF_MIN
                async for raw in ws:
                    if not isinstance(raw, str):
                        continue  # a preview frame (?preview=1): not printed here
                    msg = sub.on_message(json.loads(raw))
                    if msg is None:
                        continue
                    print(raw if as_json else describe(msg), flush=True)
                    if count and sub.results >= count:
                        return 0
                why = f"closed ({ws.close_code} {ws.close_reason})".rstrip()
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as e:
            why = str(e) or type(e).__name__
            status = getattr(e, "status_code", None) or getattr(getattr(e, "response", None), "status_code", None)
            if status in (401, 403, 404):  # a wrong token or stream name: retrying will not help
                note(f"{url}: refused with HTTP {status}: not retrying")
                return 2
        delay = backoff * random.uniform(0.8, 1.2)
        backoff = min(backoff * 2, BACKOFF_MAX)
        note(f"connection lost ({why}); reconnecting in {delay:.1f} s")
        await asyncio.sleep(delay)


def main():
    ap = argparse.ArgumentParser(description="Prints a framecast stream's results; reconnects and reports gaps.")
    ap.add_argument("url", help="the stream: ws://HOST:PORT/ws/NAME (wss:// with TLS)")
    ap.add_argument("--json", action="store_true", help="print each result's JSON as it came")
    ap.add_argument("--count", type=int, default=0, help="exit after this many results (0: never)")
    ap.add_argument("--token", help="a JSON Web Token, sent as Authorization: Bearer")
    ap.add_argument("--no-last", action="store_true", help="do not ask for the newest result at once")
    args = ap.parse_args()
    sub = Subscription(args.url, last=not args.no_last)
    try:
        return asyncio.run(run(sub, args.json, args.count, args.token))
    except KeyboardInterrupt:
        return 0
    finally:
        note(f"{sub.results} results, {sub.lost} lost")


if __name__ == "__main__":
    sys.exit(main())
