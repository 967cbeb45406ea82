"""Delivery throughput against a Mail Send stand-in on 127.0.0.1.

Sends N emails (default 20,000) twice in the same run:
  plain   the official sendgrid library, one request after another (its defaults:
          a new connection per request), no ledger
  ours    milestones' SendGrid transport (kept-alive connections, SEND_CONCURRENCY
          threads) through deliver(), with the SQLite ledger on (register, claim,
          finish per email)
The server (tests/servers/fast_accept.py: uvicorn + httptools, 202 for everything)
runs in its own process and counts requests per key (no loss, no duplicate). Prints emails/s, p95 latency per email, and the ratio. Goal: ours >= 5x plain.

    .venv/bin/python benchmarks/deliver.py [--count N] [--concurrency C]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

SERVER = """
import socket, sys
sys.path.insert(0, {root!r})
import uvicorn
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
print(f"http://127.0.0.1:{{sock.getsockname()[1]}}", flush=True)
uvicorn.Server(uvicorn.Config("tests.servers.fast_accept:app", http="httptools", loop="uvloop",
                              log_level="warning", access_log=False)).run(sockets=[sock])
"""


def message(i: int) -> dict:
    key = f"bench{i:07d}"
    return {"key": key, "customer_id": f"C{i}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"c{i}@example.com", "subject": "Happy birthday, Aino!",
            "html": "<p>Dear Aino,</p>" * 40, "text": "Dear Aino," * 40,
            "unsubscribe_url": f"https://milestones.example/u?k={key}", "template_version": "v1",
            "send_at": 0}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    from sendgrid import SendGridAPIClient

    from milestones.delivery import deliver, sendgrid_payload
    from milestones.ledger import Ledger
    from milestones.logsafe import silence_http_client_debug
    from milestones.sendgrid_transport import SendGridTransport

    silence_http_client_debug()
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT))],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    import socket

    for _ in range(100):  # uvicorn listens once it has started
        try:
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        messages = [message(i) for i in range(args.count)]
        payloads = [sendgrid_payload(m, from_email="hello@milestones.example", from_name="Milestones")
                    for m in messages]

        plain = SendGridAPIClient(api_key="SG.bench", host=url)
        lat = []
        t0 = time.perf_counter()
        for body in payloads:
            t = time.perf_counter()
            plain.client.mail.send.post(request_body=body)
            lat.append(time.perf_counter() - t)
        plain_s = time.perf_counter() - t0
        plain_rate, plain_p95 = args.count / plain_s, p95(lat)

        ours_lat: list[float] = []

        class Timed(SendGridTransport):
            def send(self, m):
                t = time.perf_counter()
                try:
                    return super().send(m)
                finally:
                    ours_lat.append(time.perf_counter() - t)

        with tempfile.TemporaryDirectory() as tmp:
            ledger = Ledger(f"sqlite:///{tmp}/ledger.sqlite")
            transport = Timed("SG.bench", url, from_email="hello@milestones.example", from_name="Milestones")
            # Fresh keys: the ledger would (rightly) refuse to send the plain run's emails again.
            ours_messages = [{**m, "key": "o" + m["key"]} for m in messages]
            t0 = time.perf_counter()
            counts = deliver(ours_messages, transport, ledger, concurrency=args.concurrency)
            ours_s = time.perf_counter() - t0
        ours_rate = args.count / ours_s
        assert counts == {"sent": args.count}, counts
        import json
        import urllib.request

        with urllib.request.urlopen(f"{url}/counts", timeout=10) as resp:
            seen = json.loads(resp.read())
        assert seen == {"requests": 2 * args.count, "max_per_key": 1}, seen
        print(f"{args.count:,} emails to {url}")
        print(f"plain sendgrid, one by one : {plain_rate:8.0f} emails/s   p95 {plain_p95 * 1000:6.1f} ms")
        print(f"milestones (ledger on, {args.concurrency} threads): {ours_rate:8.0f} emails/s   "
              f"p95 {p95(ours_lat) * 1000:6.1f} ms")
        print(f"ratio {ours_rate / plain_rate:.1f}x (goal >= 5x)")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
