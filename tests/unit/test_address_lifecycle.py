"""The address lifecycle: hard failures suppress at once, soft ones only when repeated,
operators list and lift suppressions (recorded), and the optional sunset rule."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from milestones import pipeline
from milestones.cli import main
from milestones.core import storage
from milestones.core.config import Settings, load_settings
from milestones.deliver.ledger import Ledger, emails
from milestones.measure.feedback import Feedback
from milestones.privacy import suppressions

NOW = dt.datetime.now(dt.UTC)
DAY = dt.date(2026, 11, 22)


def _at(days_ago: float) -> int:
    return int((NOW - dt.timedelta(days=days_ago)).timestamp())


@pytest.fixture
def url(tmp_path):
    return f"sqlite:///{tmp_path / 'ledger.sqlite'}"


def _suppressed(url):
    return {r["email"]: (r["reason"], r["event_id"]) for r in suppressions.listing(url)}


def test_documented_defaults():
    s = Settings()
    assert (s.soft_failure_limit, s.soft_failure_days, s.sunset_months) == (3, 30, 0)
    with pytest.raises(ValueError, match="soft_failure_days"):
        Settings(soft_failure_days=0)


def test_hard_bounce_and_spam_report_suppress_at_once_with_their_event(url):
    fb = Feedback(url, soft_failure_limit=3, soft_failure_days=30)
    counts = fb.ingest([
        {"event": "bounce", "type": "bounce", "email": "Hard@Example.com", "sg_event_id": "b1", "timestamp": _at(1)},
        {"event": "spamreport", "email": "spam@example.com", "sg_event_id": "s1", "timestamp": _at(1)},
        {"event": "bounce", "email": "notype@example.com", "sg_event_id": "b2", "timestamp": _at(1)},
    ])
    assert counts["suppressed"] == 3
    assert _suppressed(url) == {"hard@example.com": ("bounce", "sg:b1"), "spam@example.com": ("spamreport", "sg:s1"),
                                "notype@example.com": ("bounce", "sg:b2")}
    assert [(r["email"], r["action"], r["actor"]) for r in suppressions.log_of(url, "hard@example.com")] == [
        ("hard@example.com", "added", "webhook")]


def test_blocked_and_deferred_suppress_only_when_repeated_on_different_emails(url):
    fb = Feedback(url, soft_failure_limit=3, soft_failure_days=30)
    soft = "soft@example.com"
    # One email deferred three times, one blocked: two different emails, not yet three.
    fb.ingest([{"event": "deferred", "email": soft, "key": "k1", "sg_event_id": f"d{i}", "timestamp": _at(5)}
               for i in range(3)] + [
        {"event": "bounce", "type": "blocked", "email": soft, "key": "k2", "sg_event_id": "x2", "timestamp": _at(4)}])
    assert _suppressed(url) == {}
    # A third email's soft failure, but 40 days ago: outside the window.
    fb.ingest([{"event": "bounce", "type": "blocked", "email": soft, "key": "k0", "sg_event_id": "old",
                "timestamp": _at(40)}])
    assert _suppressed(url) == {}
    fb.ingest([{"event": "deferred", "email": soft, "key": "k3", "sg_event_id": "d9", "timestamp": _at(1)}])
    assert _suppressed(url) == {soft: ("soft_failures", "sg:d9")}


def test_soft_failures_never_suppress_with_a_limit_of_zero(url):
    fb = Feedback(url, soft_failure_limit=0, soft_failure_days=30)
    fb.ingest([{"event": "bounce", "type": "blocked", "email": "a@example.com", "key": f"k{i}",
                "sg_event_id": f"b{i}", "timestamp": _at(1)} for i in range(5)])
    assert _suppressed(url) == {}


def test_the_limit_comes_from_settings(url, monkeypatch):
    monkeypatch.setenv("MILESTONES_SOFT_FAILURE_LIMIT", "2")
    fb = Feedback(url)
    assert (fb.soft_failure_limit, fb.soft_failure_days) == (2, 30)
    fb.ingest([{"event": "deferred", "email": "a@example.com", "key": f"k{i}", "sg_event_id": f"d{i}",
                "timestamp": _at(1)} for i in range(2)])
    assert _suppressed(url) == {"a@example.com": ("soft_failures", "sg:d1")}


def test_operators_list_and_lift_a_suppression_with_who_and_why(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(data))
    url = load_settings().ledger_database_url
    Feedback(url).ingest([{"event": "bounce", "email": "gone@example.com", "sg_event_id": "b1"}])
    assert main(["suppressions", "list"]) == 0
    listed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert listed["suppressed"] == 1 and listed["addresses"][0]["reason"] == "bounce"
    assert main(["suppressions", "remove", "gone@example.com", "--by", "ops"]) == 2  # no --note
    assert "--note" in capsys.readouterr().err
    assert main(["suppressions", "remove", "GONE@example.com", "--by", "ops", "--note", "mailbox fixed"]) == 0
    capsys.readouterr()
    assert _suppressed(url) == {}
    log = suppressions.log_of(url, "gone@example.com")
    assert [(r["action"], r["reason"], r["actor"], r["note"]) for r in log] == [
        ("added", "bounce", "webhook", None), ("removed", "bounce", "ops", "mailbox fixed")]
    assert main(["suppressions", "remove", "gone@example.com", "--by", "ops", "--note", "again"]) == 2


def test_an_older_suppressions_table_gains_the_event_column(tmp_path):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE suppressions (email VARCHAR(320) PRIMARY KEY, reason VARCHAR(32) "
                             "NOT NULL, created_at DATETIME NOT NULL)")
        conn.exec_driver_sql("INSERT INTO suppressions VALUES ('old@example.com', 'bounce', '2026-01-01 00:00:00')")
    Feedback(url).ingest([{"event": "spamreport", "email": "new@example.com", "sg_event_id": "s1"}])
    assert _suppressed(url) == {"old@example.com": ("bounce", None), "new@example.com": ("spamreport", "sg:s1")}


def _emailed(url, rows):
    """Accepted emails: (customer, created days ago, opened days ago or None)."""
    ledger = Ledger(url)
    ledger.register([{"key": f"{c}/{i}", "customer_id": c, "event_type": "birthday", "event_date": "2026-01-01"}
                     for i, (c, _, _) in enumerate(rows)])
    with ledger.engine.begin() as conn:
        for i, (c, created, opened) in enumerate(rows):
            conn.execute(emails.update().where(emails.c.key == f"{c}/{i}").values(
                state="accepted", created_at=dt.datetime.combine(DAY, dt.time(), dt.UTC) - dt.timedelta(days=created),
                opened_at=None if opened is None else dt.datetime.combine(DAY, dt.time(), dt.UTC)
                - dt.timedelta(days=opened)))


def _decide(settings, ids):
    snapshot = pd.DataFrame({"customer_id": ids, "email": [f"{c}@example.com" for c in ids],
                             "marketing_opt_in": True, "deceased": False})
    snap = storage.write_parquet(snapshot, storage.stage_dir(settings.data_dir, "snapshots", DAY) / "snapshot.parquet")
    events = pd.DataFrame({"customer_id": ids, "event_type": "birthday", "event_date": pd.Timestamp(DAY),
                           "key": [f"{c}/birthday/{DAY}" for c in ids], "stale": False})
    storage.write_parquet(events, storage.stage_dir(settings.data_dir, "events", DAY) / "events.parquet")
    decided = storage.read_parquet(pipeline.decide_stage(DAY, settings, snapshot=snap)["decisions"])
    return dict(zip(decided["customer_id"], decided["reason"], strict=True))


def test_sunset_is_off_by_default_and_stops_only_the_unengaged(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.0, frequency_cap_days=0)
    url = settings.ledger_database_url
    _emailed(url, [("silent", 200, None), ("reader", 200, 20), ("new", 60, None), ("old_reader", 300, 190)])
    ids = ["silent", "reader", "new", "old_reader", "never"]
    assert set(_decide(settings, ids).values()) == {""}
    got = _decide(settings.replace(sunset_months=6), ids)
    assert got == {"silent": "sunset", "reader": "", "new": "", "old_reader": "sunset", "never": ""}
