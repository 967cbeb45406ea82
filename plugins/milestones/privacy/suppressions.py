"""Operators' view of suppressed addresses: list them, lift one (recorded with who and why).

``milestones suppressions list [--reason R]`` and ``milestones suppressions remove EMAIL
--by NAME --note WHY``. A lifted suppression is deleted from ``suppressions`` and the
removal appended to ``suppression_log`` (when, who, why, the reason it had). A later
hard bounce or complaint suppresses the address again.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa

from milestones.measure.feedback import Feedback, suppressions
from milestones.measure.lifecycle import suppression_log


def listing(url: str, *, reason: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """Suppressed addresses, newest first: email, reason, since, the causing event's id."""
    feedback = Feedback(url)
    query = sa.select(suppressions).order_by(suppressions.c.created_at.desc(), suppressions.c.email)
    if reason:
        query = query.where(suppressions.c.reason == reason)
    if limit:
        query = query.limit(limit)
    with feedback.engine.connect() as conn:
        return [{"email": r["email"], "reason": r["reason"], "since": r["created_at"], "event_id": r["event_id"]}
                for r in conn.execute(query).mappings()]


def remove(url: str, email: str, *, by: str, note: str, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Lift the suppression of ``email``; None when it is not suppressed."""
    if not by.strip() or not note.strip():
        raise ValueError("removing a suppression needs who (--by) and why (--note)")
    address = email.strip().lower()
    now = now or dt.datetime.now(dt.UTC)
    feedback = Feedback(url)
    with feedback.engine.begin() as conn:
        row = conn.execute(sa.select(suppressions).where(suppressions.c.email == address)).mappings().first()
        if row is None:
            return None
        conn.execute(suppressions.delete().where(suppressions.c.email == address))
        conn.execute(suppression_log.insert(), [{"at": now, "email": address, "action": "removed",
                                                 "reason": row["reason"], "event_id": row["event_id"],
                                                 "actor": by.strip(), "note": note.strip()}])
    return {"email": address, "reason": row["reason"], "removed_by": by.strip(), "note": note.strip(),
            "removed_at": now}


def log_of(url: str, email: str | None = None) -> list[dict[str, Any]]:
    """The suppression log (of one address)."""
    feedback = Feedback(url)
    query = sa.select(suppression_log).order_by(suppression_log.c.id)
    if email:
        query = query.where(suppression_log.c.email == email.strip().lower())
    with feedback.engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
