"""The preference store on a real PostgreSQL server: what only PostgreSQL runs.

The module's contract (its docstring): changes are applied in one transaction per batch that
serialises writers per customer (``SELECT ... FOR UPDATE`` on PostgreSQL; a customer without a
row yet is serialised by a transaction-scoped advisory lock), so concurrent requests for one
customer never lose a change and record each real change once; the history is append-only
(a trigger refuses UPDATE and DELETE) but for an erasure, which deletes under a permit.

Each test gets a fresh database of one server shared by the whole run (``postgres_url``,
tests/conftest.py). Blocking is observed with ``lock_timeout`` (PostgreSQL's
``lock_not_available``, SQLSTATE 55P03, after 100 ms), never with sleeps; where a writer must
really wait, the test reads ``pg_stat_activity`` until the server says it is waiting on a lock.
Expected values are written by hand from that contract.
"""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from milestones.decide.preferences import Change, Preferences, ensure_erasure_path

pytestmark = pytest.mark.needs("postgresql")

LOCK_NOT_AVAILABLE = "55P03"  # PostgreSQL's SQLSTATE when lock_timeout ends a wait


def impatient(conn: sa.Connection) -> sa.Connection:
    """``conn`` in a transaction that gives up any lock wait after 100 ms."""
    conn.begin()
    conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
    return conn


def refused_for_a_lock(store: Preferences, conn: sa.Connection, request: tuple) -> bool:
    """Did the request wait for a lock (until lock_timeout ended it)?"""
    try:
        store.apply_in(impatient(conn), [request])
    except sa.exc.OperationalError as exc:
        conn.rollback()
        assert exc.orig.sqlstate == LOCK_NOT_AVAILABLE, exc
        return True
    conn.rollback()
    return False


def wait_until_blocked(store: Preferences, pid: int) -> None:
    """Until the server reports backend ``pid`` waiting on a lock (10 s at most)."""
    deadline = time.monotonic() + 10
    with store.engine.connect() as probe:
        while time.monotonic() < deadline:
            state = probe.execute(sa.text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :p"),
                                  {"p": pid}).scalar()
            probe.rollback()  # a fresh snapshot of pg_stat_activity each time
            if state == "Lock":
                return
            time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def test_a_writer_holds_its_customers_row_until_it_commits(postgres_url):
    store = Preferences(postgres_url)
    store.apply("C1", Change(unsubscribed=True), "one_click")
    store.apply("C2", Change(unsubscribed=True), "one_click")
    with store.engine.connect() as first, store.engine.connect() as second:
        first.begin()
        # Unsubscribing again changes nothing and writes nothing: only the lock holds the row.
        assert store.apply_in(first, [("C1", Change(unsubscribed=True), "page", None)]) == [[]]
        birthday = Change(opted_out=frozenset({"birthday"}))
        assert refused_for_a_lock(store, second, ("C1", birthday, "page", None))
        assert not refused_for_a_lock(store, second, ("C2", birthday, "page", None))  # per customer
        first.commit()
        assert not refused_for_a_lock(store, second, ("C1", birthday, "page", None))


def test_first_writers_of_a_customer_without_a_row_wait_for_each_other(postgres_url):
    store = Preferences(postgres_url)
    with store.engine.connect() as first, store.engine.connect() as second:
        first.begin()
        # Subscribed is every new customer's state: nothing to record, no row made, a lock held.
        assert store.apply_in(first, [("N1", Change(unsubscribed=False), "page", None)]) == [[]]
        assert refused_for_a_lock(store, second, ("N1", Change(unsubscribed=True), "page", None))
        assert not refused_for_a_lock(store, second, ("N2", Change(unsubscribed=True), "page", None))
        first.commit()
        assert not refused_for_a_lock(store, second, ("N1", Change(unsubscribed=True), "page", None))
    assert not store.get("N1").exists  # each attempt above was rolled back


def test_the_second_writer_of_a_new_customer_sees_the_first_ones_row(postgres_url):
    store = Preferences(postgres_url)
    unsubscribe = Change(unsubscribed=True)
    with store.engine.connect() as first, store.engine.connect() as second, store.engine.connect() as third:
        first.begin()
        recorded = store.apply_in(first, [("N1", unsubscribe, "one_click", "n1@example.com")])
        assert [(r["field"], r["old"], r["new"]) for r in recorded[0]] == [("unsubscribed", "false", "true")]
        second.begin()
        pid = second.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        got: dict = {}

        def unsubscribe_again() -> None:
            try:
                got["rows"] = store.apply_in(second, [("N1", unsubscribe, "page", None)])
            except BaseException as exc:  # noqa: BLE001 - asserted below
                got["error"] = exc

        writer = threading.Thread(target=unsubscribe_again)
        writer.start()
        wait_until_blocked(store, pid)  # the second writer waits for the first one's customer
        first.commit()
        writer.join(10)
        assert not writer.is_alive()
        assert got == {"rows": [[]]}  # it found the row the first one made: already unsubscribed
        # Until it commits, it holds that row as any writer of an existing customer does.
        assert refused_for_a_lock(store, third, ("N1", Change(language="fi"), "page", None))
        second.commit()
    assert [(h["field"], h["source"]) for h in store.history("N1")] == [("unsubscribed", "one_click")]


def test_history_is_listed_in_the_order_it_was_recorded_after_an_erasure_freed_space(postgres_url):
    store = Preferences(postgres_url)
    store.apply("A", Change(unsubscribed=True), "one_click")
    store.apply("B", Change(language="fi"), "page")
    store.apply("B", Change(language="et"), "page")
    store.apply("A", Change(language="fi"), "page")
    # B is erased as the erasure does it (a permit, the delete, the permit gone; then VACUUM):
    # PostgreSQL reuses the space of B's rows for A's next ones, ahead of A's older rows.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO preference_erasure_permits (id) VALUES ('erase-B')")
        assert conn.exec_driver_sql("DELETE FROM preference_history WHERE customer_id = 'B'").rowcount == 2
        conn.exec_driver_sql("DELETE FROM preference_erasure_permits")
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM preference_history")
    # One request changing two fields: two rows of one moment, in the order they were recorded.
    store.apply("A", Change(unsubscribed=False, language="et"), "page")
    assert [(h["field"], h["old"], h["new"]) for h in store.history("A")] == [
        ("unsubscribed", "false", "true"),
        ("language", None, "fi"),
        ("unsubscribed", "true", "false"),
        ("language", "fi", "et"),
    ]
    assert store.history("B") == []


OLD_FUNCTION = (  # what an earlier version made: no erasure path, every UPDATE and DELETE refused
    "CREATE OR REPLACE FUNCTION preference_history_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'preference_history is append-only'; END $$")


def refused(store: Preferences, *statements: str) -> bool:
    """Did the database refuse the last statement as the append-only rule (rolled back)?"""
    try:
        with store.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)
    except sa.exc.DatabaseError as exc:
        assert "preference_history is append-only" in str(exc.orig)
        return True
    return False


def test_an_older_history_gets_the_erasure_path_and_stays_append_only(postgres_url):
    store = Preferences(postgres_url)
    store.apply("A", Change(unsubscribed=True), "one_click")
    store.apply("B", Change(unsubscribed=True), "one_click")
    permit = "INSERT INTO preference_erasure_permits (id) VALUES ('p')"
    delete_b = "DELETE FROM preference_history WHERE customer_id = 'B'"
    with store.engine.begin() as conn:
        conn.exec_driver_sql(OLD_FUNCTION)
    assert refused(store, permit, delete_b)  # the old trigger: not even with a permit
    with store.engine.begin() as conn:
        ensure_erasure_path(conn)
    assert refused(store, delete_b)  # without a permit: still refused
    assert refused(store, permit, "UPDATE preference_history SET new = 'false'")  # a permit never allows UPDATE
    assert not refused(store, permit, delete_b, "DELETE FROM preference_erasure_permits")
    assert store.history("B") == []
    assert [(h["field"], h["new"]) for h in store.history("A")] == [("unsubscribed", "true")]
