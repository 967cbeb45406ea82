"""The hand-over check as delivery runs it: the customers' choices and the suppressions as the
database holds them now, the event types' max_age_days (:mod:`milestones.deliver.recheck`)."""

from __future__ import annotations

import datetime as dt

from milestones.core.config import Settings


def send_check(settings: Settings, at: dt.datetime | None = None):
    """The hand-over check (:mod:`milestones.deliver.recheck`): choices and suppressions read
    again, the event types' max_age_days; ``at`` fixes the moment (a replay)."""
    from milestones.deliver.recheck import Choices, SendCheck
    from milestones.detect.events import load_rules
    from milestones.ingest.identity import inbox
    from milestones.measure.feedback import Feedback

    feedback = Feedback(settings.ledger_database_url)

    def load(day: dt.date) -> Choices:
        view = feedback.preferences.policy_view(day)
        return Choices(view.unsubscribed, view.unsubscribed_inboxes, view.opted_out, view.paused,
                       frozenset(inbox(a) for a in feedback.suppressed()))

    return SendCheck(load, {r.event_type: r.max_age_days for r in load_rules()}, at=at,
                     default_timezone=settings.default_timezone)
