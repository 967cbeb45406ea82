"""Three async HTTP clients posting Mail Send requests to an HTTP/2-capable stand-in, checked.

Issue 14 item 7: "aiohttp, or httpx with HTTP/2; measure both". Per run, each client posts N
requests (the body: the msgspec JSON of ``sendgrid_payload`` for benchmarks/deliver.py's
message, about 1.6 KB, encoded before timing) with C requests in flight, on one uvloop event
loop in this process, in turns (the order rotates every round):
  aiohttp      as SendGridTransport uses it: the transport's own ClientSession (its
               connector, timeouts, headers, URL), C sender coroutines, so C kept-alive
               connections (HTTP/1.1)
  httpx-h1     httpx.AsyncClient, HTTP/1.1, a pool of C kept-alive connections, C senders
  httpx-h2     httpx.AsyncClient(http2=True): the same C senders multiplexed as streams on
               one HTTP/2 connection
The stand-in (hypercorn, h11 and h2, in its own process; tests/servers/fast_accept.py's app:
202 with an X-Message-Id) speaks HTTP/1.1 and HTTP/2. Default ``--mode tls``: every client
goes over TLS to a throwaway self-signed certificate for 127.0.0.1 made at run time (HTTP/2
chosen by ALPN, as with the real API, which is HTTPS only); ``--mode cleartext``: plain TCP,
HTTP/2 by prior knowledge (h2c). After each client the benchmark asks the server what it got
and exits 1 unless every request of that client arrived exactly once, answered 202, over the
HTTP version the client was meant to use, on one connection for HTTP/2 and at least C for
HTTP/1.1. Prints emails/s, the CPU time of this process per request
(time.process_time: the client's work, the server runs elsewhere) and the server process's
CPU per request, then medians over --runs and ratios against aiohttp.

    flock /tmp/milestones-bench.lock .venv/bin/python benchmarks/http_clients.py \
        [--count N] [--concurrency C] [--runs R] [--mode tls|cleartext]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins"), str(ROOT / "benchmarks")]

SERVER = """
import asyncio, json, socket, sys
from collections import Counter
sys.path.insert(0, {root!r})
import uvloop
from hypercorn.asyncio import serve
from hypercorn.config import Config
from tests.servers import fast_accept

clients, versions = set(), Counter()

async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            await send({{"type": event["type"] + ".complete"}})
            if event["type"] == "lifespan.shutdown":
                return
    if scope["method"] == "GET":  # what arrived since the last GET, then start afresh
        seen = {{"requests": sum(fast_accept.counts.values()), "keys": len(fast_accept.counts),
                "max_per_key": max(fast_accept.counts.values(), default=0),
                "connections": len(clients), "http_versions": dict(versions)}}
        fast_accept.counts.clear(); clients.clear(); versions.clear()
        await send({{"type": "http.response.start", "status": 200, "headers": []}})
        await send({{"type": "http.response.body", "body": json.dumps(seen).encode()}})
        return
    clients.add(tuple(scope["client"])); versions[scope["http_version"]] += 1
    await fast_accept.app(scope, receive, send)

sock = socket.socket(); sock.bind(("127.0.0.1", 0)); sock.listen(1024)
config = Config()
config.bind = [f"fd://{{sock.fileno()}}"]
config.accesslog, config.loglevel = None, "WARNING"
config.keep_alive_max_requests = 10**9  # default 1,000, then the connection is closed
config.h2_max_concurrent_streams = max(100, {concurrency})
if {cert!r}:
    config.certfile, config.keyfile = {cert!r}, {key!r}
print(sock.getsockname()[1], flush=True)
uvloop.run(serve(app, config))
"""
CLIENTS = ("aiohttp", "httpx-h1", "httpx-h2")


def bodies(count: int, prefix: str) -> list[bytes]:
    import msgspec
    from deliver import FROM, message

    from milestones.delivery import sendgrid_payload

    encode = msgspec.json.Encoder().encode
    return [encode(sendgrid_payload(message(i, prefix), **FROM)) for i in range(count)]


def cpu_of(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def senders(post, payloads: list[bytes], concurrency: int) -> None:
    """``concurrency`` coroutines, each posting one request after another until none are
    left (as the transport's senders do); any answer but 202 stops the run."""
    it = iter(payloads)

    async def sender() -> None:
        for body in it:
            status = await post(body)
            if status != 202:
                raise RuntimeError(f"the server answered {status}")

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def run_client(name: str, transport, url: str, cafile: str | None, payloads: list[bytes],
                     concurrency: int) -> float:
    """Post ``payloads`` with ``name``; returns the wall seconds (the client is built and
    closed inside the timing: its connections are made within the run)."""
    headers = transport._headers  # the transport's request headers (Authorization, ...)
    t0 = time.perf_counter()
    if name == "aiohttp":
        session = transport._session()  # the transport's own session, as it sends
        target = transport._url

        async def post(body: bytes) -> int:
            async with session.post(target, data=body) as answer:
                await answer.read()
                return answer.status

        try:
            await senders(post, payloads, concurrency)
        finally:
            await transport._state.pop("session").close()
    else:
        import httpx

        tls = ssl.create_default_context(cafile=cafile) if cafile else True
        h2 = name == "httpx-h2"
        client = httpx.AsyncClient(
            http1=not (h2 and cafile is None), http2=h2, verify=tls, headers=headers, trust_env=False,
            timeout=httpx.Timeout(10.0), limits=httpx.Limits(max_connections=concurrency,
                                                               max_keepalive_connections=concurrency))
        target = str(transport._url)

        async def post(body: bytes) -> int:
            answer = await client.post(target, content=body)
            return answer.status_code

        async with client:
            await senders(post, payloads, concurrency)
    return time.perf_counter() - t0


def check_server(url: str, context, expected: int, client: str, concurrency: int) -> int:
    """Every request of ``client`` arrived exactly once, over the HTTP version meant, on one
    connection for HTTP/2 and on at least ``concurrency`` for HTTP/1.1 (one per request in
    flight; a pool may replace some); exit 1 otherwise. Returns the connections used."""
    with urllib.request.urlopen(f"{url}/counts", timeout=10, context=context) as resp:
        seen = json.loads(resp.read())
    h2 = client == "httpx-h2"
    version, meant = ("2", "on 1 connection") if h2 else ("1.1", f"on at least {concurrency} connections")
    if not (seen["requests"] == seen["keys"] == expected and seen["max_per_key"] == 1
            and seen["http_versions"] == {version: expected}
            and (seen["connections"] == 1 if h2 else seen["connections"] >= concurrency)):
        print(f"FAILED: after {client} the server saw {seen}; expected {expected} requests once "
              f"each over HTTP/{version} {meant}")
        sys.exit(1)
    return seen["connections"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=64,
                        help="requests in flight (the send_concurrency default is 64)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mode", choices=("tls", "cleartext"), default="tls")
    args = parser.parse_args()

    import httpx  # noqa: F401  (imported before any timing)
    import uvloop

    from milestones.logsafe import silence_http_client_debug
    from milestones.sendgrid_transport import SendGridTransport
    from tests.servers.tls import self_signed

    silence_http_client_debug()
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = self_signed(Path(tmp)) if args.mode == "tls" else ("", "")
        server = subprocess.Popen([sys.executable, "-c", SERVER.format(
            root=str(ROOT), cert=str(cert), key=str(key), concurrency=args.concurrency)],
            stdout=subprocess.PIPE, text=True)
        try:
            port = int(server.stdout.readline())
            scheme = "https" if args.mode == "tls" else "http"
            url = f"{scheme}://127.0.0.1:{port}"
            context = ssl.create_default_context(cafile=str(cert)) if cert else None
            for _ in range(100):  # hypercorn answers once it has started
                try:
                    urllib.request.urlopen(f"{url}/counts", timeout=1, context=context).close()
                    break
                except OSError:
                    time.sleep(0.1)
            transport = SendGridTransport("SG.bench", url, from_email="hello@milestones.example",
                                          from_name="Milestones", ca_bundle=str(cert) if cert else None)
            print(f"{args.count:,} requests per client per run, {args.concurrency} in flight, "
                  f"to hypercorn at {url}: mode {args.mode} ("
                  + ("TLS 1.3 to a self-signed certificate for every client, HTTP/2 by ALPN"
                     if cert else "plain TCP for every client, HTTP/2 by prior knowledge (h2c)") + ")")
            loop = uvloop.new_event_loop()
            # warm-up, untimed: first imports and connections of each client
            for name in CLIENTS:
                loop.run_until_complete(run_client(name, transport, url, str(cert) or None,
                                                   bodies(200, f"w-{name}-"), args.concurrency))
                check_server(url, context, 200, name, args.concurrency)
            results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in CLIENTS}
            for run in range(args.runs):
                order = CLIENTS[run % 3:] + CLIENTS[:run % 3]
                for name in order:
                    payloads = bodies(args.count, f"{run}-{name}-")
                    cpu, server_cpu = time.process_time(), cpu_of(server.pid)
                    seconds = loop.run_until_complete(run_client(name, transport, url, str(cert) or None,
                                                                 payloads, args.concurrency))
                    cpu, server_cpu = time.process_time() - cpu, cpu_of(server.pid) - server_cpu
                    connections = check_server(url, context, args.count, name, args.concurrency)
                    row = (args.count / seconds, cpu / args.count, server_cpu / args.count)
                    results[name].append(row)
                    print(f"run {run + 1} {name:8}: {row[0]:6.0f} requests/s, client CPU "
                          f"{row[1] * 1e6:4.0f} us/request, server CPU {row[2] * 1e6:4.0f} us/request, "
                          f"{connections} connection(s)", flush=True)
            loop.close()
        finally:
            server.terminate()
            server.wait(10)
    med = {name: [statistics.median(col) for col in zip(*rows, strict=True)]
           for name, rows in results.items()}
    base = med["aiohttp"]
    print(f"median of {args.runs} (mode {args.mode}, {args.concurrency} in flight):")
    for name in CLIENTS:
        rate, cpu, server_cpu = med[name]
        print(f"  {name:8}: {rate:6.0f} requests/s ({rate / base[0]:4.2f}x aiohttp), client CPU "
              f"{cpu * 1e6:4.0f} us/request ({cpu / base[1]:4.2f}x aiohttp), server CPU "
              f"{server_cpu * 1e6:4.0f} us/request")
    print(f"the server saw each request of every client once ({len(CLIENTS) * args.runs * args.count:,} "
          "timed), over the HTTP version meant (HTTP/2: one connection)")


if __name__ == "__main__":
    main()
