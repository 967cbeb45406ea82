"""Fast unit tests that kill the mutants of decide.preferences: the preference store's rules, one at a time.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from milestones.decide.preferences import (
    Change,
    PreferenceError,
    Preferences,
    State,
    _text,
    ensure_erasure_path,
    make_engine,
    pause_until,
)

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 22)


@pytest.fixture
def store(tmp_path):
    return Preferences(f"sqlite:///{tmp_path / 'ledger.sqlite'}")


@pytest.mark.parametrize("today, months, end", [
    (dt.date(2026, 1, 31), 3, dt.date(2026, 4, 30)),     # no 31 April: the 30th
    (dt.date(2026, 11, 30), 3, dt.date(2027, 2, 28)),    # no 30 February: the 28th in a common year
    (dt.date(2027, 11, 29), 3, dt.date(2028, 2, 29)),    # the 29th in a leap year
    (dt.date(2027, 11, 30), 3, dt.date(2028, 2, 29)),
    (dt.date(2026, 12, 15), 12, dt.date(2027, 12, 15)),
    (dt.date(2026, 9, 10), 3, dt.date(2026, 12, 10)),    # December stays in the year
    (dt.date(2026, 10, 1), 3, dt.date(2027, 1, 1)),
    (dt.date(2026, 6, 30), 6, dt.date(2026, 12, 30)),
])
def test_a_pause_ends_on_the_same_day_of_month_or_the_months_last(today, months, end):
    assert pause_until(today, months) == end


@pytest.mark.parametrize("months", [0, 1, 2, 4, 24, -3])
def test_only_the_offered_pauses(months):
    with pytest.raises(PreferenceError) as refused:
        pause_until(DAY, months)
    assert str(refused.value) == f"pause for 3, 6 or 12 months, not {months}"


def test_a_pause_holds_up_to_the_day_before_its_end():
    state = State("C1", paused_until=DAY)
    assert state.paused(DAY - dt.timedelta(days=1))
    assert not state.paused(DAY)
    assert not State("C1").paused(DAY)


@pytest.mark.parametrize("value, text", [
    (None, None), (dt.date.min, None), (frozenset({"marriage", "birthday"}), "birthday,marriage"),
    (frozenset(), ""), (True, "true"), (False, "false"), (dt.date(2027, 2, 22), "2027-02-22"), ("fi", "fi"),
])
def test_history_values_as_text(value, text):
    assert _text(value) == text


def test_an_unknown_source_is_refused_and_nothing_is_stored(store):
    with pytest.raises(PreferenceError) as refused:
        store.apply_many([("C1", Change(unsubscribed=True), "page", None),
                          ("C2", Change(unsubscribed=True), "sms", None)], now=NOW)
    assert str(refused.value) == "unknown source 'sms'"
    assert not store.get("C1").exists and store.history("C1") == []


@pytest.mark.parametrize("source", ["one_click", "page"])
def test_the_customer_may_subscribe_again(store, source):
    store.apply("C1", Change(unsubscribed=True), "crm_import", now=NOW)
    rows = store.apply("C1", Change(unsubscribed=False), source, now=NOW)
    assert [(r["old"], r["new"]) for r in rows] == [("true", "false")]


@pytest.mark.parametrize("source", ["webhook", "crm_import"])
def test_the_crm_and_the_webhook_may_unsubscribe_and_set_other_choices(store, source):
    rows = store.apply("C1", Change(unsubscribed=True, language="et"), source, now=NOW)
    assert [r["field"] for r in rows] == ["unsubscribed", "language"]
    with pytest.raises(PreferenceError) as refused:
        store.apply("C1", Change(unsubscribed=False), source, now=NOW)
    assert str(refused.value) == "only the customer can undo an unsubscribe"


def test_a_history_row_in_full_with_the_consent_proof(store):
    proof = {"wording": "prefs-v3", "client_hash": "client:abc"}
    (row,) = store.apply("C1", Change(opted_out=frozenset({"marriage", "birthday"})), "page",
                         email="Ann@Example.COM", now=NOW, proof=proof)
    assert row == {"customer_id": "C1", "at": NOW, "source": "page", "field": "opted_out", "old": "",
                   "new": "birthday,marriage", "wording": "prefs-v3", "client_hash": "client:abc"}
    (stored,) = store.history("C1")
    assert {k: stored[k] for k in ("customer_id", "source", "field", "old", "new", "wording", "client_hash")} == {
        "customer_id": "C1", "source": "page", "field": "opted_out", "old": "", "new": "birthday,marriage",
        "wording": "prefs-v3", "client_hash": "client:abc"}
    state = store.get("C1")
    assert (state.email, state.updated_by, state.exists, state.opted_out) == (
        "ann@example.com", "page", True, frozenset({"marriage", "birthday"}))
    assert state.updated_at.replace(tzinfo=dt.UTC) == NOW


@pytest.mark.parametrize("source, wording", [
    ("webhook", "sendgrid-event-webhook"), ("crm_import", "crm-import"), ("one_click", "list-unsubscribe"),
    ("page", None),
])
def test_a_change_without_proof_records_the_wording_of_its_source(store, source, wording):
    (row,) = store.apply("C1", Change(unsubscribed=True), source, now=NOW)
    assert (row["wording"], row["client_hash"]) == (wording, None)


def test_a_wording_is_cut_to_64_characters(store):
    (row,) = store.apply("C1", Change(unsubscribed=True), "page", now=NOW, proof={"wording": "w" * 70})
    assert row["wording"] == "w" * 64


def test_a_pause_and_its_clearing(store):
    until = dt.date(2027, 2, 22)
    (row,) = store.apply("C1", Change(paused_until=until), "page", now=NOW)
    assert (row["field"], row["old"], row["new"]) == ("paused_until", None, "2027-02-22")
    assert store.get("C1").paused_until == until
    (row,) = store.apply("C1", Change(paused_until=dt.date.min), "page", now=NOW)
    assert (row["old"], row["new"]) == ("2027-02-22", None)
    assert store.get("C1").paused_until is None
    assert store.apply("C1", Change(paused_until=dt.date.min), "page", now=NOW) == []  # nothing to clear


def test_an_address_is_kept_until_another_is_given_and_stored_in_lower_case(store):
    store.apply("C1", Change(language="fi"), "page", email="First@Example.com", now=NOW)
    store.apply("C1", Change(language="et"), "page", now=NOW)
    assert store.get("C1").email == "first@example.com"
    store.apply("C1", Change(language="en"), "page", email="Second@Example.com", now=NOW)
    assert store.get("C1").email == "second@example.com"
    store.apply("C2", Change(language="fi"), "page", now=NOW)
    assert store.get("C2").email is None
    # A change that changes nothing does not touch the stored address.
    store.apply("C1", Change(language="en"), "page", email="third@example.com", now=NOW)
    assert store.get("C1").email == "second@example.com"


def test_a_missing_customer_reads_as_a_fresh_state(store):
    state = store.get("nobody")
    assert state == State("nobody")
    assert not state.exists


def test_many_customers_in_one_batch_then_all_changed_again(store):
    # More than one lookup chunk of ids: every existing row is found and updated, none inserted twice.
    ids = [f"C{i:04d}" for i in range(1203)]
    store.apply_many([(c, Change(language="fi"), "page", None) for c in ids], now=NOW)
    later = NOW + dt.timedelta(hours=1)
    done = store.apply_many([(c, Change(language="et"), "crm_import", None) for c in ids], now=later)
    assert all(len(rows) == 1 and rows[0]["old"] == "fi" for rows in done)
    with store.engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*), count(DISTINCT language), min(language) FROM preferences")).one() \
            == (1203, 1, "et")
        assert conn.execute(sa.text("SELECT count(*) FROM preference_history")).scalar() == 2406


def test_the_policy_view_on_a_day(store):
    store.apply("U", Change(unsubscribed=True), "page", email="U@Example.com", now=NOW)
    store.apply("U2", Change(unsubscribed=True), "webhook", now=NOW)  # no address known
    store.apply("O", Change(opted_out=frozenset({"birthday", "marriage"})), "page", now=NOW)
    store.apply("P", Change(paused_until=DAY + dt.timedelta(days=1)), "page", now=NOW)
    store.apply("E", Change(paused_until=DAY), "page", now=NOW)  # ends today: not paused today
    store.apply("L", Change(language="fi"), "page", now=NOW)
    store.apply("B", Change(unsubscribed=True, opted_out=frozenset({"birthday"})), "page", now=NOW)
    store.apply("B", Change(unsubscribed=False, opted_out=frozenset()), "page", now=NOW)  # came back
    view = store.policy_view(DAY)
    assert view.unsubscribed == frozenset({"U", "U2"})
    assert view.unsubscribed_inboxes == frozenset({"u@example.com"})
    assert view.opted_out == {"O": frozenset({"birthday", "marriage"})}
    assert view.paused == frozenset({"P"})
    assert store.policy_view(DAY - dt.timedelta(days=1)).paused == frozenset({"P", "E"})


def test_languages_are_only_the_chosen_ones(store):
    store.apply("F", Change(language="fi"), "page", now=NOW)
    store.apply("N", Change(unsubscribed=True), "page", now=NOW)
    assert store.languages() == {"F": "fi"}


def test_changed_since_includes_its_own_instant_and_is_sorted_by_id(store):
    store.apply("B", Change(language="fi"), "page", now=NOW)
    store.apply("A", Change(language="fi"), "page", now=NOW - dt.timedelta(hours=1))
    store.apply("C", Change(language="fi"), "page", now=NOW + dt.timedelta(hours=1))
    assert [s.customer_id for s in store.changed_since()] == ["A", "B", "C"]
    assert [s.customer_id for s in store.changed_since(NOW)] == ["B", "C"]
    assert all(s.exists for s in store.changed_since(NOW))


def test_history_is_in_the_order_it_was_recorded(store):
    store.apply("C1", Change(language="fi"), "page", now=NOW)
    store.apply("C1", Change(language="et"), "page", now=NOW - dt.timedelta(days=1))  # an older clock
    assert [h["new"] for h in store.history("C1")] == ["fi", "et"]


def test_a_sqlite_engine_makes_its_folder_writes_ahead_and_waits_for_the_lock(tmp_path):
    path = tmp_path / "deep" / "er" / "ledger.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    assert path.parent.is_dir()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    assert engine.hide_parameters


def test_a_server_engine_checks_its_connections_and_hides_parameters(tmp_path):
    engine = make_engine("postgresql+psycopg://u@127.0.0.1:1/none")
    assert engine.pool._pre_ping and engine.hide_parameters
    assert not (tmp_path / "none").exists()


def test_an_old_history_without_the_erasure_path_gets_it_once(store):
    old = ("CREATE TRIGGER preference_history_no_delete BEFORE DELETE ON preference_history "
           "BEGIN SELECT RAISE(ABORT, 'preference_history is append-only'); END")
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER preference_history_no_delete")
        conn.exec_driver_sql(old)
        ensure_erasure_path(conn)
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'preference_history_no_delete'").scalar()
    assert "preference_erasure_permits" in sql
    with store.engine.begin() as conn:
        ensure_erasure_path(conn)  # already there: unchanged
        again = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'preference_history_no_delete'").scalar()
    assert again == sql


def test_a_pause_ending_today_is_over_even_for_a_customer_loaded_for_another_choice(store):
    # Loaded because of the opt-out; the pause that ends today (exclusive) no longer holds.
    store.apply("X", Change(opted_out=frozenset({"birthday"}), paused_until=DAY), "page", now=NOW)
    view = store.policy_view(DAY)
    assert view.opted_out == {"X": frozenset({"birthday"})} and view.paused == frozenset()
    assert store.policy_view(DAY - dt.timedelta(days=1)).paused == frozenset({"X"})


def test_an_erased_customers_old_link_changes_nothing_and_the_others_in_the_batch_still_apply(store, monkeypatch):
    from milestones.decide import erased

    asked = []
    monkeypatch.setattr(erased, "guard", lambda conn: lambda cid, email: asked.append((cid, email)) or cid == "GONE")
    got = store.apply_many([("GONE", Change(unsubscribed=True), "page", "gone@example.com"),
                            ("KEPT", Change(unsubscribed=True), "page", "kept@example.com")], now=NOW)
    assert asked == [("GONE", "gone@example.com"), ("KEPT", "kept@example.com")]
    assert got[0] == [] and len(got[1]) == 1
    assert not store.get("GONE").exists and store.get("KEPT").unsubscribed


def test_the_preferences_engine_waits_for_a_lock_and_hides_values_in_errors(tmp_path):
    import sqlalchemy as sa

    engine = make_engine(f"sqlite:///{tmp_path / 'p.sqlite'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000
    with pytest.raises(sa.exc.SQLAlchemyError) as failed, engine.connect() as conn:
        conn.execute(sa.text("SELECT :address FROM no_such_table"), {"address": "widow.person@example.com"})
    assert "widow.person@example.com" not in str(failed.value)


def test_a_sqlite_store_waits_for_a_writer_instead_of_failing(tmp_path):
    from milestones.decide.preferences import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'p.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000  # up to 30 s


def test_no_opted_out_types_is_the_empty_set():
    from milestones.decide.preferences import _split

    assert _split(None) == _split("") == frozenset()
    assert _split("birthday,,retirement") == frozenset({"birthday", "retirement"})


def test_a_change_is_recorded_in_utc_whatever_the_servers_zone(store, server_zone):
    from milestones.decide.preferences import history

    server_zone("America/New_York")
    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    store.apply("C1", Change(unsubscribed=True), "page")
    after = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    with store.engine.connect() as conn:
        at = conn.execute(sa.select(history.c.at)).scalars().first()
    assert before <= at.replace(tzinfo=None) <= after
