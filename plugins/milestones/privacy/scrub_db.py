"""Removing erased customers from the ledger's database (SQLite or PostgreSQL), in one transaction.

What stays, without personal data, is what exactly-once and the statistics need:

* ``emails`` (the send ledger): every row stays (its key keeps the email from ever being
  sent again, its state and dates count); ``customer_id`` becomes the customer's pseudonym,
  ``last_error`` (it may quote an address) is emptied.
* ``webhook_events``: rows stay for the counts (their ``dedupe_key`` keeps a replayed
  event from counting twice); the address goes, the customer id becomes the pseudonym, and
  the payload keeps only SendGrid's non-personal fields.
* ``webhook_rejected_events``: a payload naming the customer becomes ``"[erased]"``.
* ``suppressions``: the address's rows are deleted (the erased-subject hash keeps it from
  being written to); ``suppression_log`` rows lose their address and note.
* ``preferences`` rows are deleted; ``preference_history`` rows are deleted through the
  erasure path (a permit, then a tombstone in ``preference_erasures``: when and how many).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

import sqlalchemy as sa

from milestones.privacy.scrub import ERASED, Subjects


def _chunks(values: list[str], size: int = 500):
    for i in range(0, len(values), size):
        yield values[i:i + size]


def gather(engine: sa.Engine, ids: set[str]) -> set[str]:
    """Addresses the database links to the customers (preferences, webhook events)."""
    from milestones.decide.preferences import preferences
    from milestones.measure.feedback import webhook_events

    found: set[str] = set()
    with engine.connect() as conn:
        for chunk in _chunks(sorted(ids)):
            found.update(conn.execute(sa.select(preferences.c.email).where(
                preferences.c.customer_id.in_(chunk), preferences.c.email.is_not(None))).scalars())
            found.update(conn.execute(sa.select(webhook_events.c.email).where(
                webhook_events.c.customer_id.in_(chunk), webhook_events.c.email.is_not(None))).scalars())
    return {e.lower() for e in found if e}


def email_keys(engine: sa.Engine, subjects: Subjects) -> set[str]:
    """Keys of the customers' emails (their ``.eml`` files are named after them)."""
    from milestones.deliver.ledger import emails

    who = sorted(subjects.ids | set(subjects.pseudonyms.values()))
    with engine.connect() as conn:
        return {k for chunk in _chunks(who)
                for k in conn.execute(sa.select(emails.c.key).where(emails.c.customer_id.in_(chunk))).scalars()}


def _payload(text: str) -> str:
    from milestones.decide.erased import stripped_payload

    return stripped_payload(text)


def scrub(conn: sa.Connection, subjects: Subjects, now: dt.datetime) -> Counter:
    """Remove the customers from every table, inside the caller's transaction; rows changed per table."""
    from milestones.decide.preferences import (
        ensure_erasure_path,
        erasure_permits,
        erasures,
        history,
        preferences,
    )
    from milestones.deliver.ledger import emails
    from milestones.measure.feedback import rejected_events, suppressions, webhook_events
    from milestones.measure.lifecycle import suppression_log

    counts: Counter = Counter()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete = ON")  # freed pages are overwritten, not left readable
    ids, addresses = sorted(subjects.ids), sorted(subjects.emails)
    for chunk in _chunks(ids):
        for cid in chunk:
            counts["emails"] += conn.execute(emails.update().where(emails.c.customer_id == cid).values(
                customer_id=subjects.pseudonyms[cid], last_error=None)).rowcount
    # Webhook events: by customer id or by address.
    where = sa.or_(webhook_events.c.customer_id.in_(ids or [""]), webhook_events.c.email.in_(addresses or [""]))
    for row in conn.execute(sa.select(webhook_events.c.dedupe_key, webhook_events.c.customer_id,
                                      webhook_events.c.payload).where(where)).all():
        conn.execute(webhook_events.update().where(webhook_events.c.dedupe_key == row.dedupe_key).values(
            email=None, payload=_payload(row.payload),
            customer_id=subjects.pseudonyms.get(row.customer_id, row.customer_id)))
        counts["webhook_events"] += 1
    for row in conn.execute(sa.select(rejected_events.c.id, rejected_events.c.payload)).all():
        if subjects.names_in(row.payload):
            conn.execute(rejected_events.update().where(rejected_events.c.id == row.id)
                         .values(payload=json.dumps(ERASED)))
            counts["webhook_rejected_events"] += 1
    if addresses:
        counts["suppressions"] += conn.execute(suppressions.delete().where(
            suppressions.c.email.in_(addresses))).rowcount
        counts["suppression_log"] += conn.execute(suppression_log.update().where(
            suppression_log.c.email.in_(addresses)).values(email=None, note=None)).rowcount
    counts["preferences"] += conn.execute(preferences.delete().where(sa.or_(
        preferences.c.customer_id.in_(ids or [""]), preferences.c.email.in_(addresses or [""])))).rowcount
    ensure_erasure_path(conn)
    permit = str(uuid.uuid4())
    conn.execute(erasure_permits.insert(), [{"id": permit}])
    removed = conn.execute(history.delete().where(history.c.customer_id.in_(ids or [""]))).rowcount
    conn.execute(erasure_permits.delete().where(erasure_permits.c.id == permit))
    if removed:
        conn.execute(erasures.insert(), [{"at": now, "rows": removed}])
        counts["preference_history"] += removed
    return counts


def compact(engine: sa.Engine) -> None:
    """After the erasure: no old copy of a changed row left in the WAL (SQLite) or as a dead tuple
    the next VACUUM would keep around for long (PostgreSQL: VACUUM the tables touched)."""
    if engine.dialect.name == "sqlite":
        import time

        raw = engine.raw_connection()  # outside any transaction (the engine's own BEGIN IMMEDIATE)
        try:
            for _ in range(20):  # a reader still on an older snapshot makes it busy: wait for it
                busy, _log, _done = raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
                if not busy:
                    break
                time.sleep(0.25)
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("emails", "webhook_events", "webhook_rejected_events", "suppressions", "suppression_log",
                      "preferences", "preference_history", "erasure_journal"):
            conn.exec_driver_sql(f"VACUUM {table}")
