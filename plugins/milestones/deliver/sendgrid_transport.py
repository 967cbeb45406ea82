"""SendGrid transport: libcurl (pycurl's multi interface) over kept-alive connections, guarded.

The official ``sendgrid`` client is built once and supplies only the endpoint URL and the
request headers (Authorization, User-Agent, Accept); the HTTP is libcurl's (the most widely
deployed HTTP client there is, through pycurl's wheels), not the official client's urllib,
which opens a connection per request and has no default timeout:

* one thread (``sendgrid-loop``) drives one libcurl multi handle: up to ``concurrency``
  requests in flight, each on a kept-alive HTTP/1.1 connection of the multi handle's pool
  (a connection idle for :data:`MAX_IDLE_SECONDS` is not reused); each email costs one payload
  dict, one msgspec JSON encode and one libcurl transfer, with no Python between the bytes;
* every attempt has ``timeout`` seconds to connect, and ``2 x timeout`` for the whole
  attempt (connect, request, answer);
* proxies and private CAs: ``HTTPS_PROXY``/``https_proxy``, ``ALL_PROXY`` and ``NO_PROXY`` are
  honoured by libcurl's rules (a CONNECT tunnel for HTTPS; for a plain ``http://`` API only
  the lower-case ``http_proxy``), and ``ca_bundle`` (setting ``send_ca_bundle``) names the
  CA certificates to verify the API's certificate (and an HTTPS proxy's) with; without it,
  the system store as Python's ``ssl`` finds it (``SSL_CERT_FILE`` and ``SSL_CERT_DIR``
  included), never the path compiled into the wheel's libcurl;
* python_http_client logs request headers (the API key) at DEBUG: its logger is silenced
  before the client is built; libcurl is never verbose, and errors we record carry only the
  status and the body, or libcurl's error code and message.

libcurl resends a request by itself when a reused connection closes before any byte of the
answer (it assumes the server closed an idle connection). For a POST that may already have
been accepted that would be a duplicate email, so the second start of one attempt is
refused (``PREREQFUNCTION``) and the attempt ends ``unknown``.

Outcomes follow what is known about the request (see README, "Delivery"):
answered and refused for now (429, 5xx) or never sent (no connection, a certificate that
does not verify, a proxy that refuses) -> retried with jittered backoff; answered and
refused for good (400, 401, 403, 413, other 4xx) -> ``failed``; sent but no answer
(timeout, connection lost while waiting) -> ``unknown``, never resent blindly.
"""

from __future__ import annotations

import heapq
import itertools
import queue
import random
import ssl
import threading
import time
import weakref
from collections import deque
from collections.abc import Iterable
from typing import Any, NamedTuple

import msgspec
import pycurl

from milestones.core.logsafe import install as mask_logs
from milestones.core.logsafe import mask_secrets, register_secret, silence_http_client_debug
from milestones.deliver.delivery import Outcome, sendgrid_payload
from milestones.deliver.ledger import ACCEPTED, FAILED, PENDING, UNKNOWN

PERMANENT = {400, 401, 403, 413}
#: A pooled connection idle for longer is not reused (the server may have closed it
#: meanwhile): a new one rather than a send that fails ambiguously.
MAX_IDLE_SECONDS = 4
#: libcurl's codes for an attempt that never reached the API: no connection, no TLS session,
#: no tunnel through the proxy. Safe to try again. (97 is CURLE_PROXY, which pycurl does not name.)
NOT_SENT = frozenset({pycurl.E_COULDNT_RESOLVE_PROXY, pycurl.E_COULDNT_RESOLVE_HOST,
                      pycurl.E_COULDNT_CONNECT, pycurl.E_SSL_CONNECT_ERROR,
                      pycurl.E_PEER_FAILED_VERIFICATION, pycurl.E_SSL_CERTPROBLEM,
                      pycurl.E_SSL_CACERT_BADFILE, pycurl.E_SSL_ISSUER_ERROR,
                      pycurl.E_SSL_PINNEDPUBKEYNOTMATCH, pycurl.E_SSL_INVALIDCERTSTATUS, 97})
#: How long the loop waits for the network before it looks for new emails again.
SELECT_SECONDS = 0.002
_STOP = object()


class _Again(NamedTuple):
    """Refused for now or never sent: try again, after the rate limit's ``reset`` if given."""

    reset: str | None = None


class _Job:
    """One email on its way: its body, its attempts so far and the last reason to retry."""

    __slots__ = ("message", "done", "body", "attempt", "last")

    def __init__(self, message: dict[str, Any], done):
        self.message, self.done = message, done
        self.body: bytes | None = None
        self.attempt = 0
        self.last = ""


class _Slot:
    """One libcurl easy handle, reused for one attempt after another (its options are set
    once); collects the answer's header lines and body, and counts the attempt's starts."""

    __slots__ = ("curl", "job", "headers", "body", "starts")

    def __init__(self, options: dict[int, Any]):
        self.curl = pycurl.Curl()
        for option, value in options.items():
            self.curl.setopt(option, value)
        self.job: _Job | None = None
        self.headers: list[bytes] = []  # the same lists for every attempt: emptied, not replaced
        self.body: list[bytes] = []
        self.starts = 0
        self.curl.setopt(pycurl.PREREQFUNCTION, self._prereq)
        self.curl.setopt(pycurl.HEADERFUNCTION, self.headers.append)
        self.curl.setopt(pycurl.WRITEFUNCTION, self.body.append)

    def _prereq(self, *_connection) -> int:
        # Called as the request is about to leave, once per connection libcurl tries for this
        # attempt. A second call is libcurl resending on a fresh connection after the reused
        # one closed without an answer: the first may have been accepted. Refuse it.
        self.starts += 1
        return pycurl.PREREQFUNC_OK if self.starts == 1 else pycurl.PREREQFUNC_ABORT

    def begin(self, job: _Job) -> None:
        self.job, self.starts = job, 0
        self.headers.clear()
        self.body.clear()
        self.curl.setopt(pycurl.POSTFIELDS, job.body)


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 from_email: str, from_name: str, timeout: float = 10.0,
                 sandbox: bool = False, asm_group_id: int | None = None,
                 categories: tuple[str, ...] = ("milestones",), max_attempts: int = 5,
                 backoff: float = 0.5, max_wait: float = 60.0, ca_bundle: str | None = None,
                 message_domain: str = "", unsubscribe_mailto: str = ""):
        if any(c in api_key for c in "\r\n\0"):
            raise ValueError("the SendGrid API key must not contain line breaks")
        silence_http_client_debug()
        register_secret(api_key)  # masked in every error text stored or logged from now on
        mask_logs()
        from sendgrid import SendGridAPIClient

        client = SendGridAPIClient(api_key=api_key, host=host).client
        # The key is in these headers: never shown or logged (see __repr__).
        self._url = client.mail.send._build_url(None)
        self._headers = [f"{k}: {v}" for k, v in {**client.request_headers,
                                                   "Content-Type": "application/json"}.items()]
        self._encode = msgspec.json.Encoder().encode
        self.host, self.timeout, self.ca_bundle = host, timeout, ca_bundle
        self.from_email, self.from_name = from_email, from_name
        self.message_domain, self.unsubscribe_mailto = message_domain, unsubscribe_mailto
        self.sandbox, self.asm_group_id, self.categories = sandbox, asm_group_id, categories
        self.max_attempts, self.backoff, self.max_wait = max_attempts, backoff, max_wait
        self._lock = threading.Lock()
        self._loop: _Loop | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:  # never show the key
        return f"SendGridTransport(host={self.host!r})"

    def payload(self, message: dict[str, Any]) -> dict[str, Any]:
        return sendgrid_payload(message, from_email=self.from_email, from_name=self.from_name,
                                sandbox=self.sandbox, asm_group_id=self.asm_group_id,
                                categories=self.categories, message_domain=self.message_domain,
                                unsubscribe_mailto=self.unsubscribe_mailto)

    # --- the synchronous face: what deliver() and the tests call ---------------------------

    def start(self, messages: Iterable[dict[str, Any]], concurrency: int, done) -> None:
        """Hand ``messages`` over: they are sent with up to ``concurrency`` requests in flight,
        and ``done([(message, outcome), ...])`` is called from the loop's thread with the sends
        that ended in each turn of the loop."""
        item = ([_Job(m, done) for m in messages], concurrency)
        while not self._running_loop().submit(item):
            pass  # that loop has just ended (a failure): the next call starts a new one

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
            loop, thread, self._loop, self._thread = self._loop, self._thread, None, None
        if loop is not None:
            loop.submit(_STOP)
            thread.join(10)

    def _running_loop(self) -> _Loop:
        with self._lock:
            if self._loop is None or self._loop.closed:
                self._loop = _Loop(weakref.ref(self), self._options())
                self._thread = threading.Thread(target=self._loop.run, name="sendgrid-loop", daemon=True)
                self._thread.start()
                # The loop thread ends with close(), or when this transport is garbage.
                weakref.finalize(self, self._loop.submit, _STOP)
            return self._loop

    def _options(self) -> dict[int, Any]:
        """The easy handles' options, the same for every attempt."""
        options = {pycurl.URL: self._url, pycurl.HTTPHEADER: [*self._headers, "Expect:"],
                   pycurl.POST: 1, pycurl.HTTP_VERSION: pycurl.CURL_HTTP_VERSION_1_1,
                   pycurl.NOSIGNAL: 1, pycurl.MAXAGE_CONN: MAX_IDLE_SECONDS,
                   pycurl.CONNECTTIMEOUT_MS: max(1, round(self.timeout * 1000)),
                   pycurl.TIMEOUT_MS: max(1, round(2 * self.timeout * 1000))}
        paths = ssl.get_default_verify_paths()  # reads SSL_CERT_FILE and SSL_CERT_DIR
        cafile = self.ca_bundle or paths.cafile
        if cafile:
            options[pycurl.CAINFO] = options[pycurl.PROXY_CAINFO] = cafile
        if not self.ca_bundle and paths.capath:
            options[pycurl.CAPATH] = paths.capath
        return options

    # --- what an ended attempt means ---------------------------------------------------------

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

    def _verdict(self, job: _Job, slot: _Slot, code: int, text: str) -> Outcome | _Again:
        """The outcome of the attempt that just ended, or :class:`_Again` (safe to try again;
        ``job.last`` says why)."""
        curl = slot.curl
        if code == 0:
            status = curl.getinfo(pycurl.RESPONSE_CODE)
            if status < 400:
                return Outcome(ACCEPTED, message_id=_header(slot.headers, b"x-message-id"))
            # Masked before it is cut: a server echoing the Authorization header never stores the key.
            job.last = f"HTTP {status}: {_short(mask_secrets(_text(b''.join(slot.body))))}"
            if status == 429:
                return _Again(_header(slot.headers, b"x-ratelimit-reset"))
            if status >= 500:
                return _Again()
            return Outcome(FAILED, error=job.last)  # 400/401/403/413 and other refusals: final
        if slot.starts > 1:
            return Outcome(UNKNOWN, error="no answer after the request was sent: the connection closed "
                                          "without an answer (not resent)")
        if code in NOT_SENT or (code == pycurl.E_OPERATION_TIMEDOUT and not slot.starts):
            # No connection (refused, timed out, certificate, proxy): the request never left.
            job.last = f"not sent: curl {code}: {text}"
            return _Again()
        if code == pycurl.E_OPERATION_TIMEDOUT:
            return Outcome(UNKNOWN, error=f"no answer after the request was sent: curl {code} (timed out): "
                                          f"no answer within {2 * self.timeout:g} s")
        # Connection lost while waiting, an answer cut short: maybe accepted.
        return Outcome(UNKNOWN, error=f"no answer after the request was sent: curl {code}: {text}")


class _Loop:
    """The ``sendgrid-loop`` thread's state: the multi handle, its easy handles (slots), the
    emails waiting for a slot, the retries waiting for their time. Holds the transport only
    through a weak reference, so an unused transport can be garbage-collected (which stops it)."""

    def __init__(self, transport: weakref.ref, options: dict[int, Any]):
        self.transport, self.options = transport, options
        self.inbox: queue.SimpleQueue = queue.SimpleQueue()
        self.lock = threading.Lock()  # held to hand something over, and to end the loop
        self.closed = False
        self.multi = pycurl.CurlMulti()
        self.slots: list[_Slot] = []  # every slot made
        self.free: list[_Slot] = []
        self.active: dict[int, _Slot] = {}  # id(curl) -> slot
        self.ready: deque[_Job] = deque()  # waiting for a free slot, taken from the left
        self.later: list[tuple[float, int, _Job]] = []  # retries: (when, tie-breaker, job)
        self.order = itertools.count()
        self.ended: dict[Any, list[tuple[dict[str, Any], Outcome]]] = {}

    def submit(self, item: Any) -> bool:
        """Hand ``item`` (jobs, or the order to stop) to the loop; False once it has ended."""
        with self.lock:
            if not self.closed:
                self.inbox.put(item)
            return not self.closed

    def run(self) -> None:
        reason = "the transport was closed"
        try:
            while self._take() and self._turn():
                pass
        except Exception as exc:  # noqa: BLE001 - libcurl or this loop failed: nothing may hang
            reason = f"the send loop failed: {type(exc).__name__}: {exc}"
        finally:
            for slot in self.active.values():  # handed to libcurl: may have left
                self._finish(slot.job, Outcome(UNKNOWN, error=f"no answer after the request was sent: {reason}"))
            with self.lock:  # nothing can be handed over any more; what was is owed again
                self.closed = True
            while True:
                try:
                    item = self.inbox.get_nowait()
                except queue.Empty:
                    break
                if item is not _STOP:
                    self.ready.extend(item[0])
            for job in [*self.ready, *(entry[2] for entry in self.later)]:
                self._finish(job, Outcome(PENDING, error=f"not sent: {reason}"))
            self._report()
            for slot in self.active.values():
                self.multi.remove_handle(slot.curl)
            for slot in self.slots:
                slot.curl.close()
            self.multi.close()

    def _take(self) -> bool:
        """Take what was handed over meanwhile; wait for it when there is nothing else to do.
        False when the transport is closed or gone."""
        try:
            if self.active or self.ready:
                item = self.inbox.get_nowait()
            else:
                wait = max(0.0, self.later[0][0] - time.monotonic()) if self.later else None
                item = self.inbox.get(timeout=wait)
            while True:
                if item is _STOP:
                    return False
                jobs, concurrency = item
                self._grow(concurrency)
                self.ready.extend(jobs)  # first handed over, first sent
                item = self.inbox.get_nowait()
        except queue.Empty:
            return True

    def _grow(self, concurrency: int) -> None:
        while len(self.slots) < max(1, concurrency):
            slot = _Slot(self.options)
            self.slots.append(slot)
            self.free.append(slot)
        self.multi.setopt(pycurl.M_MAXCONNECTS, len(self.slots))

    def _turn(self) -> bool:
        """Start what may start, let libcurl work, report what ended. False when the
        transport is gone."""
        transport = self.transport()
        if transport is None:
            return False
        now = time.monotonic()
        while self.later and self.later[0][0] <= now:
            self.ready.appendleft(heapq.heappop(self.later)[2])  # a retry due goes first
        while self.free and self.ready:
            self._begin(transport, self.ready.popleft())
        self.multi.perform()
        ended = False
        while True:
            queued, ok, failed = self.multi.info_read()
            for curl in ok:
                self._end(transport, self.active.pop(id(curl)), 0, "")
            for curl, code, text in failed:
                self._end(transport, self.active.pop(id(curl)), code, text)
            ended = ended or bool(ok or failed)
            if not queued:
                break
        self._report()
        if not ended and self.active:
            self.multi.select(SELECT_SECONDS)
        return True

    def _begin(self, transport: SendGridTransport, job: _Job) -> None:
        if job.body is None:
            try:
                job.body = transport._encode(transport.payload(job.message))
            except Exception as exc:  # nothing left: this email cannot be sent as it is
                self._finish(job, Outcome(FAILED, error=f"payload: {type(exc).__name__}: {exc}"))
                return
        slot = self.free.pop()
        try:
            slot.begin(job)
            self.multi.add_handle(slot.curl)
        except Exception as exc:  # never handed to libcurl: owed, not in doubt
            self.free.append(slot)
            self._finish(job, Outcome(PENDING, error=f"not sent: {type(exc).__name__}: {exc}"))
            return
        self.active[id(slot.curl)] = slot

    def _end(self, transport: SendGridTransport, slot: _Slot, code: int, text: str) -> None:
        job = slot.job
        try:
            verdict = transport._verdict(job, slot, code, text)
        except Exception as exc:  # an unexpected failure after the request left: unknown
            verdict = Outcome(UNKNOWN, error=f"{type(exc).__name__}: {exc}")
        finally:
            self.multi.remove_handle(slot.curl)
            slot.job = None
            self.free.append(slot)
        if isinstance(verdict, Outcome):
            self._finish(job, verdict)
            return
        job.attempt += 1
        if job.attempt >= transport.max_attempts:
            self._finish(job, Outcome(PENDING, error=f"gave up after {transport.max_attempts} attempts: {job.last}"))
        else:
            wait = transport._wait(job.attempt - 1, verdict.reset)
            heapq.heappush(self.later, (time.monotonic() + wait, next(self.order), job))

    def _finish(self, job: _Job, outcome: Outcome) -> None:
        self.ended.setdefault(job.done, []).append((job.message, outcome))

    def _report(self) -> None:
        """Sends that ended in this turn, handed to each ``done`` as one list: one wake-up of
        the thread waiting for them per turn, not one per email."""
        if self.ended:
            ended, self.ended = self.ended, {}
            for done, batch in ended.items():
                done(batch)


def _header(lines: list[bytes], name: bytes) -> str | None:
    """The value of the last header ``name`` (lower case) among the answer's header lines."""
    value = None
    size = len(name)
    for line in lines:
        if line[size:size + 1] == b":" and line[:size].lower() == name:
            value = line[size + 1:].strip().decode("latin-1") or None
    return value


def _text(body: Any) -> str:
    return body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)


def _short(body: Any, limit: int = 300) -> str:
    return _text(body)[:limit]
