"""Issue 26, item 2: one poison event is rejected alone; the rest of its batch is stored.

Each poison event sits between five good ones: the answer is 200 with the good ones stored
(once, also when SendGrid retries) and the poison one recorded as rejected with a reason that
names the field, never its value; nothing of it appears in the answer or the log. Also the
webhook's own edges: a ``NaN`` timestamp header, ``sg_event_id`` compared whole.
"""

from __future__ import annotations

import itertools
import logging

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milestones.measure import feedback
from milestones.measure.feedback import rejected_events, webhook_events
from tests.hostile.public import body_of, public_client

MARK = "Poison-Person-0815"


def good(prefix: str, n: int = 5) -> list[dict]:
    return [{"event": "delivered", "email": f"{prefix}{i}@example.com", "sg_event_id": f"{prefix}-{i}",
             "timestamp": 1_790_000_000 + i, "key": f"{prefix}k{i}", "customer_id": f"{prefix}C{i}"}
            for i in range(n)]


#: name -> (the poison event, the reason it must get after "event N of its chunk: ")
POISON = {
    "surrogate_email": ({"event": "bounce", "email": f"{MARK}\ud800@example.com"},
                        "email: not valid Unicode (a lone surrogate)"),
    "surrogate_customer_id": ({"event": "unsubscribe", "email": "s@example.com", "customer_id": f"{MARK}\udfff"},
                              "customer_id: not valid Unicode (a lone surrogate)"),
    "surrogate_event": ({"event": "open\ud800", "email": f"{MARK}@example.com"},
                        "event: not valid Unicode (a lone surrogate)"),
    "nul_email": ({"event": "bounce", "email": f"{MARK}\x00@example.com"}, "email: contains a NUL character"),
    "nul_key": ({"event": "delivered", "key": "k\x00", "email": f"{MARK}@example.com"},
                "key: contains a NUL character"),
    "huge_timestamp": ({"event": "open", "email": f"{MARK}@example.com", "timestamp": "HUGE"},
                       "an integer of more than 40 digits"),
    "huge_nested": ({"event": "open", "email": f"{MARK}@example.com", "extra": {"n": ["HUGE"]}},
                    "an integer of more than 40 digits"),
    "sg_event_id_101": ({"event": "open", "sg_event_id": "x" * 101}, "sg_event_id: not a string of 1-100 characters"),
}
HUGE = {"HUGE": "9" * 5000}


@pytest.fixture
def app(tmp_path, monkeypatch):
    with public_client(tmp_path / "data", monkeypatch) as (client, signer, settings_):
        engine = sa.create_engine(settings_.ledger_database_url)
        feedback.metadata.create_all(engine)  # made at the first delivery; a refused one never gets there
        yield client, signer, engine


def post(client, signer, body: bytes, **headers):
    return client.post("/webhook/sendgrid", content=body, headers={**signer.headers(body), **headers})


def stored_ids(engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(sa.select(webhook_events.c.dedupe_key)).scalars())


def reasons(engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(rejected_events.c.reason).order_by(rejected_events.c.id)).scalars())


@pytest.mark.parametrize("name", sorted(POISON))
def test_one_poison_event_is_rejected_alone_and_the_batch_kept(app, name, caplog):
    client, signer, engine = app
    poison, reason = POISON[name]
    events = good("a", 2) + [poison] + good("b", 3)
    body = body_of(events, HUGE)
    caplog.set_level(logging.DEBUG)
    answer = post(client, signer, body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"stored": 5, "rejected": 1}
    assert stored_ids(engine) == sorted(f"sg:{e['sg_event_id']}" for e in events if e is not poison)
    assert reasons(engine) == [f"event 3 of its chunk: {reason}"]
    again = post(client, signer, body)  # SendGrid's retry: duplicates, the poison rejected again
    assert again.status_code == 200 and again.json() == {"duplicate": 5, "rejected": 1}
    assert MARK not in answer.text + again.text + caplog.text and "9" * 50 not in caplog.text


def test_a_value_the_checks_let_through_but_the_database_refuses_costs_only_its_event(app, monkeypatch):
    """Defence in depth: were a check missing, the database's refusal rejects that event alone."""
    client, signer, engine = app
    checked = feedback.event_row

    def unchecked(event, now):
        row = checked(event, now)
        if event.get("sg_event_id") == "slipped":
            row["email"] = "slipped\ud800@example.com"  # SQLite cannot encode it
        return row

    monkeypatch.setattr(feedback, "event_row", unchecked)
    events = good("c", 3) + [{"event": "bounce", "sg_event_id": "slipped", "email": "x@example.com"}] + good("d", 2)
    answer = post(client, signer, body_of(events))
    assert answer.status_code == 200 and answer.json() == {"stored": 5, "rejected": 1}
    assert reasons(engine) == ["event 4 of its chunk: the database refused it (UnicodeEncodeError)"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM suppressions")).scalar() == 0


@pytest.mark.parametrize("timestamp", ["NaN", "nan", "inf", "-Infinity"])
def test_a_timestamp_that_is_not_a_number_is_refused_even_signed(app, timestamp):
    client, signer, engine = app
    body = body_of(good("e", 1))
    answer = client.post("/webhook/sendgrid", content=body, headers=signer.headers(body, timestamp))
    assert answer.status_code == 403 and answer.json() == {"error": "timestamp is not a number"}
    assert stored_ids(engine) == []


def test_sg_event_ids_are_compared_whole(app):
    client, signer, engine = app
    base = "i" * 60
    events = [{"event": "open", "email": "o@example.com", "sg_event_id": base + tail} for tail in ("", "a", "b")]
    events += [{"event": "open", "email": "o@example.com", "sg_event_id": "j" * 100}] * 2
    answer = post(client, signer, body_of(events))
    assert answer.json() == {"stored": 4, "duplicate": 1}
    assert len(set(stored_ids(engine))) == 4 and all(len(k) <= 64 for k in stored_ids(engine))


# --- the property ---------------------------------------------------------------------------------

poison_events = st.sampled_from(sorted(POISON)).map(lambda name: POISON[name][0])


@st.composite
def batches(draw):
    """How many good events, the poison events, and where each poison event goes."""
    goods = draw(st.integers(0, 12))
    poisons = draw(st.lists(poison_events, max_size=6))
    places = [draw(st.integers(0, goods + i)) for i in range(len(poisons))]
    return goods, poisons, places


_PREFIXES = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=batches())
def test_property_good_events_stored_once_bad_ones_rejected_one_by_one(app, batch):
    client, signer, engine = app
    count, poisons, places = batch
    goods = good(f"p{next(_PREFIXES)}-", count)  # fresh ids for each example (one database for all)
    events = list(goods)
    for poison, place in zip(poisons, places, strict=True):
        events.insert(place, poison)
    before = len(reasons(engine))
    body = body_of(events, HUGE)
    first, retry = post(client, signer, body), post(client, signer, body)
    assert first.status_code == retry.status_code == 200
    assert first.json() == {k: v for k, v in {"stored": len(goods), "rejected": len(poisons)}.items() if v}
    assert retry.json() == {k: v for k, v in {"duplicate": len(goods), "rejected": len(poisons)}.items() if v}
    ids = stored_ids(engine)
    assert all(ids.count(f"sg:{e['sg_event_id']}") == 1 for e in goods)
    assert len(reasons(engine)) - before == 2 * len(poisons)
    assert MARK not in first.text + retry.text


def test_poison_events_are_rejected_alone_also_once_someone_was_erased(app, monkeypatch):
    """With erased customers on record, every event is checked against them: a poison event that
    cannot even be hashed (a lone surrogate) is still rejected alone, kept without its payload."""
    from milestones.decide import erased

    monkeypatch.setattr(erased, "guard", lambda conn, data_dir=None: erased.Guard(b"k" * 32, frozenset({"none"})))
    client, signer, engine = app
    events = good("f", 2) + [POISON["surrogate_email"][0], POISON["nul_email"][0]] + good("g", 2)
    answer = post(client, signer, body_of(events))
    assert answer.status_code == 200 and answer.json() == {"stored": 4, "rejected": 2}
    with engine.connect() as conn:
        payloads = list(conn.execute(sa.select(rejected_events.c.payload).order_by(rejected_events.c.id)).scalars())
    assert payloads[0] == '"[erased]"' and MARK not in payloads[0]
