"""Fast unit tests that kill the mutants of deliver.ledger: the ledger's records and queries.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from milestones.deliver import ledger as ledger_module
from milestones.deliver.ledger import Ledger

T0 = dt.datetime(2026, 11, 22, 8, tzinfo=dt.UTC)


@pytest.fixture
def clock(monkeypatch):
    now = {"t": T0}
    monkeypatch.setattr(ledger_module, "_now", lambda: now["t"])
    return now


@pytest.fixture
def ledger(tmp_path, clock):
    return Ledger(f"sqlite:///{tmp_path / 'deep' / 'ledger.sqlite'}")


def row(key, customer="C1", **extra):
    return {"key": key, "customer_id": customer, "event_type": "birthday", "event_date": "2026-11-22", **extra}


def test_a_sqlite_ledger_makes_its_folder(tmp_path):
    Ledger(f"sqlite:///{tmp_path / 'a' / 'b' / 'l.sqlite'}")
    assert (tmp_path / "a" / "b" / "l.sqlite").is_file()


def test_register_inserts_new_keys_once_with_their_defaults(ledger):
    assert ledger.register([row("k1"), row("k1"), row("k2", template_version="v2", transport="outbox")]) == 2
    assert ledger.register([row("k1")]) == 0
    assert ledger.register([]) == 0
    got = ledger.get("k1")
    assert {k: got[k] for k in ("customer_id", "event_type", "event_date", "template_version", "state", "attempts",
                                "transport", "message_id", "last_error")} == {
        "customer_id": "C1", "event_type": "birthday", "event_date": "2026-11-22", "template_version": "",
        "state": "pending", "attempts": 0, "transport": "", "message_id": None, "last_error": None}
    assert (ledger.get("k2")["template_version"], ledger.get("k2")["transport"]) == ("v2", "outbox")
    assert ledger.get("nothing") is None


def test_many_rows_in_several_statements(ledger):
    keys = [f"k{i:04d}" for i in range(1201)]
    assert ledger.register(row(k) for k in keys) == 1201
    done = ledger.step(claim=keys + ["never-registered"])
    assert done.won == set(keys) and done.held == {"never-registered": "pending"}
    assert len(ledger.states(keys)) == 1201 and set(ledger.states(keys).values()) == {"sending"}
    ledger.finish_many([{"key": k, "state": "accepted"} for k in keys])
    assert ledger.counts() == {"accepted": 1201}


def test_a_partner_is_linked_once(ledger):
    ledger.register([row("k1", partner_id="C2"), row("k2")])
    ledger.register([row("k1", partner_id="C2")])
    assert ledger.recipients_of("k1") == ["C1", "C2"] and ledger.recipients_of("k2") == ["C1"]
    assert ledger.recipients_of("none") == []


def test_claims_win_once_and_count_attempts_and_others_see_the_state(ledger):
    ledger.register([row("a"), row("b"), row("c")])
    assert ledger.claim("a") and not ledger.claim("a")
    assert ledger.get("a")["attempts"] == 1 and ledger.get("a")["state"] == "sending"
    ledger.finish("a", "pending", error="try later")
    assert ledger.claim("a") and ledger.get("a")["attempts"] == 2
    ledger.finish("b", "failed")
    done = ledger.step(outcomes=[{"key": "a", "state": "accepted", "message_id": "m1"}], claim=["a", "b", "c"])
    assert done.won == {"c"} and done.held == {"a": "accepted", "b": "failed"}
    nothing = ledger.step()
    assert (nothing.won, nothing.held) == (set(), {})


def test_an_outcome_keeps_the_registered_transport_unless_it_names_one_and_masks_secrets(ledger):
    ledger.register([row("a", transport="outbox"), row("b", transport="outbox")])
    ledger.claim_many(["a", "b"])
    ledger.finish_many([{"key": "a", "state": "failed", "error": "Authorization: Bearer abc.def.ghi"},
                        {"key": "b", "state": "accepted", "message_id": "m-b", "transport": "sendgrid"}])
    a, b = ledger.get("a"), ledger.get("b")
    assert (a["state"], a["transport"], a["message_id"]) == ("failed", "outbox", None)
    assert "abc.def.ghi" not in a["last_error"] and a["last_error"].startswith("Authorization: Bearer ")
    assert (b["state"], b["transport"], b["message_id"], b["last_error"]) == ("accepted", "sendgrid", "m-b", None)


def test_finish_writes_only_what_it_is_given(ledger):
    ledger.register([row("a", transport="outbox")])
    ledger.finish("a", "accepted", message_id="m1", transport="sendgrid")
    ledger.finish("a", "accepted", error="note")
    got = ledger.get("a")
    assert (got["message_id"], got["transport"], got["last_error"]) == ("m1", "sendgrid", "note")
    with pytest.raises(ValueError) as refused:
        ledger.finish("a", "sent")
    assert str(refused.value) == "unknown state 'sent'"


def test_close_stops_only_pending_emails_with_their_reason(ledger):
    ledger.register([row("a"), row("b"), row("c")])
    ledger.claim("b")
    closed = ledger.close({"a": ("cancelled", "r" * 2500), "b": ("expired", "late"), "c": ("expired", "late")})
    assert closed == {"a": "cancelled", "c": "expired"}
    assert ledger.get("a")["last_error"] == "r" * 2000 and ledger.get("b")["state"] == "sending"
    assert ledger.close({}) == {}
    with pytest.raises(ValueError) as refused:
        ledger.close({"a": ("failed", "no")})
    assert str(refused.value) == "close to cancelled or expired"


def test_settle_only_rows_left_sending_with_a_note(ledger):
    ledger.register([row("a"), row("b"), row("c")])
    ledger.claim_many(["a", "b"])
    assert ledger.settle({"a": "accepted", "b": "pending", "c": "accepted"}, transport="outbox") == 2
    assert ledger.get("a")["state"] == "accepted"
    assert ledger.get("a")["last_error"] == "recovered: the outbox transport holds this email"
    assert ledger.get("b")["state"] == "pending"
    assert ledger.get("b")["last_error"] == "recovered: the outbox transport never took this email; owed again"
    assert ledger.get("c")["state"] == "pending"
    with pytest.raises(ValueError) as refused:
        ledger.settle({"a": "failed"}, transport="outbox")
    assert str(refused.value) == "settle to accepted or pending"


def test_in_doubt_counts_and_lists_the_oldest_first(ledger, clock):
    ledger.register([row(k) for k in ("a", "b", "c", "d", "e")])
    clock["t"] = T0 + dt.timedelta(minutes=2)
    ledger.claim_many(["b", "a"])
    clock["t"] = T0 + dt.timedelta(minutes=1)
    ledger.claim("c")
    ledger.claim_many(["d", "e"])
    ledger.finish("d", "unknown")
    ledger.finish("e", "unknown")
    doubt = ledger.in_doubt(limit=2)
    assert doubt == {"sending": {"total": 3, "keys": ["c", "a"]}, "unknown": {"total": 2, "keys": ["d", "e"]}}
    assert ledger.in_doubt()["sending"]["keys"] == ["c", "a", "b"]


def test_states_of_some_or_all_keys(ledger):
    ledger.register([row("a"), row("b")])
    ledger.claim("b")
    assert ledger.states() == {"a": "pending", "b": "sending"}
    assert ledger.states(["b", "zz"]) == {"b": "sending"}
    assert ledger.states([]) == {}


def test_contacted_since_counts_what_was_or_may_have_been_sent_and_the_partners(ledger):
    ledger.register([row("acc", "C1", partner_id="P1"), row("snd", "C2"), row("unk", "C3"), row("fai", "C4"),
                     row("pen", "C5"), row("old", "C6", event_date="2026-11-21"),
                     row("edge", "C7", event_date="2026-11-22")])
    ledger.claim_many(["acc", "snd", "unk", "fai", "old", "edge"])
    ledger.finish_many([{"key": "acc", "state": "accepted"}, {"key": "unk", "state": "unknown"},
                        {"key": "fai", "state": "failed"}, {"key": "old", "state": "accepted"},
                        {"key": "edge", "state": "accepted"}])
    assert sorted(ledger.contacted_since("2026-11-22")) == [
        ("C1", "acc"), ("C2", "snd"), ("C3", "unk"), ("C7", "edge"), ("P1", "acc")]


def test_rows_stuck_sending_longer_than_the_limit_become_unknown(ledger, clock):
    ledger.register([row("a"), row("b")])
    ledger.claim("a")
    clock["t"] = T0 + dt.timedelta(minutes=10)
    ledger.claim("b")
    clock["t"] = T0 + dt.timedelta(minutes=15)
    assert ledger.mark_stale_unknown() == 0  # exactly 15 minutes: not older than that
    clock["t"] = T0 + dt.timedelta(minutes=15, seconds=1)
    assert ledger.mark_stale_unknown() == 1
    assert ledger.get("a")["state"] == "unknown" and ledger.get("b")["state"] == "sending"
    assert ledger.get("a")["last_error"] == "worker stopped between claim and answer"
    assert ledger.mark_stale_unknown(older_than=dt.timedelta(minutes=5)) == 1


@pytest.mark.parametrize("state", ["accepted", "pending", "failed"])
def test_an_operator_resolves_only_unknown_emails(ledger, state):
    ledger.register([row("a"), row("b")])
    ledger.claim_many(["a", "b"])
    ledger.finish("a", "unknown")
    assert ledger.resolve("a", state, "checked the provider's log")
    assert ledger.get("a")["state"] == state
    assert ledger.get("a")["last_error"] == "resolved by operator: checked the provider's log"
    assert not ledger.resolve("b", state, "x")  # sending: not in doubt as unknown
    assert not ledger.resolve("a", state, "again")


def test_resolving_to_another_state_is_refused(ledger):
    with pytest.raises(ValueError) as refused:
        ledger.resolve("a", "unknown", "x")
    assert str(refused.value) == "resolve to accepted, pending or failed"


def test_the_database_refuses_a_state_that_does_not_exist(ledger):
    ledger.register([row("a")])
    with pytest.raises(sa.exc.IntegrityError), ledger.engine.begin() as conn:
        conn.execute(sa.text("UPDATE emails SET state = 'sent' WHERE key = 'a'"))
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


class _Deadlock(Exception):
    sqlstate = "40P01"  # PostgreSQL's "deadlock detected"


def _failing_steps(monkeypatch, errors):
    """Make the next len(errors) steps do their work, then fail with those errors (rolled back)."""
    real = Ledger._step
    calls = []

    def step(self, conn, cursor, *args):
        calls.append(1)
        done = real(self, conn, cursor, *args)
        if errors:
            raise sa.exc.OperationalError("step", {}, errors.pop(0))
        return done

    monkeypatch.setattr(Ledger, "_step", step)
    return calls


def test_a_step_a_deadlock_rolled_back_is_taken_again_whole(ledger, monkeypatch):
    calls = _failing_steps(monkeypatch, [_Deadlock(), _Deadlock()])
    done = ledger.step(register=[row("k1"), row("k2")], claim=["k1"])
    # The two rolled-back attempts left nothing: the third registered both keys once and won k1.
    assert len(calls) == 3 and done.new == 2 and done.won == {"k1"}
    assert ledger.states() == {"k1": "sending", "k2": "pending"}


def test_a_step_gives_up_after_five_deadlocks_and_leaves_nothing(ledger, monkeypatch):
    calls = _failing_steps(monkeypatch, [_Deadlock() for _ in range(5)])
    with pytest.raises(sa.exc.OperationalError):
        ledger.step(register=[row("k1")], claim=["k1"])
    assert len(calls) == 5 and ledger.states() == {}


def test_any_other_database_error_is_not_retried(ledger, monkeypatch):
    other = Exception("disk I/O error")
    calls = _failing_steps(monkeypatch, [other])
    with pytest.raises(sa.exc.OperationalError):
        ledger.step(register=[row("k1")])
    assert len(calls) == 1 and ledger.states() == {}


def test_an_operator_resolves_one_unknown_email_not_every_one(ledger):
    ledger.register([row("u1"), row("u2")])
    ledger.claim("u1")
    ledger.claim("u2")
    ledger.finish("u1", "unknown")
    ledger.finish("u2", "unknown")
    assert ledger.resolve("u1", "accepted", "seen in SendGrid's activity feed")
    assert ledger.states() == {"u1": "accepted", "u2": "unknown"}


def test_every_recipient_of_an_email_its_own_customer_first_then_the_linked_ones_in_order(ledger):
    ledger.register([row("k1", customer="C9", partner_id="C7"), row("k2", customer="C3")])
    assert ledger.recipients_of("k1") == ["C9", "C7"]
    assert ledger.recipients_of("k2") == ["C3"]


@pytest.mark.parametrize("url, identity", [
    # A SQLite file is known by its URL and its inode (a file made again is another database).
    ("sqlite:///{path}", True),
    ("sqlite:///{path}?timeout=5", True),
    ("sqlite+pysqlite:///{path}", True),
    # In memory: a new database at each open, never "checked already".
    ("sqlite://", None),
    ("sqlite:///:memory:", None),
    ("sqlite:///file:db?mode=memory&uri=true", None),
    # A server: by its URL alone.
    ("postgresql://u@db.example/ledger", "url"),
])
def test_a_database_is_known_by_what_identifies_it(tmp_path, url, identity):
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"")
    got = ledger_module._identity(url.format(path=path))
    if identity is None:
        assert got is None
    elif identity == "url":
        assert got == (url, 0)
    else:
        assert got == (url.format(path=path), path.stat().st_ino)


def test_the_state_check_runs_once_per_database_in_a_process(tmp_path, monkeypatch):
    from milestones.deliver import ledger_upgrade

    checked = []
    real = ledger_upgrade.widen_state_check
    monkeypatch.setattr(ledger_upgrade, "widen_state_check", lambda engine, states: checked.append(1) or real(engine, states))
    monkeypatch.setattr(ledger_module, "_CURRENT", set())
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"
    Ledger(url)
    Ledger(url)
    assert len(checked) == 1
    Ledger(f"sqlite:///{tmp_path / 'other.sqlite'}")
    assert len(checked) == 2
    Ledger("sqlite://")  # in memory: every open
    Ledger("sqlite://")
    assert len(checked) == 4
    assert None not in ledger_module._CURRENT  # (a file made anew has another inode: the table above)


def test_a_database_error_never_carries_the_values_it_was_given(ledger):
    # hide_parameters: an address or key in a failing statement must not reach a log line.
    with pytest.raises(sa.exc.SQLAlchemyError) as failed, ledger.engine.connect() as conn:
        conn.execute(sa.text("SELECT :address FROM no_such_table"), {"address": "widow.person@example.com"})
    assert "widow.person@example.com" not in str(failed.value)
    assert "hidden" in str(failed.value)


def test_a_sqlite_ledger_waits_for_a_lock_and_writes_ahead(ledger):
    with ledger.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000  # LOCK_WAIT_SECONDS
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_the_ledgers_clock_is_utc_whatever_the_servers_zone(server_zone):
    server_zone("Asia/Tokyo")
    now = ledger_module._now()
    assert now.tzinfo is dt.UTC and abs(now - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def _updated(ledger, key):
    value = ledger.get(key)["updated_at"]
    value = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def test_settling_and_resolving_stamp_the_moment(ledger, clock):
    ledger.register([row("a"), row("u")])
    ledger.claim_many(["a", "u"])
    ledger.finish("u", "unknown")
    clock["t"] = T0 + dt.timedelta(minutes=5)
    ledger.settle({"a": "accepted"}, transport="outbox")
    clock["t"] = T0 + dt.timedelta(minutes=9)
    assert ledger.resolve("u", "failed", "bounced, says the activity feed")
    assert (_updated(ledger, "a"), _updated(ledger, "u")) == (T0 + dt.timedelta(minutes=5), T0 + dt.timedelta(minutes=9))


def test_emails_in_doubt_since_the_same_moment_are_listed_by_key(ledger):
    ledger.register([row(k) for k in ("z", "y", "x")])  # registered (and stored) in reverse order
    ledger.claim_many(["z", "y", "x"])
    assert ledger.in_doubt()["sending"]["keys"] == ["x", "y", "z"]


def test_in_doubt_lists_a_hundred_keys_unless_told(ledger):
    keys = [f"k{i:03d}" for i in range(101)]
    ledger.register([row(k) for k in keys])
    ledger.claim_many(keys)
    doubt = ledger.in_doubt()["sending"]
    assert doubt["total"] == 101 and doubt["keys"] == keys[:100]
