"""SendGrid transport over the official ``sendgrid`` client, guarded.

The client has three known hazards, each handled here:

* no default timeout: every request gets ``timeout`` seconds;
* a new connection per request: the Mail Send endpoint's ``_make_request`` is
  replaced, on our own endpoint object only, by one that keeps one HTTP
  connection per thread alive (the library still builds the URL, headers and
  JSON body);
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

import http.client
import io
import random
import threading
import time
import urllib.error
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

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


class _Answer:
    """What python_http_client's Response reads from a urllib response."""

    def __init__(self, status: int, body: bytes, headers: http.client.HTTPMessage):
        self._status, self._body, self._headers = status, body, headers

    def getcode(self) -> int:
        return self._status

    def read(self) -> bytes:
        return self._body

    def info(self) -> http.client.HTTPMessage:
        return self._headers


class KeepAlive:
    """One persistent HTTP(S) connection per thread to the API host."""

    def __init__(self, base_url: str, timeout: float):
        parts = urlsplit(base_url)
        self.scheme, self.host, self.port = parts.scheme, parts.hostname, parts.port
        self.timeout = timeout
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is not None and time.monotonic() - self._local.used > MAX_IDLE_SECONDS:
            conn.close()
            conn = None
        if conn is None:
            cls = http.client.HTTPSConnection if self.scheme == "https" else http.client.HTTPConnection
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    def __call__(self, opener: Any, request: Any, timeout: float | None = None) -> _Answer:
        """Stands in for ``python_http_client.Client._make_request``."""
        from python_http_client.exceptions import handle_error

        conn = self._connection()
        try:
            if conn.sock is None:
                conn.connect()
            conn.request(request.get_method(), request.selector, body=request.data,
                         headers=dict(request.header_items()))
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        try:
            response = conn.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise Ambiguous(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._local.used = time.monotonic()
        if response.will_close:
            self._drop()
        if response.status >= 400:
            err = urllib.error.HTTPError(request.full_url, response.status, response.reason,
                                         response.headers, io.BytesIO(body))
            raise handle_error(err)
        return _Answer(response.status, body, response.headers)


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 from_email: str, from_name: str, timeout: float = 10.0,
                 sandbox: bool = False, asm_group_id: int | None = None,
                 categories: tuple[str, ...] = ("milestones",), max_attempts: int = 5,
                 backoff: float = 0.5, max_wait: float = 60.0,
                 sleep: Callable[[float], None] = time.sleep):
        silence_http_client_debug()
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = timeout
        # Our own endpoint object: the keep-alive stand-in is set on it alone.
        self._endpoint = self._client.client.mail.send
        self._endpoint._make_request = KeepAlive(host, timeout)
        self.host = host
        self.from_email, self.from_name = from_email, from_name
        self.sandbox, self.asm_group_id, self.categories = sandbox, asm_group_id, categories
        self.max_attempts, self.backoff, self.max_wait, self.sleep = max_attempts, backoff, max_wait, sleep

    def __repr__(self) -> str:  # never show the key
        return f"SendGridTransport(host={self.host!r})"

    def payload(self, message: dict[str, Any]) -> dict[str, Any]:
        return sendgrid_payload(message, from_email=self.from_email, from_name=self.from_name,
                                sandbox=self.sandbox, asm_group_id=self.asm_group_id,
                                categories=self.categories)

    def _pause(self, attempt: int, reset_header: str | None = None) -> None:
        """Wait for the rate-limit reset if the server gave one, else jittered exponential backoff."""
        wait = None
        if reset_header:
            try:
                wait = float(reset_header) - time.time()
            except ValueError:
                wait = None
        if wait is None or wait <= 0:
            wait = self.backoff * (2 ** attempt) * (0.5 + random.random())
        self.sleep(min(wait, self.max_wait))

    def send(self, message: dict[str, Any]) -> Outcome:
        from python_http_client import exceptions as http_exc

        body = self.payload(message)
        last = ""
        for attempt in range(self.max_attempts):
            try:
                response = self._endpoint.post(request_body=body)
            except http_exc.HTTPError as exc:
                status, detail = exc.status_code, _short(exc.body)
                last = f"HTTP {status}: {detail}"
                if status == 429:
                    self._pause(attempt, (exc.headers or {}).get("X-RateLimit-Reset"))
                    continue
                if status >= 500:
                    self._pause(attempt)
                    continue
                return Outcome(FAILED, error=last)  # 400/401/403/413 and other refusals: final
            except NotSent as exc:
                last = f"not sent: {exc}"
                self._pause(attempt)
                continue
            except (Ambiguous, TimeoutError) as exc:
                return Outcome(UNKNOWN, error=f"no answer after the request was sent: {exc}")
            message_id = response.headers.get("X-Message-Id") if response.headers else None
            return Outcome(ACCEPTED, message_id=message_id or None)
        return Outcome(PENDING, error=f"gave up after {self.max_attempts} attempts: {last}")


def _short(body: Any, limit: int = 300) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:limit]
