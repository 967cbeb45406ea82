"""Event webhook receiver under load: signed batches from concurrent clients on 127.0.0.1.

Starts the receiver (the public app, `milestones serve`) in its own process with a fresh
SQLite ledger, posts EVENTS events (default 20,000) in signed batches of BATCH from
CLIENTS threads, then checks that every batch was accepted and every event stored exactly
once (a resent batch stores nothing), without ``assert`` (which ``python -O`` removes): exit 1
when not. Prints events/s, batch p95 latency and the load average.

    .venv/bin/python benchmarks/webhook.py [--events N] [--batch B] [--clients C]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _webhook_signing import new_key, signed_headers

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()

    private, public = new_key()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = Path(tempfile.mkdtemp(prefix="milestones-webhook-"))
    env = {**os.environ, "MILESTONES_DATA_DIR": str(data), "MILESTONES_WEBHOOK_PUBLIC_KEY": public}
    server = subprocess.Popen([str(Path(sys.executable).with_name("milestones")), "serve", "--port", str(port)],
                              env=env)
    try:
        for _ in range(600):  # a loaded machine may need a minute to start it
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        kinds = ["processed", "delivered", "open", "click", "unsubscribe", "bounce"]
        batches = []
        for b in range(0, args.events, args.batch):
            events = [{"event": kinds[i % len(kinds)], "email": f"c{i}@example.com", "sg_event_id": f"ev{i}",
                       "timestamp": 1790000000 + i, "key": f"k{i}", "customer_id": f"C{i}",
                       "event_type": "birthday"} for i in range(b, min(b + args.batch, args.events))]
            batches.append(json.dumps(events).encode())

        refused: list[str] = []

        def post(body: bytes) -> tuple[float, dict]:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            t = time.perf_counter()
            conn.request("POST", "/webhook/sendgrid", body=body, headers=signed_headers(private, body))
            resp = conn.getresponse()
            result = json.loads(resp.read())
            conn.close()
            if resp.status != 200:
                refused.append(f"HTTP {resp.status}: {result}")
            return time.perf_counter() - t, result

        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(post, batches))
        wall = time.perf_counter() - t0
        stored = sum(r.get("stored", 0) for _, r in results)
        _, again = post(batches[0])  # SendGrid retries a batch: nothing new
        lat = sorted(t for t, _ in results)
        print(f"{args.events:,} events in {len(batches)} signed batches of {args.batch}, {args.clients} clients")
        print(f"stored {stored:,} (lost {args.events - stored}), resent batch stored {again.get('stored', 0)}")
        print(f"{args.events / wall:,.0f} events/s; batch latency median {statistics.median(lat) * 1000:.0f} ms, "
              f"p95 {lat[int(len(lat) * 0.95) - 1] * 1000:.0f} ms")
        wrong = [f"{len(refused)} batches refused, first: {refused[0]}"] if refused else []
        if stored != args.events:
            wrong.append(f"stored {stored:,} of {args.events:,} events")
        if again.get("stored", 0) != 0:
            wrong.append(f"a resent batch stored {again.get('stored')} events again")
        print(f"load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; outputs: "
              + ("right" if not wrong else "WRONG: " + "; ".join(wrong)))
    finally:
        server.terminate()
        server.wait(10)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
