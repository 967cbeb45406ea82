"""SendGrid transport over the official ``sendgrid`` client, guarded, and fast.

The client has three known hazards, each handled here:

* no default timeout: every request gets ``timeout`` seconds (to connect, and
  from sending the request to the end of the answer);
* a new connection per request (and a new urllib opener, which rescans the
  environment for proxies): the official client is built once and supplies the
  endpoint URL and the request headers (Authorization, User-Agent, Accept); the
  transport then POSTs the JSON bodies itself over up to ``concurrency``
  kept-alive HTTP/1.1 connections, driven by one asyncio event loop (uvloop
  when installed) in a thread of its own (:class:`HTTPClient`). The constant
  part of the request (request line and headers) is encoded once; each email
  costs one payload dict, one msgspec JSON encode and one write;
* python_http_client logs request headers (the API key) at DEBUG: its logger
  is silenced before the client is built, and errors we record carry only the
  status and the response body.

Outcomes follow what is known about the request (see README, "Delivery"):
answered and refused for now (429, 5xx) or never sent (connection refused)
-> retried with jittered backoff; answered and refused for good (400, 401,
403, 413, other 4xx) -> ``failed``; sent but no answer (timeout, connection
lost while waiting) -> ``unknown``, never resent blindly.
"""

from __future__ import annotations

import asyncio
import queue
import random
import ssl
import threading
import time
import weakref
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import msgspec

from milestones.delivery import Outcome, sendgrid_payload
from milestones.ledger import ACCEPTED, FAILED, PENDING, UNKNOWN
from milestones.logsafe import silence_http_client_debug

PERMANENT = {400, 401, 403, 413}
#: A pooled connection idle for longer may have been closed by the server; open a new one
#: rather than risk a send that fails ambiguously.
MAX_IDLE_SECONDS = 4.0


class NotSent(Exception):
    """The request never left: safe to retry."""


class Ambiguous(Exception):
    """The request was sent but no answer came: it may or may not have been accepted."""


class HTTPRefusal(Exception):
    """An answer of 400 or more, with what the server said (header names lower-cased)."""

    def __init__(self, status: int, body: bytes, headers: dict[str, str]):
        super().__init__(f"HTTP {status}")
        self.status_code, self.body, self.headers = status, body, headers


class Connection:
    """One kept-alive connection, used by one coroutine at a time."""

    __slots__ = ("reader", "writer", "used")

    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.used = 0.0

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class HTTPClient:
    """POSTs to one endpoint over kept-alive HTTP/1.1 connections (asyncio streams)."""

    def __init__(self, base_url: str, path: str, headers: dict[str, str], timeout: float):
        parts = urlsplit(base_url)
        https = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if https else 80)
        self.ssl = ssl.create_default_context() if https else None
        self.timeout = timeout
        host = f"[{self.host}]" if ":" in self.host else self.host
        if parts.port and parts.port != (443 if https else 80):
            host = f"{host}:{parts.port}"
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}",
                 *(f"{name}: {value}" for name, value in headers.items())]
        if any(c in line for line in lines for c in "\r\n\0"):
            raise ValueError("request line and header values must not contain line breaks")
        # The request line and headers never change: encoded once (the key is in here, so
        # this attribute is never shown or logged).
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

    async def post(self, conn: Connection, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """POST ``body`` on ``conn``; raises NotSent (never left), Ambiguous (no answer) or HTTPRefusal."""
        loop = asyncio.get_running_loop()
        if conn.writer is not None and (loop.time() - conn.used > MAX_IDLE_SECONDS
                                        or conn.reader.at_eof() or conn.writer.is_closing()):
            conn.close()  # closed by the server while idle, or may soon be: a fresh one
        if conn.writer is None:
            try:
                async with asyncio.timeout(self.timeout):
                    conn.reader, conn.writer = await asyncio.open_connection(
                        self.host, self.port, ssl=self.ssl,
                        server_hostname=self.host if self.ssl else None)
            except (OSError, TimeoutError) as exc:
                conn.close()
                raise NotSent(f"{type(exc).__name__}: {exc}") from None
        try:
            conn.writer.write(b"%s%d\r\n\r\n%s" % (self._head, len(body), body))
            if conn.writer.is_closing():  # the very first write failed: nothing left
                conn.close()
                raise NotSent("connection closed before the request was written")
            async with asyncio.timeout(self.timeout):
                status, headers, data, keep = await read_response(conn.reader)
        except NotSent:
            raise
        except (OSError, TimeoutError, EOFError, ValueError, asyncio.LimitOverrunError) as exc:
            conn.close()
            reason = f"no answer within {self.timeout:g} s" if isinstance(exc, TimeoutError) else exc
            raise Ambiguous(f"{type(exc).__name__}: {reason}") from None
        except BaseException:  # cancelled mid-request: the connection is in an unknown state
            conn.close()
            raise
        conn.used = loop.time()
        if not keep:
            conn.close()
        if status >= 400:
            raise HTTPRefusal(status, data, headers)
        return status, headers, data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes, bool]:
    """Status, headers (names lower-cased), body, and whether the connection stays open."""
    while True:
        lines = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        version, status_text = lines[0].split(" ", 2)[:2]
        status = int(status_text)
        if not 100 <= status < 200:  # skip interim answers (100 Continue)
            break
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    keep = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        data = await read_chunked(reader)
    elif "content-length" in headers:
        data = await reader.readexactly(int(headers["content-length"]))
    elif status in (204, 304):
        data = b""
    else:  # the body runs to the end of the connection
        data, keep = await reader.read(), False
    return status, headers, data, keep


async def read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts = []
    while size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
    while await reader.readuntil(b"\r\n") != b"\r\n":  # trailers
        pass
    return b"".join(parts)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard] on Linux
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _run_loop(loop: asyncio.AbstractEventLoop) -> None:
    try:
        loop.run_forever()
    finally:
        loop.close()


def _stop_loop(loop: asyncio.AbstractEventLoop, workers: list[asyncio.Task]) -> None:
    """Stop the senders, drop their kept-alive connections and stop the loop (from any thread, once)."""
    async def stop() -> None:
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        workers.clear()
        for _ in range(3):  # let the transports' close callbacks run
            await asyncio.sleep(0)
        loop.stop()

    try:
        loop.call_soon_threadsafe(lambda: loop.create_task(stop()))
    except RuntimeError:  # the loop is closed already
        pass


async def _sender(transport: weakref.ref, jobs: asyncio.Queue) -> None:
    """One sender: takes ``(message, done)`` jobs one after another over its own kept-alive
    connection and calls ``done((message, outcome))``. Holds the transport only while sending,
    so an unused transport can still be garbage-collected (which stops the loop)."""
    conn = Connection()
    try:
        while True:
            message, done = await jobs.get()
            sendgrid = transport()
            if sendgrid is None:
                return
            outcome = await sendgrid.send_async(message, conn)
            del sendgrid
            done((message, outcome))
    finally:
        if conn.writer is not None:  # idle or cut off: nothing to flush, no TLS goodbye to wait for
            conn.writer.transport.abort()
        conn.reader = conn.writer = None


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 from_email: str, from_name: str, timeout: float = 10.0,
                 sandbox: bool = False, asm_group_id: int | None = None,
                 categories: tuple[str, ...] = ("milestones",), max_attempts: int = 5,
                 backoff: float = 0.5, max_wait: float = 60.0):
        silence_http_client_debug()
        from sendgrid import SendGridAPIClient

        client = SendGridAPIClient(api_key=api_key, host=host).client
        path = urlsplit(client.mail.send._build_url(None)).path
        self._http = HTTPClient(host, path, {**client.request_headers, "Content-Type": "application/json"},
                                timeout)
        self._encode = msgspec.json.Encoder().encode
        self.host = host
        self.from_email, self.from_name = from_email, from_name
        self.sandbox, self.asm_group_id, self.categories = sandbox, asm_group_id, categories
        self.max_attempts, self.backoff, self.max_wait = max_attempts, backoff, max_wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._jobs: asyncio.Queue | None = None  # what the senders take from (loop thread only)
        self._workers: list[asyncio.Task] = []  # the senders, one kept-alive connection each

    def __repr__(self) -> str:  # never show the key
        return f"SendGridTransport(host={self.host!r})"

    def payload(self, message: dict[str, Any]) -> dict[str, Any]:
        return sendgrid_payload(message, from_email=self.from_email, from_name=self.from_name,
                                sandbox=self.sandbox, asm_group_id=self.asm_group_id,
                                categories=self.categories)

    # --- the synchronous face: what deliver() and the tests call ---------------------------

    def start(self, messages: Iterable[dict[str, Any]], concurrency: int, done) -> None:
        """Hand ``messages`` over: they are sent over up to ``concurrency`` kept-alive
        connections, and ``done((message, outcome))`` is called from the loop's thread as
        each one ends."""
        jobs = [(m, done) for m in messages]
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._enqueue, jobs, concurrency)

    def send_many(self, messages: Iterable[dict[str, Any]], concurrency: int = 8) -> list[Outcome]:
        messages = list(messages)
        results: queue.SimpleQueue = queue.SimpleQueue()
        self.start(messages, concurrency, results.put)
        outcomes = {}
        for _ in messages:
            message, outcome = results.get()
            outcomes[id(message)] = outcome
        return [outcomes[id(m)] for m in messages]

    def send(self, message: dict[str, Any]) -> Outcome:
        return self.send_many([message], 1)[0]

    def close(self) -> None:
        """Close the kept-alive connections and stop the loop thread."""
        with self._lock:
            thread, self._loop, self._thread = self._thread, None, None
        if thread is not None:
            self._stop()
            thread.join(10)

    # --- the loop side ----------------------------------------------------------------------

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                self._loop = _new_loop()
                self._jobs = None
                self._thread = threading.Thread(target=_run_loop, args=(self._loop,),
                                                name="sendgrid-loop", daemon=True)
                self._thread.start()
                # The loop thread ends with close(), or when this transport is garbage.
                self._stop = weakref.finalize(self, _stop_loop, self._loop, self._workers)
            return self._loop

    def _enqueue(self, jobs: list[tuple[dict[str, Any], Any]], concurrency: int) -> None:
        if self._jobs is None:
            self._jobs = asyncio.Queue()
        for job in jobs:
            self._jobs.put_nowait(job)
        me = weakref.ref(self)
        while len(self._workers) < max(1, concurrency):
            self._workers.append(self._loop.create_task(_sender(me, self._jobs)))

    def _wait(self, attempt: int, reset_header: str | None = None) -> float:
        """Until the rate-limit reset if the server gave one, else jittered exponential backoff."""
        wait = None
        if reset_header:
            try:
                wait = float(reset_header) - time.time()
            except ValueError:
                wait = None
        if wait is None or wait <= 0:
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random())
        return min(wait, self.max_wait)

    async def send_async(self, message: dict[str, Any], conn: Connection) -> Outcome:
        """Send one email on ``conn``, retrying what is safe to retry."""
        try:
            body = self._encode(self.payload(message))
        except Exception as exc:  # nothing left: this email cannot be sent as it is
            return Outcome(FAILED, error=f"payload: {type(exc).__name__}: {exc}")
        last = ""
        for attempt in range(self.max_attempts):
            try:
                _status, headers, _data = await self._http.post(conn, body)
            except HTTPRefusal as exc:
                status, detail = exc.status_code, _short(exc.body)
                last = f"HTTP {status}: {detail}"
                if status == 429:
                    await asyncio.sleep(self._wait(attempt, exc.headers.get("x-ratelimit-reset")))
                    continue
                if status >= 500:
                    await asyncio.sleep(self._wait(attempt))
                    continue
                return Outcome(FAILED, error=last)  # 400/401/403/413 and other refusals: final
            except NotSent as exc:
                last = f"not sent: {exc}"
                await asyncio.sleep(self._wait(attempt))
                continue
            except Ambiguous as exc:
                return Outcome(UNKNOWN, error=f"no answer after the request was sent: {exc}")
            except Exception as exc:  # an unexpected failure, maybe after sending: unknown
                conn.close()
                return Outcome(UNKNOWN, error=f"{type(exc).__name__}: {exc}")
            return Outcome(ACCEPTED, message_id=headers.get("x-message-id") or None)
        return Outcome(PENDING, error=f"gave up after {self.max_attempts} attempts: {last}")


def _short(body: Any, limit: int = 300) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:limit]
