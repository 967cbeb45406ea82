"""Choices are re-read at the moment of sending; late is sometimes too late.

An email is rendered hours before its ``send_at``; the customer may say stop meanwhile.
Just before each email is claimed for hand-over (:func:`milestones.deliver.delivery.deliver`),
:class:`SendCheck` looks again at

* the customer's choices: unsubscribed, an unsubscribe of the address by any record carrying
  it (``unsubscribed_address``), an opt-out of this email's type (``opted_out_of_type``), a
  pause covering the hand-over day (``paused``), and suppressions of the address
  (``suppressed``): the ledger state ``cancelled`` with that reason;
* the clock: an email is never handed over later than its event type's ``max_age_days``
  after the event's day in the customer's zone (``expired: ...``), the rule detection
  uses for catch-up runs, measured at the hand-over: the ledger state ``expired``.

Choices are read from the database at most every ``refresh_seconds`` (one second): a
change made longer ago than that before a claim is always seen.

SendGrid holds an email until ``send_at``: what it holds can only be stopped through its
Cancel Scheduled Sends API, which refuses a cancel later than 10 minutes before ``send_at``
and more than 10 batches at once (one customer's stop would need a batch per email).
So emails are handed over late enough instead: no earlier than
:data:`SENDGRID_LEAD` (15 minutes) before ``send_at`` (the delivery DAG runs every 15
minutes), and an unsubscribe up to that moment stops the email.
"""

from __future__ import annotations

import datetime as dt
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: SendGrid gets an email at most this long before its send_at (an unsubscribe up to then stops it).
SENDGRID_LEAD = dt.timedelta(minutes=15)


@dataclass(frozen=True)
class Choices:
    """What may stop an email at hand-over: the customers' choices and the suppressed addresses."""

    unsubscribed: frozenset[str] = frozenset()
    unsubscribed_inboxes: frozenset[str] = frozenset()
    opted_out: dict[str, frozenset[str]] = field(default_factory=dict)
    paused: frozenset[str] = frozenset()
    #: Addresses in inbox form (NFC, trimmed, case-folded).
    suppressed: frozenset[str] = frozenset()


def due_horizon(transport_name: str) -> dt.timedelta:
    """How long before its send_at an email is handed to the transport."""
    return SENDGRID_LEAD if transport_name == "sendgrid" else dt.timedelta(0)


def days_late(at: dt.datetime, zone: str, event_date: str) -> int:
    """Whole days from the event's day to ``at``'s day in the customer's zone."""
    local = at.astimezone(zoneinfo.ZoneInfo(zone)).date()
    return (local - dt.date.fromisoformat(str(event_date)[:10])).days


class SendCheck:
    """``check(messages) -> {key: (state, reason)}`` for the emails that may no longer go.

    ``at`` fixes the moment of hand-over (a replay: ``--at``); without it the clock is read
    at each call. ``load()`` returns the current :class:`Choices`.
    """

    def __init__(self, load: Callable[[dt.date], Choices], max_age_days: dict[str, int], *,
                 at: dt.datetime | None = None, default_timezone: str = "UTC", refresh_seconds: float = 1.0,
                 clock: Callable[[], dt.datetime] | None = None):
        self._load = load
        self._max_age = dict(max_age_days)
        self._at = at
        self._zone = default_timezone
        self._refresh = refresh_seconds
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._choices: Choices | None = None
        self._loaded = 0.0

    def now(self) -> dt.datetime:
        return self._at or self._clock()

    def choices(self, day: dt.date) -> Choices:
        if self._choices is None or time.monotonic() - self._loaded >= self._refresh:
            self._choices, self._loaded = self._load(day), time.monotonic()
        return self._choices

    def __call__(self, messages: list[dict[str, Any]]) -> dict[str, tuple[str, str]]:
        from milestones.ingest.identity import inbox

        now = self.now()
        choices = self.choices(now.date())
        out: dict[str, tuple[str, str]] = {}
        for m in messages:
            key, cid = m["key"], m["customer_id"]
            limit = self._max_age.get(m["event_type"])
            late = days_late(now, m.get("timezone") or self._zone, m["event_date"])
            if limit is not None and late > limit:
                out[key] = ("expired", f"{late} days after the event at hand-over, "
                                       f"later than its max_age_days ({limit})")
                continue
            box = inbox(m.get("email"))
            # A couple's email greets both: either one's "stop" stops it (it cannot be re-rendered now).
            people = (cid, m["partner_id"]) if m.get("partner_id") else (cid,)
            why = ("unsubscribed" if any(p in choices.unsubscribed for p in people)
                   else "unsubscribed_address" if box in choices.unsubscribed_inboxes
                   else "opted_out_of_type" if any(m["event_type"] in choices.opted_out.get(p, ()) for p in people)
                   else "paused" if any(p in choices.paused for p in people)
                   else "suppressed" if box in choices.suppressed else None)
            if why:
                out[key] = ("cancelled", why)
        return out
