"""A ledger created before ``cancelled``/``expired`` existed is widened in place on open."""

from __future__ import annotations

import sqlite3

import pytest
import sqlalchemy as sa

from milestones.deliver.ledger import Ledger

pytestmark = pytest.mark.unit

#: The emails table as the release before issue 23 created it (five states).
OLD = """CREATE TABLE emails (
    key VARCHAR(64) NOT NULL, customer_id VARCHAR(64) NOT NULL, event_type VARCHAR(64) NOT NULL,
    event_date VARCHAR(10) NOT NULL, template_version VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL, transport VARCHAR(32) NOT NULL, message_id VARCHAR(255),
    send_at DATETIME, created_at DATETIME NOT NULL, updated_at DATETIME NOT NULL, last_error TEXT,
    delivered_at DATETIME, opened_at DATETIME, clicked_at DATETIME, PRIMARY KEY (key),
    CONSTRAINT emails_state_valid CHECK (state IN ('pending', 'sending', 'accepted', 'failed', 'unknown')))"""


def _old_ledger(path) -> None:
    with sqlite3.connect(path) as db:
        db.execute(OLD)
        db.execute("INSERT INTO emails VALUES ('k1', 'C1', 'birthday', '2026-11-22', 'v', 'pending', 0, 'outbox',"
                   " NULL, NULL, '2026-11-22 06:00:00', '2026-11-22 06:00:00', NULL, NULL, NULL, NULL)")
    with sqlite3.connect(path) as db, pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE emails SET state = 'cancelled' WHERE key = 'k1'")  # the old CHECK bites


def test_an_old_sqlite_ledger_takes_the_new_states_and_keeps_its_rows(tmp_path):
    path = tmp_path / "ledger.sqlite"
    _old_ledger(path)
    ledger = Ledger(f"sqlite:///{path}")
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE emails SET state = 'cancelled' WHERE key = 'k1'"))
        assert conn.execute(sa.text("SELECT customer_id, state FROM emails")).all() == [("C1", "cancelled")]
        with pytest.raises(sa.exc.IntegrityError):  # still a CHECK: an unknown state is refused
            conn.execute(sa.text("UPDATE emails SET state = 'bogus' WHERE key = 'k1'"))
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert "'expired'" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'emails'").fetchone()[0]


def test_a_current_ledger_is_left_alone(tmp_path):
    from milestones.deliver.ledger import STATES
    from milestones.deliver.ledger_upgrade import widen_state_check

    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    assert widen_state_check(ledger.engine, STATES) is False
