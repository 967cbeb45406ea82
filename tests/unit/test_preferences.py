"""The preference store: changes, history, rules, and how the policy applies them."""

from __future__ import annotations

import datetime as dt
import threading

import pandas as pd
import pytest
import sqlalchemy as sa

from milestones.decide.policy import Policy, decide
from milestones.decide.preferences import Change, PreferenceError, Preferences, pause_until

NOW = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)


@pytest.fixture
def store(tmp_path):
    return Preferences(f"sqlite:///{tmp_path / 'ledger.sqlite'}")


def test_changes_are_recorded_once_with_source_and_old_value(store):
    rows = store.apply("C1", Change(unsubscribed=True), "one_click", email="A@Example.com", now=NOW)
    assert [(r["field"], r["old"], r["new"], r["source"]) for r in rows] == [
        ("unsubscribed", "false", "true", "one_click")]
    assert store.apply("C1", Change(unsubscribed=True), "page", now=NOW) == []  # nothing changed
    store.apply("C1", Change(opted_out=frozenset({"birthday"}), language="fi"), "page", now=NOW)
    state = store.get("C1")
    assert (state.unsubscribed, state.opted_out, state.language, state.email) == (
        True, frozenset({"birthday"}), "fi", "a@example.com")
    assert [h["field"] for h in store.history("C1")] == ["unsubscribed", "opted_out", "language"]


def test_only_the_customer_undoes_an_unsubscribe(store):
    store.apply("C1", Change(unsubscribed=True), "webhook", now=NOW)
    for source in ("crm_import", "webhook"):
        with pytest.raises(PreferenceError, match="only the customer"):
            store.apply("C1", Change(unsubscribed=False), source, now=NOW)
    assert store.get("C1").unsubscribed
    store.apply("C1", Change(unsubscribed=False), "page", now=NOW)
    assert not store.get("C1").unsubscribed


def test_history_is_append_only(store):
    store.apply("C1", Change(unsubscribed=True), "page", now=NOW)
    for statement in ("UPDATE preference_history SET new = 'false'", "DELETE FROM preference_history"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert len(store.history("C1")) == 1


def test_concurrent_writers_for_one_customer_lose_nothing(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    Preferences(url)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            mine = Preferences(url)  # its own engine and connections, like another server process
            mine.apply("C1", Change(unsubscribed=True), "one_click", now=NOW)
            mine.apply("C1", Change(language=["fi", "et"][n % 2]), "page", now=NOW)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = Preferences(url).history("C1")
    assert [h["field"] for h in history].count("unsubscribed") == 1  # one real change, recorded once
    languages = [h for h in history if h["field"] == "language"]
    # Every recorded language change starts from the value the previous one left: no lost update.
    assert languages[0]["old"] is None
    assert all(a["new"] == b["old"] for a, b in zip(languages, languages[1:], strict=False))
    assert Preferences(url).get("C1").language == languages[-1]["new"]


@pytest.mark.parametrize("today, months, end", [
    (dt.date(2026, 11, 22), 3, dt.date(2027, 2, 22)),
    (dt.date(2026, 8, 31), 6, dt.date(2027, 2, 28)),
    (dt.date(2026, 11, 30), 12, dt.date(2027, 11, 30)),
])
def test_pause_lengths(today, months, end):
    assert pause_until(today, months) == end
    with pytest.raises(PreferenceError):
        pause_until(today, 5)


def test_policy_applies_choices_over_crm_opt_in(store):
    day = dt.date(2026, 11, 22)
    store.apply("C1", Change(unsubscribed=True), "one_click", now=NOW)
    store.apply("C2", Change(opted_out=frozenset({"birthday"})), "page", now=NOW)
    store.apply("C3", Change(paused_until=pause_until(day, 3)), "page", now=NOW)
    store.apply("C4", Change(paused_until=day), "page", now=NOW)  # a pause that ended today
    ids = ["C1", "C2", "C2", "C3", "C4"]
    events = pd.DataFrame({"customer_id": ids, "key": [f"k{i}" for i in range(5)],
                           "event_type": ["birthday", "birthday", "retirement", "birthday", "birthday"],
                           "event_date": [day] * 5})
    snapshot = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"], "marketing_opt_in": [True] * 4,
                             "deceased": [False] * 4, "email": ["a@x.fi", "b@x.fi", "c@x.fi", "d@x.fi"]})
    out = decide(events, snapshot, Policy(preferences=store.policy_view(day)), as_of=day)
    assert list(out["reason"]) == ["unsubscribed", "opted_out_of_type", "", "paused", ""]
