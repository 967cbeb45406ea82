"""Choices re-read at hand-over, the 15-minute SendGrid lead, and emails that come too late."""

from __future__ import annotations

import datetime as dt

import pytest

from milestones.deliver.delivery import Outcome, deliver
from milestones.deliver.ledger import Ledger
from milestones.deliver.recheck import SENDGRID_LEAD, Choices, SendCheck, days_late, due_horizon
from milestones.ingest.identity import inbox

UTC = dt.UTC


def message(key="k1", cid="a", event_type="birthday", day="2026-11-22", zone="Europe/Helsinki",
            email="a@example.com", send_at=0) -> dict:
    return {"key": key, "customer_id": cid, "event_type": event_type, "event_date": day, "timezone": zone,
            "email": email, "send_at": send_at, "subject": "s", "html": "<p>h</p>", "text": "t",
            "unsubscribe_url": "https://u.example/x", "template_version": "v", "locale": "en"}


def check(choices: Choices | None = None, at: dt.datetime | None = None, **kw) -> SendCheck:
    return SendCheck(lambda day: choices or Choices(), {"birthday": 3, "marriage": 30}, at=at, **kw)


# --- expiry -------------------------------------------------------------------------------

@pytest.mark.parametrize("at, verdict", [
    # Helsinki is UTC+2 in November: its 25 November ends at 21:59:59 UTC.
    (dt.datetime(2026, 11, 25, 21, 59, 59, tzinfo=UTC), None),  # exactly 3 days late: still sent
    (dt.datetime(2026, 11, 25, 22, 0, 0, tzinfo=UTC), "expired"),  # the 4th day began in Helsinki
    (dt.datetime(2026, 11, 22, 0, 0, tzinfo=UTC), None),
])
def test_expiry_at_max_age_days_in_the_customers_zone(at, verdict):
    got = check(at=at)([message()])
    assert (got["k1"][0] if got else None) == verdict
    if verdict:
        assert "max_age_days (3)" in got["k1"][1]


def test_expiry_follows_each_types_max_age():
    at = dt.datetime(2026, 12, 10, 12, tzinfo=UTC)  # 18 days after
    got = check(at=at)([message("b"), message("m", event_type="marriage")])
    assert set(got) == {"b"} and got["b"][0] == "expired"


def test_days_late_in_the_customers_own_day():
    at = dt.datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert days_late(at, "Pacific/Auckland", "2026-11-22") == 1
    assert days_late(at, "America/Los_Angeles", "2026-11-22") == 0


def test_without_at_the_clock_is_read():
    moments = iter([dt.datetime(2026, 11, 22, 8, tzinfo=UTC), dt.datetime(2026, 12, 1, 8, tzinfo=UTC)])
    gate = check(clock=lambda: next(moments))
    assert gate([message()]) == {}
    assert gate([message()])["k1"][0] == "expired"


# --- choices ------------------------------------------------------------------------------

AT = dt.datetime(2026, 11, 22, 6, 45, tzinfo=UTC)


@pytest.mark.parametrize("choices, reason", [
    (Choices(unsubscribed=frozenset({"a"})), "unsubscribed"),
    (Choices(unsubscribed_inboxes=frozenset({inbox("A@Example.com")})), "unsubscribed_address"),
    (Choices(opted_out={"a": frozenset({"birthday"})}), "opted_out_of_type"),
    (Choices(paused=frozenset({"a"})), "paused"),
    (Choices(suppressed=frozenset({"a@example.com"})), "suppressed"),
    (Choices(opted_out={"a": frozenset({"marriage"})}), None),
    (Choices(unsubscribed=frozenset({"b"})), None),
])
def test_choices_at_hand_over(choices, reason):
    got = check(choices, at=AT)([message(email=" A@example.COM")])
    assert got == ({"k1": ("cancelled", reason)} if reason else {})


def test_a_couples_email_stops_when_either_says_stop():
    email = {**message(cid="a"), "partner_id": "m"}
    assert check(Choices(opted_out={"m": frozenset({"birthday"})}), at=AT)([email]) == {
        "k1": ("cancelled", "opted_out_of_type")}
    assert check(Choices(paused=frozenset({"m"})), at=AT)([email]) == {"k1": ("cancelled", "paused")}
    assert check(Choices(paused=frozenset({"x"})), at=AT)([email]) == {}


def test_choices_are_read_again_after_the_refresh_interval():
    state = {"now": Choices()}
    gate = SendCheck(lambda day: state["now"], {"birthday": 3}, at=AT, refresh_seconds=0.0)
    assert gate([message()]) == {}
    state["now"] = Choices(unsubscribed=frozenset({"a"}))
    assert gate([message()]) == {"k1": ("cancelled", "unsubscribed")}


# --- the ledger and the send loop ------------------------------------------------------------

class Recorder:
    name = "outbox"

    def __init__(self):
        self.sent: list[str] = []

    def send(self, m):
        self.sent.append(m["key"])
        return Outcome("accepted", message_id=f"x:{m['key']}")


def test_close_stops_only_pending_emails(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path}/l.db")
    ledger.register([{"key": k, "customer_id": "a", "event_type": "birthday", "event_date": "2026-11-22"}
                     for k in ("p", "s")])
    ledger.finish("s", "accepted")
    assert ledger.close({"p": ("cancelled", "unsubscribed"), "s": ("expired", "late")}) == {"p": "cancelled"}
    assert ledger.get("p")["state"] == "cancelled" and ledger.get("p")["last_error"] == "unsubscribed"
    assert ledger.get("s")["state"] == "accepted"
    with pytest.raises(ValueError):
        ledger.close({"p": ("accepted", "no")})


def test_deliver_never_hands_over_what_the_check_stops(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path}/l.db")
    transport = Recorder()
    gate = check(Choices(unsubscribed=frozenset({"b"})), at=dt.datetime(2026, 11, 22, 8, tzinfo=UTC))
    msgs = [message("k1", "a"), message("k2", "b", email="b@example.com"), message("k3", "c", day="2026-11-10")]
    counts = deliver(msgs, transport, ledger, concurrency=2, check=gate)
    assert transport.sent == ["k1"]
    assert counts == {"sent": 1, "cancelled": 1, "expired": 1}
    assert ledger.states() == {"k1": "accepted", "k2": "cancelled", "k3": "expired"}
    again = deliver(msgs, transport, ledger, concurrency=2, check=gate)
    assert transport.sent == ["k1"]
    assert again == {"already_sent": 1, "already_cancelled": 1, "already_expired": 1}


def test_sendgrid_gets_an_email_15_minutes_before_send_at_at_most(tmp_path):
    from milestones import pipeline
    from milestones.core.config import load_settings

    settings = load_settings(data_dir=tmp_path / "data", public_url="https://milestones.bank-test.fi")
    send_at = dt.datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    def row(key: str, late: int) -> tuple:
        m = {**message(key, key, send_at=int((send_at + dt.timedelta(seconds=late)).timestamp())),
             "template": "birthday", "variant": "base", "partner_id": "", "unsubscribe_url": "https://milestones.bank-test.fi/u/x"}
        return tuple(m[c] for c in pipeline.MESSAGE_COLUMNS)

    frame = pipeline.message_frame([row("on_time", 0), row("one_second_later", 1)])
    path = pipeline.storage.stage_dir(settings.data_dir, "messages", "2026-11-22") / "messages.parquet"
    pipeline.storage.write_parquet(frame, path)

    class FakeSendGrid(Recorder):
        name = "sendgrid"

    transport = FakeSendGrid()
    assert due_horizon("sendgrid") == SENDGRID_LEAD == dt.timedelta(minutes=15)
    assert due_horizon("outbox") == dt.timedelta(0)
    cutoff = send_at - SENDGRID_LEAD
    pipeline.deliver_stage("2026-11-22", settings, due_before=cutoff - dt.timedelta(seconds=1), at=cutoff,
                           transport=transport)
    assert transport.sent == []
    pipeline.deliver_stage("2026-11-22", settings, due_before=cutoff, at=cutoff, transport=transport)
    assert transport.sent == ["on_time"]
