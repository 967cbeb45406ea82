"""Delivery: the transports (file outbox, SendGrid) and the exactly-once send loop.

A transport's ``send(message)`` returns an :class:`Outcome`.  The loop in
:func:`deliver` registers each batch of messages in the ledger, claims them
(only one worker can claim a key), sends them, and records what happened.
Nothing is sent for a key the ledger already holds in any state other than
``pending``.
"""

from __future__ import annotations

import email.policy
import email.utils
import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from milestones.ledger import ACCEPTED, FAILED, PENDING, UNKNOWN, Ledger
from milestones.logsafe import mask_email

log = logging.getLogger(__name__)

CUSTOM_HEADERS = {
    "customer_id": "X-Milestones-Customer-Id",
    "event_type": "X-Milestones-Event",
    "key": "X-Milestones-Key",
}


@dataclass(frozen=True)
class Outcome:
    state: str  # accepted, failed, unknown, or pending (retry later)
    message_id: str | None = None
    error: str | None = None


class Transport(Protocol):
    name: str

    def send(self, message: dict[str, Any]) -> Outcome: ...


def build_mime(message: dict[str, Any], *, from_email: str, from_name: str) -> EmailMessage:
    """An RFC 5322 multipart/alternative email (text + HTML, UTF-8) for one message row."""
    mime = EmailMessage(policy=email.policy.SMTP)
    mime["From"] = email.utils.formataddr((from_name, from_email))
    mime["To"] = message["email"]
    mime["Subject"] = message["subject"]
    mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = f"<{message['key']}@milestones>"
    mime["List-Unsubscribe"] = f"<{message['unsubscribe_url']}>"
    mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for field, header in CUSTOM_HEADERS.items():
        mime[header] = str(message[field])
    mime.set_content(message["text"], subtype="plain", charset="utf-8")
    mime.add_alternative(message["html"], subtype="html", charset="utf-8")
    return mime


class OutboxTransport:
    """Writes one ``<key>.eml`` per email under ``outbox_dir`` (the embedded default)."""

    name = "outbox"

    def __init__(self, outbox_dir: Path, *, from_email: str, from_name: str):
        self.outbox_dir = Path(outbox_dir)
        self.outbox_dir.mkdir(parents=True, exist_ok=True)
        self.from_email = from_email
        self.from_name = from_name

    def send(self, message: dict[str, Any]) -> Outcome:
        mime = build_mime(message, from_email=self.from_email, from_name=self.from_name)
        target = self.outbox_dir / f"{message['key']}.eml"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(mime.as_bytes())
        os.replace(tmp, target)
        return Outcome(ACCEPTED, message_id=f"outbox:{message['key']}")


def sendgrid_payload(message: dict[str, Any], *, from_email: str, from_name: str,
                     sandbox: bool = False, asm_group_id: int | None = None,
                     categories: tuple[str, ...] = ("milestones",)) -> dict[str, Any]:
    """The Mail Send v3 JSON body for one email (custom_args per personalization)."""
    payload: dict[str, Any] = {
        "personalizations": [{
            "to": [{"email": message["email"]}],
            "custom_args": {k: str(message[k]) for k in CUSTOM_HEADERS},
        }],
        "from": {"email": from_email, "name": from_name},
        "subject": message["subject"],
        "content": [
            {"type": "text/plain", "value": message["text"]},
            {"type": "text/html", "value": message["html"]},
        ],
        "categories": list(dict.fromkeys([*categories, str(message["event_type"])]))[:10],
        "headers": {
            "List-Unsubscribe": f"<{message['unsubscribe_url']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    }
    if message.get("send_at"):
        payload["send_at"] = int(message["send_at"])
    if asm_group_id:
        payload["asm"] = {"group_id": int(asm_group_id)}
    if sandbox:
        payload["mail_settings"] = {"sandbox_mode": {"enable": True}}
    return payload


OUTCOME_NAMES = {ACCEPTED: "sent", FAILED: "failed", UNKNOWN: "unknown", PENDING: "retry_later"}


def deliver(messages: list[dict[str, Any]], transport: Transport, ledger: Ledger,
            concurrency: int = 1, batch_size: int = 500) -> Counter:
    """Send each message at most once, ``concurrency`` at a time. Returns counts by outcome.

    ``already_sent`` counts messages whose key the ledger already held beyond
    ``pending`` (a re-run, a retry, another worker): they are not sent again.
    Each send is claimed in the ledger first, so workers racing on the same
    batch (threads here, or other processes) never send one email twice.

    Batches are pipelined: while one batch is on the wire, the ledger records
    the previous batch's outcomes and registers the next (claimed when it is sent). A transport with
    ``submit(batch, concurrency) -> Future[list[Outcome]]`` (SendGrid: one event
    loop, kept-alive connections) sends a batch itself; any other is called
    from ``concurrency`` threads.
    """
    counts: Counter = Counter()

    def register(batch: list[dict[str, Any]]) -> None:
        ledger.register(
            {
                "key": m["key"],
                "customer_id": m["customer_id"],
                "event_type": m["event_type"],
                "event_date": str(m["event_date"])[:10],
                "template_version": m.get("template_version", ""),
                "transport": transport.name,
            }
            for m in batch
        )

    def claim(batch: list[dict[str, Any]]) -> list[dict[str, Any]]:
        won = ledger.claim_many([m["key"] for m in batch])
        counts["already_sent"] += len(batch) - len(won)
        return [m for m in batch if m["key"] in won]

    def record(batch: list[dict[str, Any]], outcomes: list[Outcome]) -> None:
        results = []
        for m, outcome in zip(batch, outcomes, strict=True):
            if outcome.state != ACCEPTED:
                log.warning("email %s to %s: %s (%s)", m["key"], mask_email(m["email"]),
                            outcome.state, outcome.error)
            results.append({"key": m["key"], "state": outcome.state, "message_id": outcome.message_id,
                            "error": outcome.error, "transport": transport.name})
        ledger.finish_many(results)
        counts.update(OUTCOME_NAMES[r["state"]] for r in results)

    from concurrent.futures import ThreadPoolExecutor

    submit = getattr(transport, "submit", None)
    pools: list[ThreadPoolExecutor] = []
    if submit is None:
        def send(m: dict[str, Any]) -> Outcome:
            try:
                return transport.send(m)
            except Exception as exc:  # an unexpected failure after the claim: outcome unknown
                return Outcome(UNKNOWN, error=f"{type(exc).__name__}: {exc}")

        runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="deliver")
        pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="send") if concurrency > 1 else None
        pools = [p for p in (runner, pool) if p]

        def submit(batch, _concurrency):
            return runner.submit(lambda: list(pool.map(send, batch)) if pool else [send(m) for m in batch])

    batches = [messages[i:i + batch_size] for i in range(0, len(messages), batch_size)]
    inflight = None  # (batch, future) on the wire
    done = None  # (batch, outcomes) not yet recorded
    try:
        if batches:
            register(batches[0])
        for i, batch in enumerate(batches):
            # Claimed only when it is handed over: a crash leaves the rows of one batch
            # "sending" (they become "unknown", never resent): still at most once.
            mine = claim(batch)
            if mine:
                inflight = (mine, submit(mine, concurrency))
            if done:
                record(*done)
                done = None
            if i + 1 < len(batches):
                register(batches[i + 1])  # owed, not claimed: nothing at stake
            if inflight:
                done = (inflight[0], inflight[1].result())
                inflight = None
        if done:
            record(*done)
            done = None
    except BaseException:
        if inflight:
            inflight[1].cancel()
        if done:
            try:
                record(*done)
            except Exception:
                log.exception("could not record the outcomes of a stopped delivery")
        raise
    finally:
        for p in pools:
            p.shutdown(wait=False, cancel_futures=True)
    return +counts


def sendgrid_connection() -> dict[str, str] | None:
    """API key and base URL of the ``sendgrid_default`` connection, or None.

    Read from Airflow when running inside a task, else from the
    ``AIRFLOW_CONN_SENDGRID_DEFAULT`` env var (URI or JSON form), so the CLI
    and the DAGs agree.
    """
    raw = os.environ.get("AIRFLOW_CONN_SENDGRID_DEFAULT")
    if raw:
        return _parse_connection(raw)
    try:
        from airflow.sdk import BaseHook  # only meaningful inside a running task

        conn = BaseHook.get_connection("sendgrid_default")
    except Exception:
        return None
    if not conn.password:
        return None
    host = conn.host or ""
    if host and "://" not in host:
        host = f"{conn.schema or 'https'}://{host}" + (f":{conn.port}" if conn.port else "")
    return {"api_key": conn.password, "host": host or "https://api.sendgrid.com"}


def _parse_connection(raw: str) -> dict[str, str]:
    from urllib.parse import unquote, urlsplit

    raw = raw.strip()
    if raw.startswith("{"):
        data = json.loads(raw)
        host = data.get("host") or ""
        if host and "://" not in host:
            host = f"{data.get('schema') or 'https'}://{host}" + (f":{data['port']}" if data.get("port") else "")
        key = data.get("password") or ""
    else:
        parts = urlsplit(raw)
        key = unquote(parts.password or "")
        host = ""
        if parts.hostname:
            # conn-type http/https doubles as the scheme of the base URL.
            scheme = parts.scheme if parts.scheme in ("http", "https") else "https"
            host = f"{scheme}://{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    if not key:
        raise ValueError("sendgrid_default connection has no password (the API key)")
    return {"api_key": key, "host": host or "https://api.sendgrid.com"}
