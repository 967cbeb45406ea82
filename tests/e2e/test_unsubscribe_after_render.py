"""A "stop" stops what is already scheduled: rendered in the morning, unsubscribed before the send
hour, never handed to SendGrid (the Prism stand-in of SendGrid's Mail Send API, 127.0.0.1)."""

from __future__ import annotations

import datetime as dt

from milestones.deliver.sendgrid_transport import SendGridTransport
from tests.e2e.test_sendgrid_prism import prism  # noqa: F401 - the stand-in, started once per module

DAY = "2026-11-22"
MORNING = dt.datetime(2026, 11, 22, 5, 0, tzinfo=dt.UTC)


class Spy(SendGridTransport):
    """The real transport, noting every email it is handed."""

    handed: list[str] = []

    def start(self, messages, concurrency, done):
        self.handed.extend(m["key"] for m in messages)
        return super().start(messages, concurrency, done)


def test_unsubscribe_after_render_stops_the_scheduled_email(prism, tmp_path, capsys):  # noqa: F811
    from milestones import pipeline
    from milestones.cli import main
    from milestones.core.config import load_settings
    from milestones.decide.preferences import Change, Preferences
    from milestones.deliver.ledger import Ledger
    from tests.conftest import SAMPLES

    settings = load_settings(data_dir=tmp_path / "data", public_url="https://milestones.bank-test.fi",
                             holdout_share=0.0)
    rendered = pipeline.run(SAMPLES / "customers_2026-11-22.csv", DAY, settings,
                            previous=SAMPLES / "customers_2026-11-21.csv", at=MORNING, deliver=False)
    assert rendered["emails_sent"] == 0 and rendered["at"] == MORNING.isoformat()
    messages = pipeline.storage.read_parquet(settings.data_dir / "messages" / DAY / "messages.parquet")
    helsinki = messages[messages["timezone"] == "Europe/Helsinki"].sort_values("key")
    assert len(helsinki) >= 2
    send_at = int(helsinki["send_at"].iloc[0])  # 09:00 in Helsinki: 07:00 UTC
    assert (helsinki["send_at"] == send_at).all()
    stopper, other = helsinki.iloc[0], helsinki.iloc[1]

    # Clicks one-click unsubscribe at 06:45 UTC, exactly 15 minutes before the send hour.
    cutoff = dt.datetime.fromtimestamp(send_at, dt.UTC) - dt.timedelta(minutes=15)
    Preferences(settings.ledger_database_url).apply(stopper["customer_id"], Change(unsubscribed=True), "one_click",
                                                    email=stopper["email"], now=cutoff)

    transport = Spy("SG.prism-test-key", prism, from_email=settings.from_email, from_name=settings.from_name,
                    timeout=10)
    Spy.handed = []
    # An hour earlier nothing of Helsinki's is handed over yet (SendGrid gets 15 minutes at most).
    early = pipeline.deliver_stage(DAY, settings, due_before=cutoff - dt.timedelta(hours=1),
                                   at=cutoff - dt.timedelta(hours=1), transport=transport)
    assert stopper["key"] not in Spy.handed and other["key"] not in Spy.handed, early
    delivered = pipeline.deliver_stage(DAY, settings, due_before=cutoff, at=cutoff, transport=transport)
    ledger = Ledger(settings.ledger_database_url)
    assert stopper["key"] not in Spy.handed
    assert ledger.get(stopper["key"])["state"] == "cancelled"
    assert ledger.get(stopper["key"])["last_error"] == "unsubscribed"
    assert other["key"] in Spy.handed and ledger.get(other["key"])["state"] == "accepted"
    assert delivered["cancelled"] >= 1 and delivered["sent"] >= 1

    # Later runs never send it either; `why` tells the customer's story.
    again = pipeline.deliver_stage(DAY, settings, due_before=cutoff + dt.timedelta(hours=1),
                                   at=cutoff + dt.timedelta(hours=1), transport=transport)
    assert stopper["key"] not in Spy.handed and again.get("already_cancelled") == 1
    capsys.readouterr()
    assert main(["why", stopper["customer_id"], "--data-dir", str(settings.data_dir)]) == 0
    said = capsys.readouterr().out
    assert "email cancelled" in said and "unsubscribed" in said
