#!/usr/bin/env python3
"""A chime pull worker in plain Python (standard library only): no chime code needed.

It claims runs of one function, handles each payload (here: the payload's words counted,
as a JSON result), heartbeats while it works, and completes or fails each run. Run it as

    python3 examples/python-worker.py --server http://127.0.0.1:8400 --function wordcount

The protocol is four HTTP calls (docs/workers.md): claim, heartbeat, complete, fail. A 409
on any of the last three means the attempt is no longer ours (its lease ran out or it was
killed): drop it, never retry it.
"""
import argparse
import json
import os
import socket
import sys
import time
import urllib.error
import urllib.request


class Gone(Exception):
    """The worker no longer holds the attempt (409)."""


def call(servers, path, body, timeout):
    """POST JSON to the first server that answers; a 503 or a refused connection moves on."""
    last = None
    for server in servers:
        request = urllib.request.Request(server + path, data=json.dumps(body).encode(), method="POST",
                                         headers={"content-type": "application/json"})
        token = os.environ.get("CHIME_TOKEN")
        if token:
            request.add_header("authorization", "Bearer " + token)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            if error.code == 409:
                raise Gone(error.read().decode(errors="replace"))
            if error.code not in (429, 503):
                raise
            last = error
        except (urllib.error.URLError, ConnectionError, socket.timeout) as error:
            last = error
    raise ConnectionError("no server answered: %s" % last)


def handle(payload, beat):
    """The work itself: count the words of the payload (beats once half way)."""
    words = payload.split()
    beat({"done": len(words) // 2, "total": len(words)}, "counted half\n")
    return json.dumps({"words": len(words)})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default=os.environ.get("CHIME_SERVER", "http://127.0.0.1:8400"))
    parser.add_argument("--function", required=True)
    parser.add_argument("--id", default="%s-py-%d" % (socket.gethostname().lower(), os.getpid()))
    parser.add_argument("--wait-ms", type=int, default=20000)
    parser.add_argument("--exit-after", type=int, default=0, help="stop after this many runs (0: never)")
    args = parser.parse_args()
    servers = [s.strip().rstrip("/") for s in args.server.split(",") if s.strip()]
    handled = 0
    while args.exit_after == 0 or handled < args.exit_after:
        try:
            claimed = call(servers, "/v1/workers/claim",
                           {"worker": args.id, "functions": [args.function], "max": 1, "waitMs": args.wait_ms},
                           timeout=args.wait_ms / 1000 + 15)
        except (ConnectionError, urllib.error.HTTPError) as error:
            print("claim failed: %s" % error, file=sys.stderr)
            time.sleep(0.5)
            continue
        for item in claimed["items"]:
            handled += 1
            held = {"worker": args.id, "attempt": item["attempt"]}
            path = "/v1/runs/%s/" % item["runId"]

            def beat(progress, output):
                call(servers, path + "heartbeat", dict(held, progress=progress, output=output), timeout=10)

            try:
                result = handle(item["payload"], beat)
                call(servers, path + "complete", dict(held, result=result), timeout=10)
            except Gone:
                print("run %s attempt %d is no longer ours" % (item["runId"], item["attempt"]), file=sys.stderr)
            except Exception as error:  # the work failed: let the job's retry policy decide
                try:
                    call(servers, path + "fail", dict(held, error=str(error)[:4000], retry=True), timeout=10)
                except Gone:
                    pass


if __name__ == "__main__":
    main()
