"""The feedback loop: SendGrid Event Webhook events, suppressions, and what they settle.

Events are verified (ECDSA P-256 over timestamp + raw body, as SendGrid signs
them), de-duplicated (``sg_event_id``, else a hash of the event's content),
stored, and acted on before the next send:

* unsubscribe, group_unsubscribe, bounce, dropped, spamreport -> the address is
  suppressed (policy skips it, reason ``suppressed``);
* processed, delivered, open, click with a ``key`` custom arg -> an email the
  ledger holds as ``unknown`` is settled ``accepted`` (it did go out), and the
  email's ledger row records when it was delivered, first opened, first clicked.

Tables live in the ledger's database (``settings.ledger_database_url``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
from collections import Counter
from typing import Any

import sqlalchemy as sa

from milestones.ledger import Ledger, emails

SUPPRESSING = {"unsubscribe", "group_unsubscribe", "bounce", "dropped", "spamreport"}
CONFIRMING = {"processed", "delivered", "open", "click"}
#: Webhook events recorded on the email's ledger row.
TRACKED = {"delivered": "delivered_at", "open": "opened_at", "click": "clicked_at"}
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

metadata = sa.MetaData()
webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("dedupe_key", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(32), nullable=False, index=True),
    sa.Column("email", sa.String(320)),
    sa.Column("key", sa.String(64), index=True),
    sa.Column("customer_id", sa.String(64), index=True),
    sa.Column("event_type", sa.String(64)),
    sa.Column("occurred_at", sa.DateTime(timezone=True)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)
suppressions = sa.Table(
    "suppressions", metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class BadSignature(Exception):
    """The request is not SendGrid's (or is too old to trust)."""


def verify_signature(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes,
                     *, now: float | None = None, replay_window: float = 300.0) -> None:
    """Raise :class:`BadSignature` unless ``signature`` signs ``timestamp + body`` recently."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature_b64 or not timestamp:
        raise BadSignature("missing signature or timestamp header")
    try:
        sent = float(timestamp)
    except ValueError:
        raise BadSignature("timestamp is not a number") from None
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    if abs(now - sent) > replay_window:
        raise BadSignature(f"timestamp outside the {replay_window:.0f} s replay window")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise BadSignature(f"signature does not verify ({type(exc).__name__})") from None


def _dedupe_key(event: dict[str, Any]) -> str:
    if event.get("sg_event_id"):
        return "sg:" + str(event["sg_event_id"])[:60]
    # Events without an id: the same event, email, time and key is the same report.
    raw = json.dumps([event.get("event"), event.get("email"), event.get("timestamp"), event.get("key"),
                      event.get("sg_message_id")], sort_keys=True)
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:60]


class Feedback:
    def __init__(self, url: str):
        self.ledger = Ledger(url)
        self.engine = self.ledger.engine
        metadata.create_all(self.engine)

    def ingest(self, events: list[dict[str, Any]]) -> Counter:
        """Store new events, suppress addresses, settle unknown emails. Returns counts."""
        counts: Counter = Counter()
        now = dt.datetime.now(dt.UTC)
        to_settle: list[tuple[str, str]] = []
        # One transaction per delivery from SendGrid; a savepoint per event lets a
        # duplicate be skipped without losing the rest of the batch.
        with self.engine.begin() as conn:
            suppressed = set(conn.execute(sa.select(suppressions.c.email)).scalars())
            for event in events:
                if not isinstance(event, dict) or not event.get("event"):
                    counts["ignored"] += 1
                    continue
                row = {
                    "dedupe_key": _dedupe_key(event), "event": str(event["event"])[:32],
                    "email": (event.get("email") or "").lower()[:320] or None,
                    "key": event.get("key"), "customer_id": event.get("customer_id"),
                    "event_type": event.get("event_type"),
                    "occurred_at": dt.datetime.fromtimestamp(int(event["timestamp"]), dt.UTC)
                    if str(event.get("timestamp", "")).isdigit() else None,
                    "received_at": now, "payload": json.dumps(event, sort_keys=True),
                }
                try:
                    with conn.begin_nested():
                        conn.execute(webhook_events.insert(), [row])
                except sa.exc.IntegrityError:
                    counts["duplicate"] += 1
                    continue
                counts["stored"] += 1
                if row["event"] in SUPPRESSING and row["email"] and row["email"] not in suppressed:
                    conn.execute(suppressions.insert(), [{"email": row["email"], "reason": row["event"],
                                                          "created_at": now}])
                    suppressed.add(row["email"])
                    counts["suppressed"] += 1
                if row["event"] in CONFIRMING and row["key"]:
                    to_settle.append((row["key"], row["event"]))
                    column = TRACKED.get(row["event"])
                    if column is not None:  # first report wins: later opens keep the first time
                        conn.execute(emails.update().where(emails.c.key == row["key"], emails.c[column].is_(None))
                                     .values({column: row["occurred_at"] or now}))
        for key, event in to_settle:
            if self.ledger.resolve(key, "accepted", f"webhook: {event}"):
                counts["settled"] += 1
        return counts

    def suppressed(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(suppressions.c.email, suppressions.c.reason)).all())

    def events_for(self, *, customer_id: str | None = None, key: str | None = None) -> list[dict]:
        query = sa.select(webhook_events).order_by(webhook_events.c.received_at)
        if customer_id:
            query = query.where(webhook_events.c.customer_id == customer_id)
        if key:
            query = query.where(webhook_events.c.key == key)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
