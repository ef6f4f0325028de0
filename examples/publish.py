#!/usr/bin/env python3
"""A producer for a framecast push stream: results that do not come from
video (a model running elsewhere, a script, a sensor) broadcast through
framecast to its WebSocket clients, with seq, epoch and publish_us added by
the server, history and resume included.

    framecast --stream sensors=push &
    python3 examples/publish.py --url http://127.0.0.1:8080 --stream sensors --count 10

Each result is a JSON object without the keys the server sets (type,
stream, epoch, seq, publish_us). Several at once go as NDJSON, one object a
line, in one request. When the stream's clients are behind, the server
answers 429 with Retry-After: the producer waits and sends the rest again.
Standard library only."""

import argparse
import json
import random
import sys
import time
import urllib.error
import urllib.request


def publish(url, stream, objects, token=None):
    """POSTs objects (a list of dicts) as NDJSON; returns the server's answer.
    Retries what was not published after a 429."""
    while objects:
        body = "".join(json.dumps(o) + "\n" for o in objects).encode()
        req = urllib.request.Request(f"{url}/api/streams/{stream}/publish", data=body,
                                     headers={"Content-Type": "application/x-ndjson"})
        if token:
            req.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return json.load(r)
        except urllib.error.HTTPError as e:
            answer = json.load(e)
            if e.code != 429:
                raise SystemExit(f"publish: HTTP {e.code}: {answer.get('error')}")
            objects = objects[answer.get("published", 0):]
            time.sleep(float(e.headers.get("Retry-After", "1")))
    return {"published": 0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8080", help="the server (http://HOST:PORT)")
    ap.add_argument("--stream", default="sensors", help="a push stream (--stream NAME=push)")
    ap.add_argument("--count", type=int, default=10, help="results to publish")
    ap.add_argument("--interval", type=float, default=0.1, help="seconds between results")
    ap.add_argument("--token", help="a token with the publish claim, when auth is on")
    a = ap.parse_args()
    rng = random.Random(1)
    for i in range(a.count):
        reading = {"sensor": "hall", "temperature_c": round(20 + rng.random() * 2, 2), "n": i}
        answer = publish(a.url, a.stream, [reading], a.token)
        print(json.dumps(answer), flush=True)
        if i + 1 < a.count:
            time.sleep(a.interval)
    return 0


if __name__ == "__main__":
    sys.exit(main())
