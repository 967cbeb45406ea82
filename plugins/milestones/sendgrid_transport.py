"""SendGrid transport over the official ``sendgrid`` client.

Guards the client's three known hazards: no default timeout (we set one), a
new connection per request (see ``benchmarks/deliver.py`` for the pooled
path), and python_http_client logging the Authorization header at DEBUG
(silenced before the client is built).
"""

from __future__ import annotations

import urllib.error
from typing import Any

from milestones.delivery import Outcome, sendgrid_payload
from milestones.ledger import ACCEPTED, FAILED, PENDING, UNKNOWN
from milestones.logsafe import silence_http_client_debug

PERMANENT = {400, 401, 403, 413}


class SendGridTransport:
    name = "sendgrid"

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", *,
                 from_email: str, from_name: str, timeout: float = 10.0,
                 sandbox: bool = False, asm_group_id: int | None = None):
        silence_http_client_debug()
        from sendgrid import SendGridAPIClient

        self._client = SendGridAPIClient(api_key=api_key, host=host)
        self._client.client.timeout = timeout
        self.from_email, self.from_name = from_email, from_name
        self.sandbox, self.asm_group_id = sandbox, asm_group_id

    def __repr__(self) -> str:  # never show the key
        return f"SendGridTransport(host={self._client.host!r})"

    def send(self, message: dict[str, Any]) -> Outcome:
        from python_http_client import exceptions as http_exc

        body = sendgrid_payload(message, from_email=self.from_email, from_name=self.from_name,
                                sandbox=self.sandbox, asm_group_id=self.asm_group_id)
        try:
            response = self._client.client.mail.send.post(request_body=body)
        except http_exc.HTTPError as exc:
            status = exc.status_code
            detail = _short(exc.body)
            if status in PERMANENT:
                return Outcome(FAILED, error=f"HTTP {status}: {detail}")
            # 429 and 5xx: the request was answered and refused, safe to try again.
            return Outcome(PENDING, error=f"HTTP {status}: {detail}")
        except TimeoutError as exc:
            return Outcome(UNKNOWN, error=f"timeout after the request was sent: {exc}")
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, ConnectionRefusedError):
                return Outcome(PENDING, error=f"connection refused: {exc.reason}")
            return Outcome(UNKNOWN, error=f"connection error: {exc.reason}")
        message_id = response.headers.get("X-Message-Id") if response.headers else None
        return Outcome(ACCEPTED, message_id=message_id or f"sendgrid:{message['key']}")


def _short(body: Any, limit: int = 300) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body)[:limit]
