"""The send ledger on a real PostgreSQL server (production's database): what only PostgreSQL runs.

The send loop's statements are written once for SQLite and PostgreSQL (the driver's placeholders,
the timestamp as each driver takes it, SQLite's planner hint left out); emails in doubt are
listed oldest first and, among those of one moment, by key (:meth:`Ledger.in_doubt`).

Each test gets a fresh database of one server shared by the whole run (``postgres_url``,
tests/conftest.py). Expected values are written by hand from the docstrings.
"""

from __future__ import annotations

import datetime as dt

import pytest

from milestones.deliver.ledger import Ledger
from tests.unit import test_ledger_edges as on_sqlite

pytestmark = pytest.mark.needs("postgresql")

T0, row = on_sqlite.T0, on_sqlite.row
clock = on_sqlite.clock  # the fixture that sets the ledger's clock (a test moves it)
T1 = T0 + dt.timedelta(minutes=1)
T2 = T0 + dt.timedelta(minutes=2)


@pytest.fixture
def ledger(postgres_url, clock):
    return Ledger(postgres_url)


def test_one_step_registers_closes_records_and_claims(ledger, clock):
    assert ledger.register([row("a"), row("b"), row("c"), row("d", transport="outbox")]) == 4
    assert ledger.register([row("a")]) == 0  # a key known already is left as it is
    clock["t"] = T1
    assert ledger.claim_many(["d"]) == {"d"}
    clock["t"] = T2
    done = ledger.step(outcomes=[{"key": "d", "state": "accepted", "message_id": "m-d"}],
                       close={"c": ("expired", "too late")}, claim=["a", "b", "c", "d"])
    assert (done.new, done.closed, done.won, done.held) == (0, {"c": "expired"}, {"a", "b"}, {"d": "accepted"})
    assert ledger.step(claim=["a"]).held == {"a": "sending"}  # won once only

    def seen(key):
        got = ledger.get(key)
        return {k: got[k] for k in ("state", "attempts", "transport", "message_id", "last_error", "created_at",
                                    "updated_at")}

    assert seen("a") == {"state": "sending", "attempts": 1, "transport": "", "message_id": None,
                         "last_error": None, "created_at": T0, "updated_at": T2}
    assert seen("c") == {"state": "expired", "attempts": 0, "transport": "", "message_id": None,
                         "last_error": "too late", "created_at": T0, "updated_at": T2}
    assert seen("d") == {"state": "accepted", "attempts": 1, "transport": "outbox", "message_id": "m-d",
                         "last_error": None, "created_at": T0, "updated_at": T2}


def test_emails_in_doubt_since_one_moment_are_listed_by_key(ledger, clock):
    ledger.register([row(k) for k in "abcdefghij"])
    clock["t"] = T1
    for key in "edcba":  # claimed one by one, the last key first, at one moment
        assert ledger.claim(key)
    for key in "jihgf":
        assert ledger.claim(key)
    clock["t"] = T2
    for key in "jihgf":
        ledger.finish(key, "unknown")
    assert ledger.in_doubt() == {"sending": {"total": 5, "keys": ["a", "b", "c", "d", "e"]},
                                 "unknown": {"total": 5, "keys": ["f", "g", "h", "i", "j"]}}
    assert ledger.in_doubt(limit=2) == {"sending": {"total": 5, "keys": ["a", "b"]},
                                        "unknown": {"total": 5, "keys": ["f", "g"]}}
