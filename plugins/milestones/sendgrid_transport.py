"""SendGrid transport over the official ``sendgrid`` client, guarded.

The client has three known hazards, each handled here:

* no default timeout: every request gets ``timeout`` seconds;
* a new connection per request (and a new urllib opener, which rescans the
  environment for proxies, about 0.5 ms each): the official client is built
  once and supplies the endpoint URL and the request headers (Authorization,
  User-Agent, Content-Type); each thread then POSTs the JSON body over its own
  kept-alive connection (:class:`KeepAlive`);
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
import json
import random
import threading
import time
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


class HTTPRefusal(Exception):
    """An answer of 400 or more, with what the server said."""

    def __init__(self, status: int, body: bytes, headers: http.client.HTTPMessage):
        super().__init__(f"HTTP {status}")
        self.status_code, self.body, self.headers = status, body, headers


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

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes, http.client.HTTPMessage]:
        """POST; raises NotSent (never left), Ambiguous (no answer) or HTTPRefusal (>= 400)."""
        conn = self._connection()
        try:
            if conn.sock is None:
                conn.connect()
            conn.request("POST", path, body=body, headers=headers)
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise NotSent(f"{type(exc).__name__}: {exc}") from None
        try:
            response = conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self._drop()
            raise Ambiguous(f"{type(exc).__name__}: {exc}") from None
        finally:
            self._local.used = time.monotonic()
        if response.will_close:
            self._drop()
        if response.status >= 400:
            raise HTTPRefusal(response.status, data, response.headers)
        return response.status, data, response.headers


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

        client = SendGridAPIClient(api_key=api_key, host=host).client
        endpoint = client.mail.send
        self._path = urlsplit(endpoint._build_url(None)).path
        self._headers = {**client.request_headers, "Content-Type": "application/json"}
        self._http = KeepAlive(host, timeout)
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
        body = json.dumps(self.payload(message)).encode("utf-8")
        last = ""
        for attempt in range(self.max_attempts):
            try:
                _status, _data, headers = self._http.post(self._path, body, self._headers)
            except HTTPRefusal as exc:
                status, detail = exc.status_code, _short(exc.body)
                last = f"HTTP {status}: {detail}"
                if status == 429:
                    self._pause(attempt, exc.headers.get("X-RateLimit-Reset"))
                    continue
                if status >= 500:
                    self._pause(attempt)
                    continue
                return Outcome(FAILED, error=last)  # 400/401/403/413 and other refusals: final
            except NotSent as exc:
                last = f"not sent: {exc}"
                self._pause(attempt)
                continue
            except Ambiguous as exc:
                return Outcome(UNKNOWN, error=f"no answer after the request was sent: {exc}")
            return Outcome(ACCEPTED, message_id=headers.get("X-Message-Id") or None)
        return Outcome(PENDING, error=f"gave up after {self.max_attempts} attempts: {last}")


def _short(body: Any, limit: int = 300) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:limit]
