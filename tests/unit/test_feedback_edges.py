"""Fast unit tests that kill the mutants of measure.feedback: SendGrid webhook events to the store and suppressions.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from milestones.measure.feedback import (
    Feedback,
    HugeNumber,
    Rejected,
    _busy,
    _dedupe_key,
    _reject,
    event_row,
    parse_delivery,
    rejected_events,
    webhook_events,
)

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
EVENT = {"event": "open", "email": "Ann@Example.COM", "timestamp": 1790000000, "key": "k1",
         "customer_id": "C1", "event_type": "birthday", "sg_event_id": "id-1", "sg_message_id": "m-1"}


def test_an_event_row_in_full():
    row = event_row(dict(EVENT), NOW)
    assert row == {"dedupe_key": "sg:id-1", "event": "open", "email": "ann@example.com", "key": "k1",
                   "customer_id": "C1", "event_type": "birthday",
                   "occurred_at": dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC), "received_at": NOW,
                   "payload": json.dumps(EVENT, sort_keys=True)}


def test_an_event_with_only_its_name():
    row = event_row({"event": "processed"}, NOW)
    assert {k: row[k] for k in ("event", "email", "key", "customer_id", "event_type", "occurred_at")} == {
        "event": "processed", "email": None, "key": None, "customer_id": None, "event_type": None,
        "occurred_at": None}
    assert row["dedupe_key"].startswith("h:") and len(row["dedupe_key"]) == 62


@pytest.mark.parametrize("event, reason", [
    ([1, 2], "not a JSON object"),
    ("open", "not a JSON object"),
    ({"email": "a@example.com"}, "event: not a string of 1-32 characters"),
    ({"event": ""}, "event: not a string of 1-32 characters"),
    ({"event": "e" * 33}, "event: not a string of 1-32 characters"),
    ({"event": 7}, "event: not a string of 1-32 characters"),
    ({"event": "open", "email": "a" * 321}, "email: not a string of 1-320 characters"),
    ({"event": "open", "email": ["a@example.com"]}, "email: not a string of 1-320 characters"),
    ({"event": "open", "key": "k" * 65}, "key: not a string of 1-64 characters"),
    ({"event": "open", "customer_id": 12}, "customer_id: not a string of 1-64 characters"),
    ({"event": "open", "event_type": "t" * 65}, "event_type: not a string of 1-64 characters"),
    ({"event": "open", "sg_event_id": True}, "sg_event_id: not a string of 1-100 characters"),
    ({"event": "open", "sg_event_id": "i" * 101}, "sg_event_id: not a string of 1-100 characters"),
    ({"event": "open", "sg_message_id": "m" * 256}, "sg_message_id: not a string of 1-255 characters"),
    ({"event": "open", "email": "a\x00@example.com"}, "email: contains a NUL character"),
    ({"event": "op\x00en"}, "event: contains a NUL character"),
    ({"event": "open", "key": "k\ud800"}, "key: not valid Unicode (a lone surrogate)"),
    ({"event": "open", "n": HugeNumber("1" * 41)}, "an integer of more than 40 digits"),
    ({"event": "open", "timestamp": 946_684_799}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": 4_102_444_800}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": True}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": float("nan")}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": float("inf")}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": "1790000000000"}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": "yesterday"}, "timestamp: not seconds since the epoch between 2000 and 2100"),
    ({"event": "open", "timestamp": [1790000000]}, "timestamp: not seconds since the epoch between 2000 and 2100"),
])
def test_each_rejection_names_the_field(event, reason):
    with pytest.raises(Rejected) as refused:
        event_row(event, NOW)
    assert str(refused.value) == reason


@pytest.mark.parametrize("event", [
    {"event": "e" * 32, "email": "a" * 320, "key": "k" * 64, "customer_id": "c" * 64, "event_type": "t" * 64,
     "sg_event_id": "i" * 100, "sg_message_id": "m" * 255},
    {"event": "open", "sg_event_id": 123456},        # a numeric id is its text
    {"event": "open", "email": "äiti@esimerkki.fi"},  # not ASCII, valid Unicode
    {"event": "open", "timestamp": 946_684_800},
    {"event": "open", "timestamp": 4_102_444_799},
    {"event": "open", "timestamp": " 1790000000 "},
    {"event": "open", "timestamp": 1790000000.9},
])
def test_the_longest_and_edge_values_are_accepted(event):
    assert event_row(event, NOW)["event"] == event["event"]


def test_a_timestamp_is_whole_seconds_in_utc_whatever_its_form():
    expected = dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC)
    for stamp in (1790000000, "1790000000", 1790000000.9):
        assert event_row({"event": "open", "timestamp": stamp}, NOW)["occurred_at"] == expected
    assert event_row({"event": "open", "timestamp": 946_684_800}, NOW)["occurred_at"] == dt.datetime(
        2000, 1, 1, tzinfo=dt.UTC)


def test_dedupe_keys_by_id_or_by_content():
    assert _dedupe_key({"sg_event_id": "abc"}) == "sg:abc"
    assert _dedupe_key({"sg_event_id": 42}) == "sg:42"
    assert _dedupe_key({"sg_event_id": "x" * 60}) == "sg:" + "x" * 60
    long = _dedupe_key({"sg_event_id": "x" * 61})
    assert long.startswith("sg#") and len(long) == 63
    assert long != _dedupe_key({"sg_event_id": "x" * 62})  # compared whole, not by a prefix
    base = {"event": "open", "email": "a@example.com", "timestamp": 1, "key": "k", "sg_message_id": "m"}
    same = _dedupe_key(dict(base, sg_event_id=None, useragent="other"))
    assert same == _dedupe_key(base) and same.startswith("h:") and len(same) == 62
    for field, other in [("event", "click"), ("email", "b@example.com"), ("timestamp", 2), ("key", "k2"),
                         ("sg_message_id", "m2")]:
        assert _dedupe_key(dict(base, **{field: other})) != same, field


def test_an_integer_too_long_to_store_rejects_its_event_alone():
    status, events = parse_delivery_unsigned(b'[{"event": "open", "n": ' + b"9" * 41 + b'}, {"n": ' + b"9" * 40 + b"}]")
    assert status == 200
    assert isinstance(events[0]["n"], HugeNumber) and str(events[0]["n"]) == "<an integer of 41 digits>"
    assert events[1]["n"] == int("9" * 40)


def parse_delivery_unsigned(body: bytes):
    """parse_delivery past its signature check (that check has tests of its own)."""
    import milestones.measure.feedback as feedback

    real = feedback.verify_signature
    feedback.verify_signature = lambda *a, **k: None
    try:
        return parse_delivery("", "", "", body)
    finally:
        feedback.verify_signature = real


@pytest.mark.parametrize("body, status, answer", [
    (b"[]", 200, []),
    (b"{", 400, {"error": "malformed JSON"}),
    (b"[" * 100_000, 400, {"error": "malformed JSON"}),
    (b'{"event": "open"}', 400, {"error": "expected a JSON list of events"}),
    (b'"open"', 400, {"error": "expected a JSON list of events"}),
])
def test_what_a_signed_delivery_may_hold(body, status, answer):
    assert parse_delivery_unsigned(body) == (status, answer)


def test_an_unsigned_delivery_is_forbidden():
    assert parse_delivery("", "", "", b"[]") == (403, {"error": "missing signature or timestamp header"})


def test_a_rejected_row_counts_events_from_one_and_cuts_long_values():
    row = _reject({"event": "x" * 5000}, 2, "why", NOW)
    assert row["received_at"] == NOW and row["reason"] == "event 3 of its chunk: why"
    assert len(row["payload"]) == 4000 and row["payload"].startswith('{"event": "xxx')
    assert len(_reject({}, 0, "r" * 300, NOW)["reason"]) == 200
    assert _reject([1, dt.date(2026, 1, 2)], 0, "why", NOW)["payload"] == '[1, "2026-01-02"]'
    assert abs(_reject({}, 0, "why")["received_at"] - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_a_rejected_event_of_an_erased_customer_keeps_nothing_of_them():
    seen = []

    def erased(customer_id, email):
        seen.append((customer_id, email))
        return customer_id == "C1"

    assert _reject({"customer_id": "C1", "email": 5}, 0, "why", NOW, erased=erased)["payload"] == '"[erased]"'
    assert seen == [("C1", None)]
    assert _reject({"customer_id": "C2"}, 0, "why", NOW, erased=erased)["payload"] == '{"customer_id": "C2"}'
    assert _reject("text", 0, "why", NOW, erased=erased)["payload"] == '"text"'

    def unhashable(customer_id, email):
        raise ValueError("lone surrogate")

    assert _reject({"customer_id": "\ud800"}, 0, "why", NOW, erased=unhashable)["payload"] == '"[erased]"'


def test_busy_databases_are_told_from_refused_values():
    assert _busy(sa.exc.OperationalError("s", {}, Exception()))
    assert _busy(sa.exc.InterfaceError("s", {}, Exception()))
    assert _busy(sa.exc.InternalError("s", {}, Exception()))
    assert not _busy(sa.exc.IntegrityError("s", {}, Exception()))
    assert not _busy(ValueError())


@pytest.fixture
def feedback(tmp_path):
    return Feedback(f"sqlite:///{tmp_path / 'ledger.db'}", asm_group_id=42, soft_failure_limit=3,
                    soft_failure_days=7)


@pytest.mark.parametrize("event, group, expected", [
    ({"event": "unsubscribe", "customer_id": "C1"}, 42, True),
    ({"event": "unsubscribe"}, 42, False),                          # whose is unknown
    ({"event": "spamreport", "customer_id": "C1"}, 42, False),      # a complaint is not a choice
    ({"event": "group_unsubscribe", "customer_id": "C1", "asm_group_id": 42}, 42, True),
    ({"event": "group_unsubscribe", "customer_id": "C1", "asm_group_id": "42"}, 42, True),
    ({"event": "group_unsubscribe", "customer_id": "C1"}, 42, True),
    ({"event": "group_unsubscribe", "customer_id": "C1", "asm_group_id": 7}, 42, False),
    ({"event": "group_unsubscribe", "customer_id": "C1", "asm_group_id": 0}, 0, False),
    ({"event": "group_unsubscribe", "customer_id": "C1"}, 0, False),
])
def test_which_events_are_the_customers_own_unsubscribe(feedback, event, group, expected):
    feedback.asm_group_id = group
    row = event_row(event, NOW)
    assert feedback._unsubscribes(row, event) is expected


def test_a_delivery_larger_than_a_chunk_is_counted_whole(feedback):
    feedback.CHUNK = 3
    events = [{"event": "open", "sg_event_id": f"e{i}", "email": f"u{i}@example.com"} for i in range(7)]
    events += [{"event": "open", "sg_event_id": "e0"}, {"event": ""}, "junk"]
    assert feedback.ingest(events) == {"stored": 7, "duplicate": 1, "rejected": 2}
    assert feedback.ingest(events[:2]) == {"duplicate": 2}
    assert feedback.ingest([]) == {}


def test_a_duplicate_inside_one_delivery_is_stored_once(feedback):
    event = {"event": "spamreport", "sg_event_id": "s1", "email": "A@example.com"}
    assert feedback.ingest([event, dict(event)]) == {"stored": 1, "duplicate": 1, "suppressed": 1}
    assert feedback.suppressed() == {"a@example.com": "spamreport"}


def test_events_for_a_customer_or_an_email_in_the_order_received(feedback):
    feedback.ingest([{"event": "open", "sg_event_id": "1", "customer_id": "C1", "key": "k1"},
                     {"event": "click", "sg_event_id": "2", "customer_id": "C1", "key": "k2"},
                     {"event": "open", "sg_event_id": "3", "customer_id": "C2", "key": "k1"}])
    assert [e["dedupe_key"] for e in feedback.events_for(customer_id="C1")] == ["sg:1", "sg:2"]
    assert [e["dedupe_key"] for e in feedback.events_for(key="k1")] == ["sg:1", "sg:3"]
    assert [e["dedupe_key"] for e in feedback.events_for(customer_id="C1", key="k1")] == ["sg:1"]
    assert len(feedback.events_for()) == 3


def test_a_rejected_payload_is_json_with_sorted_keys():
    # Sorted, so the same event rejected twice is stored as the same text.
    assert _reject({"b": 1, "a": {"d": 2, "c": 3}}, 0, "why", NOW)["payload"] == '{"a": {"c": 3, "d": 2}, "b": 1}'


def test_the_replay_window_is_five_minutes_unless_told_and_reaches_the_check(monkeypatch):
    import milestones.measure.feedback as feedback

    seen = []
    monkeypatch.setattr(feedback, "verify_signature", lambda *a, **k: seen.append(k))
    parse_delivery("", "", "", b"[]")
    parse_delivery("", "", "", b"[]", replay_window=10)
    assert seen == [{"replay_window": 300.0}, {"replay_window": 10}]


def _refused(orig: Exception) -> sa.exc.StatementError:
    return sa.exc.StatementError("refused", "INSERT ...", {}, orig)


def _refuse_bad_ids(monkeypatch, orig: Exception) -> None:
    """The database refuses (the driver raising ``orig``) any chunk holding an event whose
    sg_event_id starts with "bad": a value no check foresaw. Other chunks are stored as usual."""
    real = Feedback._ingest

    def refusing(self, conn, events, first):
        if any(isinstance(e, dict) and str(e.get("sg_event_id", "")).startswith("bad") for e in events):
            raise _refused(orig)
        return real(self, conn, events, first)

    monkeypatch.setattr(Feedback, "_ingest", refusing)


def test_a_busy_database_fails_the_delivery_whole_at_either_try(feedback, monkeypatch):
    """A locked or lost database is not a poison event: the request fails and SendGrid retries it."""
    locked = sa.exc.OperationalError("INSERT ...", {}, Exception("database is locked"))
    calls = []

    def busy(self, conn, events, first):
        calls.append(len(events))
        raise locked

    monkeypatch.setattr(Feedback, "_ingest", busy)
    with pytest.raises(sa.exc.OperationalError):
        feedback.ingest([{"event": "open", "sg_event_id": "1"}, {"event": "open", "sg_event_id": "2"}])
    assert calls == [2]  # not tried again event by event
    # The whole chunk refused for a value, then the database busy on one event alone.
    calls.clear()

    def refused_then_busy(self, conn, events, first):
        calls.append(len(events))
        raise _refused(ValueError("bad value")) if len(calls) == 1 else locked

    monkeypatch.setattr(Feedback, "_ingest", refused_then_busy)
    with pytest.raises(sa.exc.OperationalError):
        feedback.ingest([{"event": "open", "sg_event_id": "1"}, {"event": "open", "sg_event_id": "2"}])
    assert calls == [2, 1]
    with feedback.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rejected_events)).scalar() == 0


def test_an_event_the_database_refuses_is_rejected_with_its_payload_and_the_drivers_error(feedback, monkeypatch):
    _refuse_bad_ids(monkeypatch, UnicodeEncodeError("utf-8", "x", 0, 1, "surrogates not allowed"))
    bad = {"event": "open", "sg_event_id": "bad", "email": "b@example.com"}
    assert feedback.ingest([{"event": "open", "sg_event_id": "1"}, bad]) == {"stored": 1, "rejected": 1}
    with feedback.engine.connect() as conn:
        row = conn.execute(sa.select(rejected_events.c.reason, rejected_events.c.payload)).one()
    # The driver's own error (not SQLAlchemy's wrapper) names what was refused.
    assert row.reason == "event 2 of its chunk: the database refused it (UnicodeEncodeError)"
    assert row.payload == '{"email": "b@example.com", "event": "open", "sg_event_id": "bad"}'


def test_an_event_the_database_refuses_about_an_erased_customer_keeps_nothing_of_them(feedback, monkeypatch):
    from milestones.core.pseudonym import keyed_hash
    from milestones.decide import erased

    gone = erased.Guard(b"k" * 32, frozenset({keyed_hash(b"k" * 32, "customer_id", "C9")}))
    monkeypatch.setattr(erased, "guard", lambda conn, data_dir=None: gone)
    monkeypatch.setattr(Feedback, "_ingest", lambda self, conn, events, first: (_ for _ in ()).throw(
        _refused(ValueError("bad value"))))
    assert feedback.ingest([{"event": "bounce", "customer_id": "C9", "email": "gone@example.com"}]) == {"rejected": 1}
    with feedback.engine.connect() as conn:
        assert conn.execute(sa.select(rejected_events.c.payload)).scalar() == '"[erased]"'


def test_events_come_back_in_the_order_received_not_the_order_stored(feedback):
    rows = [{"dedupe_key": f"sg:{n}", "event": "open", "received_at": NOW + dt.timedelta(minutes=m), "payload": "{}"}
            for n, m in (("late", 5), ("early", 1), ("middle", 3))]
    with feedback.engine.begin() as conn:
        conn.execute(webhook_events.insert(), rows)
    assert [e["dedupe_key"] for e in feedback.events_for()] == ["sg:early", "sg:middle", "sg:late"]


def test_the_insert_statement_is_the_databases_own(monkeypatch):
    """ON CONFLICT is written per dialect: PostgreSQL's insert on PostgreSQL, SQLite's elsewhere."""
    from types import SimpleNamespace

    from sqlalchemy.dialects import postgresql, sqlite

    from milestones.measure.feedback import _insert

    on = {name: _insert(SimpleNamespace(dialect=SimpleNamespace(name=name)), webhook_events)
          for name in ("postgresql", "sqlite")}
    assert type(on["postgresql"]) is postgresql.Insert and type(on["sqlite"]) is sqlite.Insert


def test_an_event_rejected_on_the_second_try_keeps_its_place_in_the_delivery(feedback, monkeypatch):
    """When the database refuses one event, the others are tried one by one: a check's rejection
    among them still names the event's place in the whole delivery, not 1."""
    _refuse_bad_ids(monkeypatch, ValueError("bad value"))
    events = [{"event": "open", "sg_event_id": "1"}, {"event": "open", "sg_event_id": "bad"}, {"event": ""}]
    assert feedback.ingest(events) == {"stored": 1, "rejected": 2}
    with feedback.engine.connect() as conn:
        reasons = sorted(conn.execute(sa.select(rejected_events.c.reason)).scalars())
    assert reasons == ["event 2 of its chunk: the database refused it (ValueError)",
                       "event 3 of its chunk: event: not a string of 1-32 characters"]


def test_one_delivery_is_received_at_one_moment_in_utc_whatever_the_servers_zone(feedback, server_zone):
    server_zone("America/New_York")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    feedback.ingest([{"event": "open", "sg_event_id": "1"}, {"event": ""}])
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with feedback.engine.connect() as conn:
        stored = conn.execute(sa.select(webhook_events.c.received_at)).scalar_one()
        rejected = conn.execute(sa.select(rejected_events.c.received_at)).scalar_one()
    assert stored == rejected
    assert before <= stored.replace(tzinfo=None) <= after


def test_duplicates_inside_one_delivery_are_each_counted(feedback):
    event = {"event": "open", "sg_event_id": "o1"}
    assert feedback.ingest([event, dict(event), dict(event)]) == {"stored": 1, "duplicate": 2}


def test_an_erased_customers_late_events_are_known_by_id_alone_and_change_no_choice(feedback, monkeypatch):
    """An erased customer's unsubscribe arriving late, from an address the registry never saw:
    stored without the address, under a pseudonym, and no preference row is made for them."""
    from milestones.core.pseudonym import keyed_hash
    from milestones.decide import erased
    from milestones.decide.preferences import preferences

    gone = erased.Guard(b"k" * 32, frozenset({keyed_hash(b"k" * 32, "customer_id", "C9")}))
    monkeypatch.setattr(erased, "guard", lambda conn, data_dir=None: gone)
    late = {"event": "unsubscribe", "sg_event_id": "u9", "customer_id": "C9", "email": "new@example.com"}
    assert feedback.ingest([late]) == {"stored": 1}  # no "unsubscribed": nobody to record it for
    with feedback.engine.connect() as conn:
        row = conn.execute(sa.select(webhook_events.c.email, webhook_events.c.customer_id)).one()
        assert conn.execute(sa.select(sa.func.count()).select_from(preferences)).scalar() == 0
    assert row.email is None and row.customer_id not in (None, "C9")


def test_every_event_the_database_refuses_is_counted(feedback, monkeypatch):
    _refuse_bad_ids(monkeypatch, ValueError("bad value"))
    events = [{"event": "open", "sg_event_id": "bad1"}, {"event": "open", "sg_event_id": "ok"},
              {"event": "open", "sg_event_id": "bad2"}]
    assert feedback.ingest(events) == {"stored": 1, "rejected": 2}


def _ledger_row(key: str, state: str) -> dict:
    then = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": "2026-11-20",
            "template_version": "v1", "state": state, "attempts": 1, "transport": "sendgrid",
            "created_at": then, "updated_at": then, "last_error": "timed out after the request was sent"}


def test_a_confirming_event_settles_its_unknown_email_alone_and_says_so(feedback):
    """A send whose answer was lost (unknown) is settled by SendGrid's own word about that email:
    accepted, with the reason and the moment; other unknown emails wait for theirs."""
    from milestones.deliver.ledger import emails

    with feedback.engine.begin() as conn:
        conn.execute(emails.insert(), [_ledger_row("k1", "unknown"), _ledger_row("k2", "unknown")])
    assert feedback.ingest([{"event": "delivered", "sg_event_id": "d1", "key": "k1"}]) == {"stored": 1, "settled": 1}
    with feedback.engine.connect() as conn:
        rows = {r.key: r for r in conn.execute(sa.select(emails))}
        received = conn.execute(sa.select(webhook_events.c.received_at)).scalar_one()
    assert (rows["k1"].state, rows["k1"].last_error) == ("accepted", "resolved by the event webhook")
    assert rows["k1"].updated_at == received  # the delivery's moment, one for all it changed
    assert (rows["k2"].state, rows["k2"].last_error) == ("unknown", "timed out after the request was sent")


def test_a_suppression_is_logged_with_the_event_that_caused_it(feedback):
    from milestones.measure.lifecycle import suppression_log

    assert feedback.ingest([{"event": "bounce", "sg_event_id": "b1", "email": "Gone@Example.com"}]) == {
        "stored": 1, "suppressed": 1}
    with feedback.engine.connect() as conn:
        logged = conn.execute(sa.select(suppression_log.c.email, suppression_log.c.action, suppression_log.c.reason,
                                        suppression_log.c.event_id, suppression_log.c.actor)).all()
    assert [tuple(r) for r in logged] == [("gone@example.com", "added", "bounce", "sg:b1", "webhook")]


def test_an_unsubscribe_is_recorded_at_the_moment_its_delivery_was_received(feedback):
    from milestones.decide.preferences import preferences

    assert feedback.ingest([{"event": "unsubscribe", "sg_event_id": "u1", "customer_id": "C1",
                             "email": "c1@example.com"}]) == {"stored": 1, "suppressed": 1, "unsubscribed": 1}
    with feedback.engine.connect() as conn:
        received = conn.execute(sa.select(webhook_events.c.received_at)).scalar_one()
        changed = conn.execute(sa.select(preferences.c.updated_at)).scalar_one()
    assert changed == received


def test_an_open_is_recorded_on_its_own_email_only(feedback):
    from milestones.deliver.ledger import emails

    with feedback.engine.begin() as conn:
        conn.execute(emails.insert(), [_ledger_row("k1", "accepted"), _ledger_row("k2", "accepted")])
    feedback.ingest([{"event": "open", "sg_event_id": "o1", "key": "k1", "timestamp": 1_790_000_000}])
    with feedback.engine.connect() as conn:
        opened = dict(conn.execute(sa.select(emails.c.key, emails.c.opened_at)).all())
    assert opened["k2"] is None
    assert opened["k1"].replace(tzinfo=dt.UTC) == dt.datetime(2026, 9, 21, 14, 13, 20, tzinfo=dt.UTC)


def test_the_soft_failure_rule_comes_from_the_settings_where_not_given(tmp_path, monkeypatch):
    monkeypatch.setenv("MILESTONES_SOFT_FAILURE_LIMIT", "7")
    monkeypatch.setenv("MILESTONES_SOFT_FAILURE_DAYS", "9")
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    rule = {}
    for given in [{}, {"soft_failure_limit": 2}, {"soft_failure_days": 3},
                  {"soft_failure_limit": 2, "soft_failure_days": 3}]:
        made = Feedback(url, **given)
        rule[tuple(given)] = (made.soft_failure_limit, made.soft_failure_days)
    assert rule == {(): (7, 9), ("soft_failure_limit",): (2, 9), ("soft_failure_days",): (7, 3),
                    ("soft_failure_limit", "soft_failure_days"): (2, 3)}


def test_one_engine_and_no_group_unless_configured(tmp_path):
    made = Feedback(f"sqlite:///{tmp_path / 'ledger.db'}", soft_failure_limit=3, soft_failure_days=7)
    # Preference changes share the events' engine: one transaction, one writer lock.
    assert made.preferences.engine is made.engine
    assert made.asm_group_id == 0
    event = {"event": "group_unsubscribe", "sg_event_id": "g1", "customer_id": "C1", "asm_group_id": 1}
    assert "unsubscribed" not in made.ingest([event])
