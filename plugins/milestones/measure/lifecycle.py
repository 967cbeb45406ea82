"""The address lifecycle: which SendGrid events suppress an address, as a careful sender decides.

* **At once**: a hard ``bounce`` (``type`` ``bounce``, or none), ``spamreport``,
  ``unsubscribe``, ``group_unsubscribe`` and ``dropped`` (SendGrid itself refused the
  address). The suppression's reason is the event's name.
* **Never by itself**: a ``bounce`` of ``type`` ``blocked`` (the receiving server refused
  this one message: reputation, content, rate) and ``deferred`` (it will be retried).
  These are *soft failures*.
* **After repeated soft failures**: ``soft_failure_limit`` different emails to one address
  with a soft failure within ``soft_failure_days`` days suppress it (reason
  ``soft_failures``). Several ``deferred`` reports of one email count once.

Every suppression records the ``dedupe_key`` of the webhook event that caused it, and
every suppression added or lifted is written to ``suppression_log`` (lifting:
who and why, by :mod:`milestones.privacy.suppressions`).

The optional **sunset rule** (``sunset_months``, 0 = off): a customer whose first
accepted email is at least that many months old and who has not opened or clicked one
within those months is no longer written to (policy reason ``sunset``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

HARD = frozenset({"unsubscribe", "group_unsubscribe", "spamreport", "dropped"})
SOFT_BOUNCE_TYPES = frozenset({"blocked"})
SOFT = "soft_failures"

log_metadata = sa.MetaData()
suppression_log = sa.Table(
    "suppression_log", log_metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("email", sa.String(320)),
    #: added | removed | erased
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32)),
    sa.Column("event_id", sa.String(64)),
    sa.Column("actor", sa.String(100)),
    sa.Column("note", sa.Text),
)


def classify(event: dict[str, Any]) -> str | None:
    """``hard`` (suppress at once), ``soft`` (counts towards the soft-failure limit) or None."""
    name = event.get("event")
    if name == "bounce":
        kind = str(event.get("type") or "bounce").strip().lower()
        return "soft" if kind in SOFT_BOUNCE_TYPES else "hard"
    if name == "deferred":
        return "soft"
    return "hard" if name in HARD else None


def _email_of(row: dict[str, Any], payload: dict[str, Any]) -> str:
    """The email a soft failure was about: our key, else SendGrid's message id, else the event."""
    return str(row.get("key") or payload.get("sg_message_id") or row["dedupe_key"])


def soft_failures(conn: sa.Connection, webhook_events: sa.Table, address: str, since: dt.datetime) -> tuple[
        int, str | None]:
    """Different emails to ``address`` with a soft failure since ``since``; the latest such event's id."""
    occurred = sa.func.coalesce(webhook_events.c.occurred_at, webhook_events.c.received_at)
    rows = conn.execute(
        sa.select(webhook_events.c.dedupe_key, webhook_events.c.key, webhook_events.c.event,
                  webhook_events.c.payload)
        .where(webhook_events.c.email == address, webhook_events.c.event.in_(("bounce", "deferred")),
               occurred >= since)
        .order_by(occurred, webhook_events.c.dedupe_key)).all()
    emails, latest = set(), None
    for dedupe_key, key, name, payload in rows:
        try:
            event = json.loads(payload)
        except ValueError:
            event = {}
        event = event if isinstance(event, dict) else {}
        if classify({**event, "event": name}) != "soft":
            continue
        emails.add(_email_of({"key": key, "dedupe_key": dedupe_key}, event))
        latest = dedupe_key
    return len(emails), latest


def to_suppress(conn: sa.Connection, webhook_events: sa.Table, fresh: list[dict[str, Any]],
                events: dict[str, Any], now: dt.datetime, *, limit: int, days: int) -> dict[str, tuple[str, str]]:
    """{address: (reason, event id)} of the addresses ``fresh`` rows (just stored) suppress."""
    out: dict[str, tuple[str, str]] = {}
    soft: set[str] = set()
    for row in fresh:
        if not row["email"]:
            continue
        kind = classify(events.get(row["dedupe_key"], {"event": row["event"]}) | {"event": row["event"]})
        if kind == "hard" and row["email"] not in out:
            out[row["email"]] = (row["event"], row["dedupe_key"])
        elif kind == "soft":
            soft.add(row["email"])
    if limit > 0:
        since = now - dt.timedelta(days=days)
        for address in sorted(soft - set(out)):
            count, latest = soft_failures(conn, webhook_events, address, since)
            if count >= limit and latest:
                out[address] = (SOFT, latest)
    return out


def _aware(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def sunset(engine: sa.Engine, emails: sa.Table, day: dt.date, months: int) -> frozenset[str]:
    """Customers the sunset rule stops on ``day`` (nobody when ``months`` is 0)."""
    if months <= 0:
        return frozenset()
    cutoff = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC) - dt.timedelta(days=round(months * 30.44))
    query = (sa.select(emails.c.customer_id, sa.func.min(emails.c.created_at), sa.func.max(emails.c.opened_at),
                       sa.func.max(emails.c.clicked_at))
             .where(emails.c.state == "accepted").group_by(emails.c.customer_id))
    out = set()
    with engine.connect() as conn:
        for customer, first, opened, clicked in conn.execute(query):
            engaged = [t for t in (_aware(opened), _aware(clicked)) if t is not None]
            if _aware(first) <= cutoff and not any(t >= cutoff for t in engaged):
                out.add(customer)
    return frozenset(out)
