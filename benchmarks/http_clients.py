"""Five HTTP clients posting Mail Send requests to an HTTP/2-capable stand-in, checked.

SendGridTransport sends with libcurl (pycurl's CurlMulti); issue 14 item 7 names aiohttp and
httpx with HTTP/2 as the alternatives ("aiohttp, or httpx with HTTP/2; measure both"). This
measures the transport's library against both, each used the way it would send. Per run,
each client posts N requests (the body: the msgspec JSON of ``sendgrid_payload`` for
benchmarks/deliver.py's message, about 1.6 KB, encoded before timing) with C requests in
flight, in turns (the order rotates every round), all in this process:
  pycurl-h1    libcurl: one pycurl.CurlMulti driving C reusable pycurl.Curl easy handles,
               HTTP/1.1, so C kept-alive connections; driven directly in the main thread
               (add handles while free, perform, info_read, select 1 ms when nothing ended)
  pycurl-h2    the same, HTTP/2 (ALPN over TLS, prior knowledge in cleartext), the C
               transfers multiplexed as streams on one connection (PIPE_MULTIPLEX, PIPEWAIT)
  aiohttp      aiohttp.ClientSession set up as the transport's aiohttp version did
               (TCPConnector(limit=0, keepalive 4 s), DummyCookieJar, no decompression,
               10 s connect/read timeouts), C sender coroutines on a uvloop event loop, so C
               kept-alive connections (HTTP/1.1)
  httpx-h1     httpx.AsyncClient, HTTP/1.1, a pool of C kept-alive connections, C senders
  httpx-h2     httpx.AsyncClient(http2=True): the same C senders multiplexed as streams on
               one HTTP/2 connection
Every client sends the official ``sendgrid`` client's request headers (Authorization Bearer,
its User-Agent, Accept) plus Content-Type: application/json to /v3/mail/send, and checks
each answer is 202 (the libcurl clients also that it carries an X-Message-Id). The stand-in
(hypercorn, h11 and h2, in its own process; tests/servers/fast_accept.py's app: 202 with an
X-Message-Id) speaks HTTP/1.1 and HTTP/2. Default ``--mode tls``: every client goes over TLS
to a throwaway self-signed certificate for 127.0.0.1 made at run time (HTTP/2 chosen by ALPN,
as with the real API, which is HTTPS only); ``--mode cleartext``: plain TCP, HTTP/2 by prior
knowledge (h2c). After each client the benchmark asks the server what it got and exits 1
unless every request of that client arrived exactly once, answered 202, over the HTTP version
the client was meant to use, on one connection for HTTP/2 and at least C for HTTP/1.1.
Prints requests/s (wall clock, time.perf_counter, the client built and closed inside it), the
CPU time of this process per request (time.process_time: the client's work, the server runs
elsewhere) and the server process's CPU per request, then medians over --runs and ratios
against pycurl-h1 (the transport's library and protocol).

    flock /tmp/milestones-bench.lock .venv/bin/python benchmarks/http_clients.py \
        [--count N] [--concurrency C] [--runs R] [--mode tls|cleartext]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

from _proc import cpu_seconds  # noqa: E402 - a sibling of this file, found through the path above

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
CLIENTS = ("pycurl-h1", "pycurl-h2", "aiohttp", "httpx-h1", "httpx-h2")
TIMEOUT = 10.0  # seconds to connect, and to get an answer (the transport's default)


def bodies(count: int, prefix: str) -> list[bytes]:
    import msgspec
    from deliver import FROM, message

    from milestones.deliver.delivery import sendgrid_payload

    encode = msgspec.json.Encoder().encode
    return [encode(sendgrid_payload(message(i, prefix), **FROM)) for i in range(count)]


async def senders(post, payloads: list[bytes], concurrency: int) -> None:
    """``concurrency`` coroutines, each posting one request after another until none are
    left (as the aiohttp transport's senders did); any answer but 202 stops the run."""
    it = iter(payloads)

    async def sender() -> None:
        for body in it:
            status = await post(body)
            if status != 202:
                raise RuntimeError(f"the server answered {status}")

    await asyncio.gather(*(sender() for _ in range(concurrency)))


async def run_async(name: str, target: str, headers: dict[str, str], cafile: str | None,
                    payloads: list[bytes], concurrency: int) -> None:
    """Post ``payloads`` with aiohttp or httpx (``name``), C sender coroutines; the client is
    built and closed here (its connections are made within the run)."""
    tls = ssl.create_default_context(cafile=cafile)
    if name == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, ssl=tls, keepalive_timeout=4.0), headers=headers,
            timeout=aiohttp.ClientTimeout(total=None, connect=TIMEOUT, sock_read=TIMEOUT),
            cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)

        async def post(body: bytes) -> int:
            async with session.post(target, data=body) as answer:
                await answer.read()
                return answer.status

        async with session:
            await senders(post, payloads, concurrency)
    else:
        import httpx

        h2 = name == "httpx-h2"
        client = httpx.AsyncClient(
            http1=not (h2 and cafile is None), http2=h2, verify=tls, headers=headers, trust_env=False,
            timeout=httpx.Timeout(TIMEOUT), limits=httpx.Limits(max_connections=concurrency,
                                                                max_keepalive_connections=concurrency))

        async def post(body: bytes) -> int:
            answer = await client.post(target, content=body)
            return answer.status_code

        async with client:
            await senders(post, payloads, concurrency)


def run_curl(name: str, target: str, headers: dict[str, str], cafile: str | None,
             payloads: list[bytes], concurrency: int) -> None:
    """Post ``payloads`` with libcurl: one CurlMulti driving ``concurrency`` reusable easy
    handles, in this thread (no event loop); every answer must be 202 with an X-Message-Id.
    The multi and its handles are built and closed here."""
    import pycurl

    h2 = name == "pycurl-h2"
    version = (pycurl.CURL_HTTP_VERSION_1_1 if not h2 else pycurl.CURL_HTTP_VERSION_2TLS if cafile
               else pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
    multi = pycurl.CurlMulti()
    if h2:
        multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
    lines = [f"{key}: {value}" for key, value in headers.items()] + ["Expect:"]
    free = []
    for _ in range(concurrency):
        easy = pycurl.Curl()
        easy.head, easy.body = [], []
        for option, value in ((pycurl.URL, target), (pycurl.HTTP_VERSION, version), (pycurl.NOSIGNAL, 1),
                              (pycurl.CONNECTTIMEOUT_MS, int(TIMEOUT * 1000)),
                              (pycurl.TIMEOUT_MS, int(TIMEOUT * 1000)), (pycurl.HTTPHEADER, lines),
                              (pycurl.HEADERFUNCTION, easy.head.append),
                              (pycurl.WRITEFUNCTION, easy.body.append)):
            easy.setopt(option, value)
        if cafile:
            easy.setopt(pycurl.CAINFO, cafile)
        if h2:  # wait for the first connection and multiplex on it rather than open one per stream
            easy.setopt(pycurl.PIPEWAIT, 1)
        free.append(easy)
    handles = list(free)
    it, left = iter(payloads), len(payloads)
    try:
        while left:
            while free and (body := next(it, None)) is not None:
                easy = free.pop()
                easy.head.clear()
                easy.body.clear()
                easy.setopt(pycurl.POSTFIELDS, body)
                multi.add_handle(easy)
            multi.perform()
            ended = False
            while True:
                queued, ok, failed = multi.info_read()
                if failed:
                    raise RuntimeError(f"libcurl failed: {failed[0][2]}")
                for easy in ok:
                    multi.remove_handle(easy)
                    status = easy.getinfo(pycurl.RESPONSE_CODE)
                    if status != 202:
                        raise RuntimeError(f"the server answered {status}")
                    if not any(line[:13].lower() == b"x-message-id:" for line in easy.head):
                        raise RuntimeError("a 202 without an X-Message-Id header")
                    free.append(easy)
                    left -= 1
                    ended = True
                if not queued:
                    break
            if not ended:
                multi.select(0.001)
    finally:
        for easy in handles:
            if easy not in free:
                multi.remove_handle(easy)
            easy.close()
        multi.close()


def run_client(name: str, loop, target: str, headers: dict[str, str], cafile: str | None,
               payloads: list[bytes], concurrency: int) -> float:
    """Post ``payloads`` with ``name``; returns the wall seconds (the client is built and
    closed inside the timing: its connections are made within the run)."""
    t0 = time.perf_counter()
    if name.startswith("pycurl"):
        run_curl(name, target, headers, cafile, payloads, concurrency)
    else:
        loop.run_until_complete(run_async(name, target, headers, cafile, payloads, concurrency))
    return time.perf_counter() - t0


def check_server(url: str, context, expected: int, client: str, concurrency: int) -> int:
    """Every request of ``client`` arrived exactly once, over the HTTP version meant, on one
    connection for HTTP/2 and on at least ``concurrency`` for HTTP/1.1 (one per request in
    flight; a pool may replace some); exit 1 otherwise. Returns the connections used."""
    with urllib.request.urlopen(f"{url}/counts", timeout=10, context=context) as resp:
        seen = json.loads(resp.read())
    h2 = client.endswith("-h2")
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

    import aiohttp  # noqa: F401  (imported before any timing)
    import httpx  # noqa: F401
    import pycurl  # noqa: F401
    import uvloop
    from sendgrid import SendGridAPIClient

    from milestones.core.logsafe import silence_http_client_debug
    from tests.servers.tls import self_signed

    silence_http_client_debug()  # python_http_client logs request headers (the key) at DEBUG
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
            # the official client's request headers (Authorization, User-Agent, Accept), as the
            # transport sends them, and its Mail Send URL
            headers = {**SendGridAPIClient(api_key="SG.bench", host=url).client.request_headers,
                       "Content-Type": "application/json"}
            target, cafile = f"{url}/v3/mail/send", str(cert) or None
            print(f"{args.count:,} requests per client per run, {args.concurrency} in flight, "
                  f"to hypercorn at {url}: mode {args.mode} ("
                  + ("TLS 1.3 to a self-signed certificate for every client, HTTP/2 by ALPN"
                     if cert else "plain TCP for every client, HTTP/2 by prior knowledge (h2c)") + ")")
            loop = uvloop.new_event_loop()
            # warm-up, untimed: first imports and connections of each client
            for name in CLIENTS:
                run_client(name, loop, target, headers, cafile, bodies(200, f"w-{name}-"), args.concurrency)
                check_server(url, context, 200, name, args.concurrency)
            results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in CLIENTS}
            for run in range(args.runs):
                order = CLIENTS[run % len(CLIENTS):] + CLIENTS[:run % len(CLIENTS)]
                for name in order:
                    payloads = bodies(args.count, f"{run}-{name}-")
                    cpu, server_cpu = time.process_time(), cpu_seconds(server.pid)
                    seconds = run_client(name, loop, target, headers, cafile, payloads, args.concurrency)
                    cpu, server_cpu = time.process_time() - cpu, cpu_seconds(server.pid) - server_cpu
                    connections = check_server(url, context, args.count, name, args.concurrency)
                    row = (args.count / seconds, cpu / args.count, server_cpu / args.count)
                    results[name].append(row)
                    print(f"run {run + 1} {name:9}: {row[0]:6.0f} requests/s, client CPU "
                          f"{row[1] * 1e6:4.0f} us/request, server CPU {row[2] * 1e6:4.0f} us/request, "
                          f"{connections} connection(s)", flush=True)
            loop.close()
        finally:
            server.terminate()
            server.wait(10)
    med = {name: [statistics.median(col) for col in zip(*rows, strict=True)]
           for name, rows in results.items()}
    base = med["pycurl-h1"]
    print(f"median of {args.runs} (mode {args.mode}, {args.concurrency} in flight):")
    for name in CLIENTS:
        rate, cpu, server_cpu = med[name]
        print(f"  {name:9}: {rate:6.0f} requests/s ({rate / base[0]:4.2f}x pycurl-h1), client CPU "
              f"{cpu * 1e6:4.0f} us/request ({cpu / base[1]:4.2f}x pycurl-h1), server CPU "
              f"{server_cpu * 1e6:4.0f} us/request")
    print(f"the server saw each request of every client once ({len(CLIENTS) * args.runs * args.count:,} "
          "timed), over the HTTP version meant (HTTP/2: one connection)")


if __name__ == "__main__":
    main()
