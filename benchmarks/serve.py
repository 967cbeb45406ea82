"""The public app under load: one-click POSTs while the webhook stores large signed batches.

Starts ``milestones serve`` in its own process (fresh SQLite ledger, 127.0.0.1, a free
port), then for each of ROUNDS rounds:

1. one-click alone: CLIENTS keep-alive connections POST ``List-Unsubscribe=One-Click``
   to signed links of distinct customers (each a real write) for SECONDS;
2. the same while WEBHOOKS senders post signed webhook batches of BATCH events
   (default 1,000) back to back.

The one-click load runs in its own process (a small asyncio HTTP/1.1 client with
pre-encoded requests) so its cost does not land on the server's core.  Prints POSTs/s,
p50/p99 latency of the one-click POSTs, webhook events stored and batch latency, and the CPU
of the server process and of its writer process (``writer_process``).
Afterwards it checks what was timed: every answered one-click customer is unsubscribed
with exactly one history row, and every webhook event sent is stored exactly once;
exit 1 when anything is wrong (goals are reported, not enforced).

    .venv/bin/python benchmarks/serve.py [--seconds 5] [--rounds 3] [--clients 32]

The server inherits the environment: ``MILESTONES_WRITER_PROCESS=false`` measures it with its
writer on a thread of the server process (one process, as before the writer process).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from _proc import cpu_seconds

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

SECRET = "benchmark-link-secret-0123456789abcdef"
GOAL_RATE, GOAL_P99_MS = 2000, 50.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


def one_click_load(port: int, tokens: list[str], clients: int, seconds: float, out) -> None:
    """Child process: POST the tokens round-robin over ``clients`` connections until ``seconds`` pass."""
    def encode(token: str) -> bytes:
        body = b"List-Unsubscribe=One-Click"
        return (f"POST /u/{token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def run():
        latencies: list[float] = []
        codes: list[int] = []
        done: list[str] = []
        deadline = time.perf_counter() + seconds
        queue = list(reversed(tokens))

        async def worker():
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while queue and time.perf_counter() < deadline:
                token = queue.pop()
                t = time.perf_counter()
                writer.write(encode(token))
                code = await _read_response(reader)
                latencies.append(time.perf_counter() - t)
                codes.append(code)
                if code == 200:
                    done.append(token)
            writer.close()

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        return latencies, codes, done, time.perf_counter() - start

    cpu = time.process_time()
    latencies, codes, done, elapsed = asyncio.run(run())
    out.put({"latencies": latencies, "codes": codes, "done": done, "elapsed": elapsed,
             "client_cpu": time.process_time() - cpu})


def webhook_load(port: int, private, batch: int, stop: threading.Event, sent: list[int], times: list[float],
                 prefix: str) -> None:
    import http.client

    from _webhook_signing import signed_headers

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    n = 0
    while not stop.is_set():
        events = [{"event": ("delivered", "open", "click", "processed")[i % 4], "email": f"w{i}@example.com",
                   "sg_event_id": f"{prefix}-{n}-{i}", "timestamp": 1_790_000_000 + i, "key": f"k{i}",
                   "customer_id": f"W{i}"} for i in range(batch)]
        body = json.dumps(events).encode()
        t = time.perf_counter()
        conn.request("POST", "/webhook/sendgrid", body=body, headers=signed_headers(private, body))
        response = conn.getresponse()
        answer = json.loads(response.read())
        times.append(time.perf_counter() - t)
        if response.status != 200 or answer.get("stored") != batch:
            raise SystemExit(f"webhook batch refused or partly stored: {response.status} {answer}")
        sent.append(batch)
        n += 1
    conn.close()


def _children_cpu_seconds(pid: int) -> float:
    """CPU time so far of a process's live child processes (the server's writer process)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                total += cpu_seconds(int(child))
            except OSError:  # ended meanwhile
                pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each measured phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32, help="one-click keep-alive connections")
    parser.add_argument("--batch", type=int, default=1000, help="events per webhook batch")
    parser.add_argument("--webhooks", type=int, default=2, help="webhook senders posting batches back to back")
    args = parser.parse_args()

    from _webhook_signing import new_key

    from milestones.core import links

    private, public = new_key()
    data = Path(tempfile.mkdtemp(prefix="milestones-serve-"))
    port = _free_port()
    env = {**os.environ, "MILESTONES_DATA_DIR": str(data), "MILESTONES_WEBHOOK_PUBLIC_KEY": public,
           "MILESTONES_LINK_SECRET": SECRET, "MILESTONES_WEBHOOK_MAX_BYTES": str(4 * 1024 * 1024)}
    server = subprocess.Popen([str(Path(sys.executable).with_name("milestones")), "serve", "--port", str(port)],
                              env=env)
    keys = links.LinkKeys(SECRET.encode())
    failures: list[str] = []
    results = {"alone": [], "with webhook": []}
    answered: set[str] = set()
    webhook_sent: list[int] = []
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        per_phase = int(args.seconds * 6000)
        counter = 0
        for r in range(args.rounds):
            for phase in ("alone", "with webhook"):
                tokens = [links.sign(keys, f"B{counter + i}", f"b{counter + i}@example.com", "en")
                          for i in range(per_phase)]
                counter += per_phase
                out = multiprocessing.Queue()
                child = multiprocessing.Process(target=one_click_load,
                                                args=(port, tokens, args.clients, args.seconds, out))
                stop, hook_times, hook_sent = threading.Event(), [], []
                senders = []
                if phase == "with webhook":
                    senders = [threading.Thread(target=webhook_load, args=(
                        port, private, args.batch, stop, hook_sent, hook_times, f"r{r}s{s}"))
                        for s in range(args.webhooks)]
                    for s in senders:
                        s.start()
                    time.sleep(0.5)  # the first batches are being stored when the POSTs start
                cpu, writer_cpu = cpu_seconds(server.pid), _children_cpu_seconds(server.pid)
                child.start()
                result = out.get()
                cpu = cpu_seconds(server.pid) - cpu
                writer_cpu = _children_cpu_seconds(server.pid) - writer_cpu
                child.join()
                stop.set()
                for s in senders:
                    s.join()
                webhook_sent += hook_sent
                codes = result["codes"]
                bad = [c for c in codes if c != 200]
                if bad:
                    failures.append(f"{len(bad)} one-click POSTs answered {sorted(set(bad))}")
                answered.update(t for t in result["done"])
                lat = sorted(result["latencies"])
                rate = len(codes) / result["elapsed"]
                p50, p99 = lat[len(lat) // 2] * 1000, lat[int(len(lat) * 0.99)] * 1000
                hook = (f"; webhook {sum(hook_sent):,} events in {len(hook_times)} batches, batch median "
                        f"{statistics.median(hook_times) * 1000:.0f} ms" if hook_times else "")
                print(f"round {r + 1} {phase:>12}: {rate:7,.0f} one-click POSTs/s, p50 {p50:5.1f} ms, "
                      f"p99 {p99:5.1f} ms{hook}; server CPU {cpu / result['elapsed']:.2f} cores, "
                      f"{cpu / max(len(codes), 1) * 1e6:.0f} us per POST; writer process CPU "
                      f"{writer_cpu / result['elapsed']:.2f} cores; client CPU "
                      f"{result['client_cpu'] / result['elapsed']:.2f} cores; load average "
                      f"{os.getloadavg()[0]:.1f}", flush=True)
                results[phase].append((rate, p99))
    finally:
        server.terminate()
        server.wait(timeout=30)

    # Check what was timed: the customers answered 200 are unsubscribed, once each; every event stored once.
    import sqlalchemy as sa

    from milestones.core.links import verify

    engine = sa.create_engine(f"sqlite:///{data / 'ledger.sqlite'}")
    with engine.connect() as conn:
        unsubscribed = set(conn.execute(sa.text(
            "SELECT customer_id FROM preferences WHERE unsubscribed")).scalars())
        history = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT customer_id) FROM preference_history")).one()
        stored = conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar()
    customers = {verify(keys, t).customer_id for t in answered}
    if not customers <= unsubscribed:
        failures.append(f"{len(customers - unsubscribed)} answered one-click POSTs not recorded")
    if history[0] != history[1] or history[0] != len(unsubscribed):
        failures.append(f"history rows {history[0]} for {history[1]} customers, {len(unsubscribed)} unsubscribed")
    if stored != sum(webhook_sent):
        failures.append(f"webhook: {sum(webhook_sent)} events sent, {stored} stored")

    for phase, rows in results.items():
        rates, p99s = [r for r, _ in rows], [p for _, p in rows]
        print(f"median of {len(rows)} rounds, {phase}: {statistics.median(rates):,.0f} POSTs/s, "
              f"p99 {statistics.median(p99s):.1f} ms")
    rate, p99 = (statistics.median(x) for x in zip(*results["with webhook"], strict=True))
    met = rate >= GOAL_RATE and p99 < GOAL_P99_MS
    print(f"goal (>= {GOAL_RATE:,} POSTs/s, p99 < {GOAL_P99_MS:.0f} ms while webhook batches of {args.batch:,} "
          f"are stored): {'met' if met else 'NOT met'}; checked: {len(customers):,} customers unsubscribed "
          f"once each, {stored:,} webhook events stored once")
    for failure in failures:
        print("WRONG:", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
