"""SendGrid transport: aiohttp over kept-alive connections, guarded.

The official ``sendgrid`` client is built once and supplies only the endpoint URL and the
request headers (Authorization, User-Agent, Accept); the HTTP is aiohttp's (a maintained
async client), not the official client's urllib, which opens a connection per request
and has no default timeout:

* every request has ``timeout`` seconds to connect, and again to get its answer;
* up to ``concurrency`` kept-alive connections, one per sender coroutine on one asyncio
  event loop (uvloop when installed) in a thread of its own; each email costs one payload
  dict, one msgspec JSON encode and one aiohttp request;
* proxies and private CAs: ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` are honoured
  (aiohttp's rules, read when the transport first sends), and ``ca_bundle`` (setting ``send_ca_bundle``) names the CA
  certificates to verify the API's certificate with (default: the system store, which
  also reads ``SSL_CERT_FILE``);
* python_http_client logs request headers (the API key) at DEBUG: its logger is silenced
  before the client is built, and errors we record carry only the status and the body.

Outcomes follow what is known about the request (see README, "Delivery"):
answered and refused for now (429, 5xx) or never sent (no connection, a certificate that
does not verify, a proxy that refuses) -> retried with jittered backoff; answered and
refused for good (400, 401, 403, 413, other 4xx) -> ``failed``; sent but no answer
(timeout, connection lost while waiting) -> ``unknown``, never resent blindly.
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

import aiohttp
import aiohttp.helpers
import msgspec
import yarl

from milestones.delivery import Outcome, sendgrid_payload
from milestones.ledger import ACCEPTED, FAILED, PENDING, UNKNOWN
from milestones.logsafe import silence_http_client_debug

PERMANENT = {400, 401, 403, 413}
#: A pooled connection idle for longer is closed (the server may have closed it meanwhile):
#: a new one rather than a send that fails ambiguously.
MAX_IDLE_SECONDS = 4.0


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


def _stop_loop(loop: asyncio.AbstractEventLoop, state: dict[str, Any]) -> None:
    """Stop the senders, close the HTTP session and stop the loop (from any thread, once)."""
    async def stop() -> None:
        workers, session = state["workers"], state.pop("session", None)
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        workers.clear()
        if session is not None:
            await session.close()
        for _ in range(3):  # let the transports' close callbacks run
            await asyncio.sleep(0)
        loop.stop()

    try:
        loop.call_soon_threadsafe(lambda: loop.create_task(stop()))
    except RuntimeError:  # the loop is closed already
        pass


class _Ended:
    """Sends that ended in one turn of the event loop, handed to each ``done`` as one list:
    one wake-up of the thread waiting for them per turn, not one per email."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: list[tuple[Any, tuple[dict[str, Any], Outcome]]] = []

    def add(self, done, item: tuple[dict[str, Any], Outcome]) -> None:
        if not self.items:
            self.loop.call_soon(self.flush)  # after the callbacks of this turn
        self.items.append((done, item))

    def flush(self) -> None:
        items, self.items = self.items, []
        batches: dict[Any, list[tuple[dict[str, Any], Outcome]]] = {}
        for done, item in items:
            batches.setdefault(done, []).append(item)
        for done, batch in batches.items():
            done(batch)


async def _sender(transport: weakref.ref, jobs: asyncio.Queue, ended: _Ended) -> None:
    """One sender: takes ``(message, done)`` jobs one after another (so at most one request,
    on one kept-alive connection, at a time) and reports ``(message, outcome)`` to ``done``
    (through ``ended``). Holds the transport only while sending, so an unused transport can
    still be garbage-collected (which stops the loop)."""
    while True:
        message, done = await jobs.get()
        sendgrid = transport()
        if sendgrid is None:
            return
        outcome = await sendgrid.send_async(message)
        del sendgrid
        ended.add(done, (message, outcome))


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 from_email: str, from_name: str, timeout: float = 10.0,
                 sandbox: bool = False, asm_group_id: int | None = None,
                 categories: tuple[str, ...] = ("milestones",), max_attempts: int = 5,
                 backoff: float = 0.5, max_wait: float = 60.0, ca_bundle: str | None = None):
        if any(c in api_key for c in "\r\n\0"):
            raise ValueError("the SendGrid API key must not contain line breaks")
        silence_http_client_debug()
        from sendgrid import SendGridAPIClient

        client = SendGridAPIClient(api_key=api_key, host=host).client
        # The key is in these headers: never shown or logged (see __repr__).
        self._url = yarl.URL(client.mail.send._build_url(None))  # parsed once, not per request
        self._headers = {**client.request_headers, "Content-Type": "application/json"}
        self._encode = msgspec.json.Encoder().encode
        self.host, self.timeout, self.ca_bundle = host, timeout, ca_bundle
        self.from_email, self.from_name = from_email, from_name
        self.sandbox, self.asm_group_id, self.categories = sandbox, asm_group_id, categories
        self.max_attempts, self.backoff, self.max_wait = max_attempts, backoff, max_wait
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._jobs: asyncio.Queue | None = None  # what the senders take from (loop thread only)
        # The senders and the aiohttp session, shared with the finalizer that stops them.
        self._state: dict[str, Any] = {"workers": []}

    def __repr__(self) -> str:  # never show the key
        return f"SendGridTransport(host={self.host!r})"

    def payload(self, message: dict[str, Any]) -> dict[str, Any]:
        return sendgrid_payload(message, from_email=self.from_email, from_name=self.from_name,
                                sandbox=self.sandbox, asm_group_id=self.asm_group_id,
                                categories=self.categories)

    # --- the synchronous face: what deliver() and the tests call ---------------------------

    def start(self, messages: Iterable[dict[str, Any]], concurrency: int, done) -> None:
        """Hand ``messages`` over: they are sent by up to ``concurrency`` senders, and
        ``done([(message, outcome), ...])`` is called from the loop's thread with the sends
        that ended in each turn of the loop."""
        jobs = [(m, done) for m in messages]
        loop = self._running_loop()
        loop.call_soon_threadsafe(self._enqueue, jobs, concurrency)

    def send_many(self, messages: Iterable[dict[str, Any]], concurrency: int = 8) -> list[Outcome]:
        messages = list(messages)
        results: queue.SimpleQueue = queue.SimpleQueue()
        self.start(messages, concurrency, results.put)
        outcomes = {}
        while len(outcomes) < len(messages):
            for message, outcome in results.get():
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
                self._ended = _Ended(self._loop)
                self._thread = threading.Thread(target=_run_loop, args=(self._loop,),
                                                name="sendgrid-loop", daemon=True)
                self._thread.start()
                # The loop thread ends with close(), or when this transport is garbage.
                self._stop = weakref.finalize(self, _stop_loop, self._loop, self._state)
            return self._loop

    def _enqueue(self, jobs: list[tuple[dict[str, Any], Any]], concurrency: int) -> None:
        if self._jobs is None:
            self._jobs = asyncio.Queue()
        for job in jobs:
            self._jobs.put_nowait(job)
        me, workers = weakref.ref(self), self._state["workers"]
        while len(workers) < max(1, concurrency):
            workers.append(self._loop.create_task(_sender(me, self._jobs, self._ended)))

    def _session(self) -> aiohttp.ClientSession:
        session = self._state.get("session")
        if session is None:
            tls = ssl.create_default_context(cafile=self.ca_bundle or None)
            # The proxy for the API's URL from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, by aiohttp's
            # own rules, looked up once: trust_env=True looks it up (and ~/.netrc) on a worker
            # thread for every request, which cost 5-10x the throughput here.
            try:
                proxy, proxy_auth = aiohttp.helpers.get_env_proxy_for_url(self._url)
            except LookupError:  # no proxy for this URL, or NO_PROXY names its host
                proxy, proxy_auth = None, None
            session = self._state["session"] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=tls, keepalive_timeout=MAX_IDLE_SECONDS),
                headers=self._headers, proxy=proxy, proxy_auth=proxy_auth,
                timeout=aiohttp.ClientTimeout(total=None, connect=self.timeout, sock_read=self.timeout),
                cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=False)
        return session

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

    async def send_async(self, message: dict[str, Any]) -> Outcome:
        """Send one email, retrying what is safe to retry."""
        try:
            body = self._encode(self.payload(message))
        except Exception as exc:  # nothing left: this email cannot be sent as it is
            return Outcome(FAILED, error=f"payload: {type(exc).__name__}: {exc}")
        session = self._session()
        last = ""
        for attempt in range(self.max_attempts):
            try:
                async with session.post(self._url, data=body) as answer:
                    status, headers, data = answer.status, answer.headers, await answer.read()
            except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError,
                    aiohttp.ClientHttpProxyError) as exc:
                # No connection (refused, timed out, certificate, proxy): the request never left.
                last = f"not sent: {type(exc).__name__}: {exc}"
                await asyncio.sleep(self._wait(attempt))
                continue
            except (aiohttp.ServerTimeoutError, TimeoutError) as exc:
                return Outcome(UNKNOWN, error=f"no answer after the request was sent: {type(exc).__name__}: "
                                              f"no answer within {self.timeout:g} s")
            except (aiohttp.ClientError, OSError) as exc:  # connection lost while waiting: maybe accepted
                return Outcome(UNKNOWN, error=f"no answer after the request was sent: {type(exc).__name__}: {exc}")
            except Exception as exc:  # an unexpected failure, maybe after sending: unknown
                return Outcome(UNKNOWN, error=f"{type(exc).__name__}: {exc}")
            if status < 400:
                return Outcome(ACCEPTED, message_id=headers.get("X-Message-Id") or None)
            last = f"HTTP {status}: {_short(data)}"
            if status == 429:
                await asyncio.sleep(self._wait(attempt, headers.get("X-RateLimit-Reset")))
                continue
            if status >= 500:
                await asyncio.sleep(self._wait(attempt))
                continue
            return Outcome(FAILED, error=last)  # 400/401/403/413 and other refusals: final
        return Outcome(PENDING, error=f"gave up after {self.max_attempts} attempts: {last}")


def _short(body: Any, limit: int = 300) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:limit]
