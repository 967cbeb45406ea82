"""Delivery throughput against a Mail Send stand-in on 127.0.0.1, three clients, checked.

Sends N emails (default 20,000) per client per run, all in the same run, to the same server:
  plain          the official ``sendgrid`` library as its README shows it: one
                 ``client.mail.send.post`` after another, each opening a new connection
                 (python_http_client over urllib), no ledger: the baseline
  plain-threads  the same library from ``--concurrency`` threads (one client each), no
                 ledger: what concurrency alone gives the plain client
  ours           milestones.deliver.delivery.deliver() + SendGridTransport (libcurl's multi interface
                 over ``--concurrency`` kept-alive connections on one thread, msgspec JSON)
                 with the SQLite ledger on: every email registered, claimed just before it
                 is handed over (at most ``--concurrency`` claimed and unanswered, one commit
                 per step of the loop) and its outcome recorded
The server (tests/servers/fast_accept.py: uvicorn + httptools, 202 for everything) runs in its
own process on the same 2 cores and counts requests per key. After each client the benchmark
checks what it timed: the server got every email of that client exactly once (requests ==
distinct keys == N, none twice), and for ours every email is `sent` and `accepted` in the
ledger; it exits 1 when not. Prints emails/s, p95 latency per email (for ours: from being
handed to the transport to its outcome) and the CPU time this process spent per email
(all its threads: for ours the libcurl thread's and the ledger's too) and, beside it, the stand-in
server's CPU per email (it shares the two cores: the faster a client sends, the more of them the
server takes), and three
ratios: ours/plain (the goal: >= 8x), ours/plain-threads (what the transport and the loop
give beyond concurrency) and plain-threads/plain (what concurrency alone gives), then the
medians over --runs. Each round starts once the connections of the one before have left
TIME_WAIT (up to 75 s; see ``settle``).

    .venv/bin/python benchmarks/deliver.py [--count N] [--concurrency C] [--runs R]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from functools import partial
from pathlib import Path

from _proc import time_wait_sockets

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
FROM = {"from_email": "hello@milestones.example", "from_name": "Milestones"}


def message(i: int, prefix: str = "bench") -> dict:
    key = f"{prefix}{i:07d}"
    return {"key": key, "customer_id": f"C{i}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"c{i}@example.com", "subject": "Happy birthday, Aino!",
            "html": "<p>Dear Aino,</p>" * 40, "text": "Dear Aino," * 40,
            "unsubscribe_url": f"https://milestones.example/u?k={key}", "template_version": "v1",
            "send_at": 0}


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def plain_run(url: str, count: int, run: int) -> tuple[float, float]:
    """The official library as its README shows it, one email after another."""
    from sendgrid import SendGridAPIClient

    from milestones.deliver.delivery import sendgrid_payload

    payloads = [sendgrid_payload(message(i, f"p{run}-"), **FROM) for i in range(count)]
    plain = SendGridAPIClient(api_key="SG.bench", host=url)
    lat = []
    t0, cpu = time.perf_counter(), time.process_time()
    for body in payloads:
        t = time.perf_counter()
        plain.client.mail.send.post(request_body=body)
        lat.append(time.perf_counter() - t)
    return count / (time.perf_counter() - t0), p95(lat), (time.process_time() - cpu) / count


def plain_threads_run(url: str, count: int, concurrency: int, run: int) -> tuple[float, float]:
    """The official library from ``concurrency`` threads, one client per thread, no ledger."""
    from concurrent.futures import ThreadPoolExecutor

    from sendgrid import SendGridAPIClient

    from milestones.deliver.delivery import sendgrid_payload

    payloads = [sendgrid_payload(message(i, f"t{run}-"), **FROM) for i in range(count)]
    shares = [payloads[i::concurrency] for i in range(concurrency)]
    lat: list[float] = []

    def send(share: list[dict]) -> None:
        plain = SendGridAPIClient(api_key="SG.bench", host=url)
        for body in share:
            t = time.perf_counter()
            plain.client.mail.send.post(request_body=body)
            lat.append(time.perf_counter() - t)

    t0, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(send, shares))
    return count / (time.perf_counter() - t0), p95(lat), (time.process_time() - cpu) / count


def check_server(url: str, expected: int, client: str) -> None:
    """Every email the client sent since the last check reached the server exactly once."""
    with urllib.request.urlopen(f"{url}/counts", timeout=10) as resp:
        seen = json.loads(resp.read())
    if not (seen["requests"] == seen["keys"] == expected and seen["max_per_key"] == 1):
        print(f"FAILED: after {client} the server saw {seen}, expected {expected} emails once each")
        sys.exit(1)


def ours_run(url: str, count: int, concurrency: int, run: int) -> tuple[float, float]:
    """deliver() through SendGridTransport with the SQLite ledger on."""
    from milestones.deliver.delivery import deliver
    from milestones.deliver.ledger import Ledger
    from milestones.deliver.sendgrid_transport import SendGridTransport

    lat: list[float] = []

    class Timed(SendGridTransport):
        def start(self, messages, concurrency, done):
            handed = time.perf_counter()

            def timed(batch):
                lat.extend([time.perf_counter() - handed] * len(batch))
                done(batch)

            super().start(messages, concurrency, timed)

    messages = [message(i, f"o{run}-") for i in range(count)]
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(f"sqlite:///{tmp}/ledger.sqlite")
        transport = Timed("SG.bench", url, **FROM)
        t0, cpu = time.perf_counter(), time.process_time()
        counts = deliver(messages, transport, ledger, concurrency=concurrency)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu
        transport.close()
        if counts != {"sent": count} or ledger.counts() != {"accepted": count}:
            print(f"FAILED: deliver counted {dict(counts)}, the ledger holds {ledger.counts()}")
            sys.exit(1)
        ledger.engine.dispose()
    return count / seconds, p95(lat), cpu / count


def settle(port: int, limit: float = 75.0) -> float:
    """Wait until no connection of an earlier round is in TIME_WAIT (at most ``limit`` s).

    The plain clients open a connection per email, and closed connections stay in TIME_WAIT
    for a minute; the next round's connects are slower while thousands are left (here the
    plain client sent 1,563-1,614 emails/s with 4,500-11,300 of them left, 1,642 and 1,784
    with none), which would flatter the ratio. Every round starts from none."""
    started = time.monotonic()
    while (time_wait_sockets(port) or 0) > 0 and time.monotonic() - started < limit:
        time.sleep(1)
    return time.monotonic() - started


def load() -> str:
    """The load average (/proc/loadavg: 1, 5 and 15 minutes)."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the stand-in server's process has used so far."""
    import os

    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def line(r) -> str:
    clients = " | ".join(f"{name} {r[i]:6.0f}/s p95 {r[i + 1] * 1000:5.2f} ms cpu {r[i + 2] * 1e6:4.0f} us"
                         f" (server {r[12 + k] * 1e6:3.0f} us)"
                         for k, (name, i) in enumerate((("plain", 0), ("plain-threads", 3), ("ours", 6))))
    return (f"{clients} | ours/plain {r[9]:4.1f}x, ours/plain-threads {r[10]:4.1f}x, "
            f"plain-threads/plain {r[11]:4.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    from milestones.core.config import Settings

    parser.add_argument("--concurrency", type=int, default=Settings.send_concurrency,
                        help="connections for ours, threads for plain-threads (default: send_concurrency's default)")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    from milestones.core.logsafe import silence_http_client_debug

    silence_http_client_debug()
    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT))],
                              stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    for _ in range(100):  # uvicorn listens once it has started
        try:
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    try:
        print(f"{args.count:,} emails per client per run to {url}, "
              f"ours with {args.concurrency} connections, ledger on; load before: {load()}")
        rows = []
        done = 0
        port = int(url.rsplit(":", 1)[1])
        for run in range(args.runs):
            waited = settle(port)
            if waited >= 1:
                print(f"(waited {waited:.0f} s for the last round's connections to leave TIME_WAIT)", flush=True)
            measured, served = [], []
            for name, client in (("plain", partial(plain_run, url, args.count, run)),
                                 ("plain-threads", partial(plain_threads_run, url, args.count, args.concurrency, run)),
                                 ("ours", partial(ours_run, url, args.count, args.concurrency, run))):
                before = server_cpu(server.pid)
                measured.append(client())
                served.append((server_cpu(server.pid) - before) / args.count)
                check_server(url, done := done + args.count, name)
            plain, threads, ours = measured
            rows.append((*plain, *threads, *ours, ours[0] / plain[0], ours[0] / threads[0], threads[0] / plain[0],
                         *served))
            print(f"run {run + 1} (load {load()}): {line(rows[-1])}", flush=True)
        med = [statistics.median(col) for col in zip(*rows, strict=True)]
        print(f"median of {args.runs}: {line(med)} (goal ours/plain >= 8x); the server saw each of "
              f"{done:,} emails once; load after: {load()}")
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
