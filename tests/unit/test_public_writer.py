"""The public app's writer thread: customers' changes share a webhook chunk's transaction."""

from __future__ import annotations

import asyncio
import threading

import pytest
import sqlalchemy as sa

from milestones.decide.preferences import Change, PreferenceError, Preferences
from milestones.measure.feedback import Feedback
from milestones.public.writer import BUSY_CHUNK, CHUNK, Writer

pytestmark = pytest.mark.unit


def _events(n: int) -> list[dict]:
    return [{"event": "delivered", "email": f"w{i}@example.com", "sg_event_id": f"e{i}",
             "timestamp": 1_790_000_000 + i, "key": f"k{i}", "customer_id": f"W{i}"} for i in range(n)]


@pytest.mark.parametrize("with_bad", [False, True])
def test_changes_waiting_behind_a_chunk_commit_with_it_and_a_bad_one_costs_nothing(tmp_path, with_bad):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = Preferences(url)
    gate, commits, own = threading.Event(), [], []
    sa.event.listen(store.engine, "commit", lambda conn: own.append(1))

    class Gated(Feedback):
        def ingest_in(self, conn, events):
            gate.wait(10)  # hold the first chunk until the customers below are queued
            return super().ingest_in(conn, events)

    feedback = Gated(url)
    sa.event.listen(feedback.engine, "commit", lambda conn: commits.append(1))
    writer = Writer(store, lambda: feedback)

    async def run():
        delivery = asyncio.ensure_future(writer.events([*_events(2 * CHUNK - 1), "not an event"]))
        await asyncio.sleep(0.05)  # the writer is inside the first chunk's transaction
        good = [asyncio.ensure_future(writer.choice(f"C{i}", Change(unsubscribed=True), "one_click",
                                                    f"c{i}@example.com")) for i in range(20)]
        bad = asyncio.ensure_future(writer.choice("C99", Change(unsubscribed=True), "no such source"
                                                  if with_bad else "page"))
        await asyncio.sleep(0.05)
        gate.set()
        return await delivery, await asyncio.gather(*good), await asyncio.gather(bad, return_exceptions=True)

    try:
        counts, answers, (error,) = asyncio.run(run())
    finally:
        writer.close()
    assert counts == {"stored": 2 * CHUNK - 1, "rejected": 1}
    assert all(len(rows) == 1 for rows in answers)
    assert isinstance(error, PreferenceError) if with_bad else len(error) == 1
    assert all(store.get(f"C{i}").unsubscribed for i in range(20)) and store.get("C99").exists != with_bad
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM webhook_events")).scalar() == 2 * CHUNK - 1
        assert conn.execute(sa.text("SELECT count(*) FROM preference_history")).scalar() == 21 - with_bad
    # The customers rode in the first chunk (CHUNK events, begun before they came in); the rest
    # went in chunks of BUSY_CHUNK, since customers' changes were coming in. A bad change makes
    # the others fall back to their own transactions, one by one, on the store's engine.
    assert len(commits) == 1 + -(-(CHUNK - 1) // BUSY_CHUNK)
    assert len(own) == (20 if with_bad else 0)


def test_a_failing_chunk_still_answers_the_customers_behind_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = Preferences(url)
    gate = threading.Event()

    class Broken(Feedback):
        def ingest_in(self, conn, events):
            gate.wait(10)
            conn.execute(sa.text("INSERT INTO no_such_table VALUES (1)"))

    writer = Writer(store, lambda: Broken(url))

    async def run():
        delivery = asyncio.ensure_future(writer.events(_events(3)))
        await asyncio.sleep(0.05)
        choice = asyncio.ensure_future(writer.choice("C1", Change(unsubscribed=True), "one_click"))
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(delivery, choice, return_exceptions=True)

    try:
        failed, rows = asyncio.run(run())
    finally:
        writer.close()
    assert isinstance(failed, sa.exc.OperationalError)
    assert len(rows) == 1 and store.get("C1").unsubscribed


def test_a_delivery_goes_in_chunks_of_chunk_while_no_customer_writes(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    feedback = Feedback(url)
    commits = []
    sa.event.listen(feedback.engine, "commit", lambda conn: commits.append(1))
    writer = Writer(Preferences(url), lambda: feedback)
    try:
        counts = asyncio.run(writer.events(_events(3 * CHUNK)))
    finally:
        writer.close()
    assert counts == {"stored": 3 * CHUNK} and len(commits) == 3
