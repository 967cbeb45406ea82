"""Issue 26 on a real PostgreSQL server (and SQLite): a NUL or a lone surrogate in one webhook
event rejects that event alone, and a value PostgreSQL refuses that no check foresaw costs only its
event (never the chunk, never a log line listing the chunk's addresses); ``preferences import``
with hostile ids applies nothing."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from milestones.decide.preferences import Preferences
from milestones.decide.preferences_import import import_csv
from milestones.ingest.errors import ExtractError
from milestones.measure import feedback
from milestones.measure.feedback import Feedback
from tests.pg import clean_database_url, postgres_server

TABLES = "preferences, preference_history, emails, webhook_events, webhook_rejected_events, suppressions"
MARK = "Poison-Person-0815"


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return clean_database_url(request, tmp_path, TABLES)


def _good(n: int) -> list[dict]:
    return [{"event": "bounce", "email": f"g{i}@example.com", "sg_event_id": f"g{i}", "customer_id": f"G{i}"}
            for i in range(n)]


def test_nul_and_surrogates_reject_one_event_each(db_url, caplog):
    events = _good(2) + [{"event": "bounce", "email": f"{MARK}\x00@example.com"},
                         {"event": "bounce", "email": f"{MARK}\ud800@example.com"}] + _good(5)[2:]
    caplog.set_level(logging.DEBUG)
    counts = Feedback(db_url).ingest(events)
    assert counts == {"stored": 5, "rejected": 2, "suppressed": 5}
    assert MARK not in caplog.text


def test_a_value_postgresql_refuses_costs_only_its_event(db_url, monkeypatch, caplog):
    checked = feedback.event_row

    def unchecked(event, now):  # as if a check were missing: the database must refuse it
        row = checked(event, now)
        if event.get("sg_event_id") == "slipped":
            row["email"] = f"{MARK}\x00@example.com" if db_url.startswith("postgresql") else f"{MARK}\ud800"
        return row

    monkeypatch.setattr(feedback, "event_row", unchecked)
    caplog.set_level(logging.DEBUG)
    events = _good(3) + [{"event": "bounce", "sg_event_id": "slipped", "email": "x@example.com"}] + _good(3)[1:]
    fb = Feedback(db_url)
    counts = fb.ingest(_good(3) + [events[3]])
    assert counts == {"stored": 3, "rejected": 1, "suppressed": 3}
    with fb.engine.connect() as conn:
        reason = conn.execute(sa.select(feedback.rejected_events.c.reason)).scalar_one()
    assert reason.startswith("event 4 of its chunk: the database refused it (")
    assert MARK not in caplog.text and "[parameters" not in caplog.text


@pytest.mark.parametrize("row", ['"C2\r\nX",true,,,', "C2\x00,true,,,", "\u202eC2,true,,,",
                                 "=HYPERLINK(1),true,,,", "J" * 65 + ",true,,,"])
def test_preferences_import_with_a_hostile_id_applies_nothing(db_url, tmp_path, row):
    path = tmp_path / "crm.csv"
    path.write_text("customer_id,unsubscribed,opted_out_types,paused_until,email_language\nC1,true,,,\n"
                    + row + "\nC3,true,,,\n", encoding="utf-8", newline="")
    with pytest.raises(ExtractError, match=r"1 bad row\(s\), nothing applied: line 3: customer_id: "):
        import_csv(db_url, path, {"birthday"})
    store = Preferences(db_url)
    assert not store.get("C1").exists and not store.get("C3").exists
