"""The same ledger guarantees on SQLite and on a real PostgreSQL server (racing worker
processes included: the one race test for both databases)."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from milestones.deliver.delivery import deliver
from milestones.deliver.ledger import Ledger
from milestones.measure.feedback import Feedback
from tests.e2e.test_sendgrid_faults import message, transport
from tests.pg import clean_database_url, postgres_server
from tests.servers.fault_server import FaultServer


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return clean_database_url(request, tmp_path, "emails, webhook_events, suppressions")


def row(key: str, day: str = "2026-11-22") -> dict:
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": day,
            "template_version": "v1", "transport": "sendgrid"}


def test_register_claim_finish(db_url):
    ledger = Ledger(db_url)
    assert ledger.register([row("a"), row("b")]) == 2
    assert ledger.register([row("a"), row("c")]) == 1
    assert ledger.claim_many(["a", "b", "c"]) == {"a", "b", "c"}
    assert ledger.claim_many(["a", "b"]) == set()
    ledger.finish_many([{"key": "a", "state": "accepted", "message_id": "m1", "transport": "sendgrid"},
                        {"key": "b", "state": "failed", "error": "HTTP 400", "transport": "sendgrid"}])
    assert ledger.states() == {"a": "accepted", "b": "failed", "c": "sending"}
    assert ledger.get("a")["message_id"] == "m1"
    ledger.finish_many([{"key": "c", "state": "unknown", "error": "timeout"}])  # names no transport
    assert (ledger.get("c")["state"], ledger.get("c")["transport"]) == ("unknown", "sendgrid")
    assert sorted(ledger.contacted_since("2026-11-01")) == [("C-a", "a"), ("C-c", "c")]


def test_one_winner_per_claim_across_threads(db_url):
    ledger = Ledger(db_url)
    ledger.register([row(f"k{i}") for i in range(50)])
    won: list[set] = []
    keys = [f"k{i}" for i in range(50)]
    threads = [threading.Thread(target=lambda: won.append(ledger.claim_many(keys))) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    claimed = [k for w in won for k in w]
    assert sorted(claimed) == sorted(keys)  # every key claimed exactly once


def _worker(url: str, db: str, keys: list[str]) -> None:
    deliver([message(k) for k in keys], transport(url), Ledger(db), concurrency=4, batch_size=25)


def test_worker_processes_with_overlapping_batches_never_send_twice(db_url):
    Ledger(db_url)
    keys = [f"p{i}" for i in range(150)]
    with FaultServer() as server:
        ctx = multiprocessing.get_context("spawn")
        procs = [ctx.Process(target=_worker, args=(server.url, db_url, keys[i:] + keys[:i])) for i in (0, 50, 100)]
        for p in procs:
            p.start()
        for p in procs:
            p.join(180)
            assert p.exitcode == 0
    assert server.accepted == {k: 1 for k in keys}
    assert sum(server.received.values()) == len(keys)
    assert set(Ledger(db_url).states().values()) == {"accepted"}


def test_webhook_tables(db_url):
    feedback = Feedback(db_url)
    counts = feedback.ingest([{"event": "bounce", "email": "B@example.com", "sg_event_id": "1"},
                              {"event": "bounce", "email": "B@example.com", "sg_event_id": "1"}])
    assert counts == {"stored": 1, "suppressed": 1, "duplicate": 1}
    assert feedback.suppressed() == {"b@example.com": "bounce"}


def test_a_ledger_from_before_cancelled_and_expired_is_widened_on_open(db_url):
    """An older release's CHECK (five states) is replaced on open: a cancellation no longer fails."""
    import sqlalchemy as sa

    stamp = "TIMESTAMP WITH TIME ZONE" if db_url.startswith("postgresql") else "DATETIME"
    old = (f"CREATE TABLE emails (key VARCHAR(64) PRIMARY KEY, customer_id VARCHAR(64) NOT NULL,"
           f" event_type VARCHAR(64) NOT NULL, event_date VARCHAR(10) NOT NULL,"
           f" template_version VARCHAR(64) NOT NULL, state VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL,"
           f" transport VARCHAR(32) NOT NULL, message_id VARCHAR(255), send_at {stamp},"
           f" created_at {stamp} NOT NULL, updated_at {stamp} NOT NULL, last_error TEXT,"
           f" delivered_at {stamp}, opened_at {stamp}, clicked_at {stamp},"
           f" CONSTRAINT emails_state_valid CHECK (state IN ('pending', 'sending', 'accepted', 'failed', 'unknown')))")
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS email_recipients")
        conn.exec_driver_sql("DROP TABLE IF EXISTS emails")
        conn.exec_driver_sql(old)
        conn.execute(sa.text("INSERT INTO emails VALUES ('k1', 'C1', 'birthday', '2026-11-22', 'v', 'pending', 0,"
                             " 'outbox', NULL, NULL, :t, :t, NULL, NULL, NULL, NULL)"),
                     {"t": "2026-11-22 06:00:00+00:00"})
    engine.dispose()
    from milestones.deliver.ledger import forget_checked

    forget_checked()  # the check runs once per process and database: this test changed the schema under it
    ledger = Ledger(db_url)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE emails SET state = 'expired' WHERE key = 'k1'"))
        assert conn.execute(sa.text("SELECT customer_id, state FROM emails")).all() == [("C1", "expired")]
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE emails SET state = 'bogus' WHERE key = 'k1'"))
