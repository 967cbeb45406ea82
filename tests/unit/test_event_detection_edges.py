"""Fast unit tests that kill the mutants of detect.events: the rules as data, date edges, catch-up and loading.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from milestones.detect.events import (
    EVENT_COLUMNS,
    EventRule,
    Trigger,
    columns_read,
    detect_events,
    local_dates,
    parse_rules,
)

DAY = dt.date(2026, 11, 22)
ANNUAL = {"kind": "annual", "column": "date_of_birth"}


def frame(*rows: dict, dates=("d",)) -> pd.DataFrame:
    out = pd.DataFrame([{"customer_id": None, "timezone": "UTC", **r} for r in rows])
    for col in dates:
        if col in out.columns:
            out[col] = pd.to_datetime(out[col]).astype("datetime64[s]")
    return out


def rows(ev: pd.DataFrame, *cols: str) -> list[tuple]:
    return [tuple(str(v) for v in r) for r in ev[list(cols)].itertuples(index=False)]


# --- the rules file: every mistake named, with the source and the event --------------------

@pytest.mark.parametrize("data, message", [
    ({}, "x.yaml: expected a non-empty 'events' mapping"),
    ({"events": {}}, "x.yaml: expected a non-empty 'events' mapping"),
    ({"events": [{"birthday": {}}]}, "x.yaml: expected a non-empty 'events' mapping"),
    ({"events": {"e": {}}}, "x.yaml: event 'e': needs 'triggers'"),
    ({"events": {"e": "annual"}}, "x.yaml: event 'e': needs 'triggers'"),
    ({"events": {"e": {"triggers": []}}}, "x.yaml: event 'e': needs 'triggers'"),
    ({"events": {"e": {"triggers": [{"kind": "weekly", "column": "d"}]}}},
     "x.yaml: event 'e': unknown trigger kind 'weekly' (use annual, on_date, change)"),
    ({"events": {"e": {"triggers": [{"column": "d"}]}}},
     "x.yaml: event 'e': unknown trigger kind None (use annual, on_date, change)"),
    ({"events": {"e": {"triggers": [{"kind": "on_date"}]}}}, "x.yaml: event 'e': a on_date trigger needs 'column'"),
    ({"events": {"e": {"triggers": [{"kind": "change", "column": "s"}]}}},
     "x.yaml: event 'e': a change trigger needs one of to, from, increased, set"),
    ({"events": {"e": {"triggers": [{"kind": "change", "column": "s", "to": [], "set": False}]}}},
     "x.yaml: event 'e': a change trigger needs one of to, from, increased, set"),
    ({"events": {"e": {"triggers": [ANNUAL, {"kind": "on_date", "column": "d"}]}}},
     "x.yaml: event 'e': annual triggers cannot be mixed with one-off ones"),
    ({"events": {"e": {"triggers": [{"kind": "on_date", "column": "d"}, ANNUAL]}}},
     "x.yaml: event 'e': annual triggers cannot be mixed with one-off ones"),
    ({"events": {"e": {"triggers": [ANNUAL], "never_when": ["widowed"]}}},
     "x.yaml: event 'e': never_when maps a column to a non-empty list of values"),
    ({"events": {"e": {"triggers": [ANNUAL], "never_when": {"marital_status": []}}}},
     "x.yaml: event 'e': never_when maps a column to a non-empty list of values"),
    ({"events": {"e": {"triggers": [ANNUAL], "never_when": {"marital_status": "widowed"}}}},
     "x.yaml: event 'e': never_when maps a column to a non-empty list of values"),
    ({"events": {"e": {"triggers": [ANNUAL], "never_when": {"a": ["x"], "b": []}}}},
     "x.yaml: event 'e': never_when maps a column to a non-empty list of values"),
    ({"events": {"e": {"triggers": [ANNUAL], "age_at_event": {"min": 1, "mean": 2}}}},
     "x.yaml: event 'e': age_at_event takes min and max (whole years)"),
    ({"events": {"e": {"triggers": [ANNUAL], "age_at_event": [16, 45]}}},
     "x.yaml: event 'e': age_at_event takes min and max (whole years)"),
    ({"events": {"e": {"triggers": [ANNUAL], "age_at_event": {"min": 50, "max": 40}}}},
     "x.yaml: event 'e': age_at_event min 50 is above max 40"),
])
def test_every_mistake_in_the_rules_is_named(data, message):
    with pytest.raises(ValueError) as refused:
        parse_rules(data, "x.yaml")
    assert str(refused.value) == message


def test_the_default_source_is_rules():
    with pytest.raises(ValueError) as refused:
        parse_rules({})
    assert str(refused.value) == "rules: expected a non-empty 'events' mapping"


def test_a_rule_keeps_every_field_it_was_given_and_defaults_the_rest():
    (full, bare) = parse_rules({"events": {
        "full": {"max_age_days": "9", "never_when": {"marital_status": ["widowed", 7]},
                 "age_at_event": {"min": "16", "max": 16},
                 "triggers": [{"kind": "change", "column": "s", "to": ["a"], "from": ["b"]},
                              {"kind": "change", "column": "n", "increased": 1},
                              {"kind": "change", "column": "w", "set": "yes"},
                              {"kind": "on_date", "column": "d"}]},
        "bare": {"triggers": [{"kind": "annual", "column": "d", "milestones": ["18", 30]}]},
    }})
    assert full == EventRule("full", 9, (
        Trigger("change", "s", to=("a",), from_=("b",)),
        Trigger("change", "n", increased=True),
        Trigger("change", "w", set=True),
        Trigger("on_date", "d"),
    ), never_when=(("marital_status", ("widowed", "7")),), age_min=16, age_max=16)
    assert bare == EventRule("bare", 3, (Trigger("annual", "d", milestones=(18, 30)),))
    assert bare.age_min is None and bare.age_max is None and bare.never_when == ()
    assert bare.annual and not full.annual


@pytest.mark.parametrize("ages, low, high", [({"min": 16}, 16, None), ({"max": 80}, None, 80), ({}, None, None)])
def test_an_age_bound_may_be_given_alone(ages, low, high):
    (rule,) = parse_rules({"events": {"e": {"triggers": [ANNUAL], "age_at_event": ages}}})
    assert (rule.age_min, rule.age_max) == (low, high)


def test_each_change_kind_alone_is_enough():
    for spec in ({"to": ["x"]}, {"from": ["x"]}, {"increased": True}, {"set": True}):
        (rule,) = parse_rules({"events": {"e": {"triggers": [{"kind": "change", "column": "s", **spec}]}}})
        assert rule.triggers[0].kind == "change"


def test_yesterdays_snapshot_is_compared_on_the_ids_and_the_change_columns_only():
    from milestones.detect.events import columns_compared, load_rules

    rules = parse_rules({"events": {
        "e": {"triggers": [{"kind": "change", "column": "z", "to": ["a"]}, {"kind": "on_date", "column": "o"}]},
        "g": {"triggers": [{"kind": "annual", "column": "d"}]},
        "f": {"triggers": [{"kind": "change", "column": "b", "set": True},
                           {"kind": "change", "column": "z", "from": ["a"]}]},
    }})
    assert columns_compared(rules) == ["customer_id", "b", "z"]
    assert columns_compared(parse_rules({"events": {"e": {"triggers": [ANNUAL]}}})) == ["customer_id"]
    # The shipped rules (plugins/milestones/detect/rules/events.yaml): four change columns.
    assert columns_compared(load_rules()) == [
        "customer_id", "children_count", "employment_status", "marital_status", "wedding_date"]


def test_a_rule_of_only_one_off_triggers_or_no_annual_one_is_not_annual():
    assert EventRule("e", 1, (Trigger("annual", "a"), Trigger("annual", "b"))).annual
    assert not EventRule("e", 1, (Trigger("annual", "a"), Trigger("on_date", "b"))).annual


def test_columns_read_are_the_ids_the_zone_and_each_trigger_column_once_sorted():
    rules = (EventRule("x", 1, (Trigger("annual", "z_date"), Trigger("annual", "a_date"))),
             EventRule("y", 1, (Trigger("on_date", "z_date"), Trigger("change", "status", to=("a",)))))
    assert columns_read(rules) == ["customer_id", "timezone", "a_date", "status", "z_date"]


# --- dates ----------------------------------------------------------------------------------

def test_local_dates_for_an_as_of_run_are_that_day_for_everyone():
    got = local_dates(frame({"customer_id": "a"}, {"customer_id": "b", "timezone": "Pacific/Auckland"}), as_of=DAY)
    assert [str(d) for d in got] == ["2026-11-22", "2026-11-22"]


def test_local_dates_at_an_instant_are_each_zones_own_day():
    snap = frame({"customer_id": "a", "timezone": "America/New_York"}, {"customer_id": "b", "timezone": None},
                 {"customer_id": "c", "timezone": "Pacific/Auckland"}, {"customer_id": "d", "timezone": "America/New_York"})
    at = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)  # 21st 22:00 in New York, 22nd 16:00 in Auckland
    assert [str(d) for d in local_dates(snap, instant=at)] == ["2026-11-21", "2026-11-22", "2026-11-22", "2026-11-21"]
    assert [str(d) for d in local_dates(snap, instant=at, default_timezone="America/New_York")] == [
        "2026-11-21", "2026-11-21", "2026-11-22", "2026-11-21"]


ON_DATE = (EventRule("retire", 5, (Trigger("on_date", "d"),)),)


@pytest.mark.parametrize("when, found", [
    ("2026-11-23", False),  # tomorrow: not yet
    ("2026-11-22", True),   # today
    ("2026-11-20", True),   # the first day of a three-day window
    ("2026-11-19", False),  # before the window
    (None, False),
])
def test_an_on_date_event_falls_in_the_window_ending_today(when, found):
    ev = detect_events(frame({"customer_id": "a", "d": when}), as_of=DAY, days=3, rules=ON_DATE)
    assert (len(ev) == 1) is found


def test_an_on_date_event_is_late_by_its_days_and_stale_after_its_max_age():
    rules = (EventRule("retire", 2, (Trigger("on_date", "d"),)),)
    snap = frame({"customer_id": "a", "d": "2026-11-22"}, {"customer_id": "b", "d": "2026-11-20"},
                 {"customer_id": "c", "d": "2026-11-19"})
    ev = detect_events(snap, as_of=DAY, days=4, rules=rules)
    assert rows(ev, "customer_id", "event_date", "days_late", "stale", "years", "milestone", "source") == [
        ("a", "2026-11-22 00:00:00", "0", "False", "0", "0", "d"),
        ("b", "2026-11-20 00:00:00", "2", "False", "0", "0", "d"),   # as late as its max age: still welcome
        ("c", "2026-11-19 00:00:00", "3", "True", "0", "0", "d"),
    ]
    assert list(ev.columns) == EVENT_COLUMNS


ANNUAL_RULE = (EventRule("bday", 3, (Trigger("annual", "d", milestones=(10, 50)),)),)


def test_annual_events_over_a_catch_up_window_at_an_instant():
    # Two zones with different local dates: the per-customer path (no single date).
    snap = frame({"customer_id": "ny", "timezone": "America/New_York", "d": "2016-11-20"},
                 {"customer_id": "ak", "timezone": "Pacific/Auckland", "d": "1976-11-22"},
                 {"customer_id": "ak0", "timezone": "Pacific/Auckland", "d": "2026-11-22"},  # born today: year 0
                 {"customer_id": "none", "timezone": "Pacific/Auckland", "d": None})
    at = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)  # New York: the 21st; Auckland: the 22nd
    ev = detect_events(snap, instant=at, days=1, rules=ANNUAL_RULE)
    assert rows(ev, "customer_id", "event_date", "years", "milestone", "days_late", "source") == [
        ("ak", "2026-11-22 00:00:00", "50", "50", "0", "d"),
    ]
    ev = detect_events(snap, instant=at, days=2, rules=ANNUAL_RULE)  # New York's 20th is in its window
    assert rows(ev, "customer_id", "event_date", "years", "milestone", "days_late") == [
        ("ak", "2026-11-22 00:00:00", "50", "50", "0"),
        ("ny", "2026-11-20 00:00:00", "10", "10", "1"),
    ]


def test_annual_events_of_a_run_date_and_the_days_before_it():
    snap = frame({"customer_id": "a", "d": "2000-11-21"}, {"customer_id": "b", "d": "2016-11-22"},
                 {"customer_id": "c", "d": "2001-11-23"})
    ev = detect_events(snap, as_of=DAY, days=2, rules=ANNUAL_RULE)
    assert rows(ev, "customer_id", "event_date", "years", "milestone", "days_late", "stale") == [
        ("a", "2026-11-21 00:00:00", "26", "0", "1", "False"),
        ("b", "2026-11-22 00:00:00", "10", "10", "0", "False"),
    ]
    assert ev["years"].dtype == "int64" and ev["milestone"].dtype == "int64"
    assert str(ev["event_date"].dtype) == "datetime64[s]"


def test_a_column_with_no_dates_finds_nothing_and_the_result_keeps_its_columns():
    ev = detect_events(frame({"customer_id": "a", "d": None}), as_of=DAY, rules=ANNUAL_RULE)
    assert ev.empty and list(ev.columns) == EVENT_COLUMNS
    assert {c: str(t) for c, t in ev.dtypes.items()} == {
        "customer_id": "string", "event_type": "string", "event_date": "datetime64[s]", "years": "int64",
        "milestone": "int64", "source": "string", "key": "string", "days_late": "int64", "stale": "bool"}


@pytest.mark.parametrize("day, rule, found", [
    ("2027-02-28", "feb28", True), ("2027-03-01", "feb28", False),
    ("2027-02-28", "mar1", False), ("2027-03-01", "mar1", True),
    ("2028-02-29", "mar1", True), ("2028-03-01", "mar1", False), ("2028-02-28", "feb28", False),
])
def test_a_leap_day_birthday_in_common_and_leap_years(day, rule, found):
    snap = frame({"customer_id": "l", "d": "2004-02-29"})
    ev = detect_events(snap, as_of=dt.date.fromisoformat(day), leap_day_rule=rule, rules=ANNUAL_RULE)
    assert (len(ev) == 1) is found


# --- changes between two snapshots ------------------------------------------------------------

def _changes(trigger: Trigger, before: list, after: list) -> list[str]:
    ids = [f"c{i}" for i in range(len(before))]
    prev = pd.DataFrame({"customer_id": ids, "timezone": "UTC", "s": before})
    cur = pd.DataFrame({"customer_id": ids, "timezone": "UTC", "s": after})
    ev = detect_events(cur, prev, as_of=DAY, rules=(EventRule("e", 30, (trigger,)),))
    assert set(ev["source"]) <= {"change"}
    return list(ev["customer_id"])


def test_a_change_to_a_value():
    t = Trigger("change", "s", to=("married", "partnered"))
    assert _changes(t, ["single", "married", None, "married", "single"],
                    ["married", "married", "partnered", "partnered", None]) == ["c0", "c2"]


def test_a_change_from_a_value_to_another_known_one():
    t = Trigger("change", "s", from_=("student",))
    assert _changes(t, ["student", "student", "student", "employed"],
                    ["employed", "student", None, "student"]) == ["c0"]


def test_a_change_from_and_to_is_exactly_that_change():
    t = Trigger("change", "s", to=("employed",), from_=("student",))
    assert _changes(t, ["student", "student", "retired", "employed", "student"],
                    ["employed", "retired", "employed", "employed", None]) == ["c0"]


def test_a_number_that_went_up_counting_missing_as_zero():
    t = Trigger("change", "s", increased=True)
    before = pd.array([1, None, 2, 2, None], dtype="Int64")
    after = pd.array([2, 1, 2, 1, None], dtype="Int64")
    assert _changes(t, before, after) == ["c0", "c1"]


def test_a_value_that_was_set():
    t = Trigger("change", "s", set=True)
    assert _changes(t, [None, "x", None, "x"], ["x", "y", None, None]) == ["c0"]


def test_customers_new_in_this_snapshot_have_no_changes_and_an_empty_previous_has_none():
    t = Trigger("change", "s", set=True)
    rules = (EventRule("e", 30, (t,)),)
    prev = pd.DataFrame({"customer_id": ["old", "gone"], "timezone": "UTC", "s": [None, None]})
    cur = pd.DataFrame({"customer_id": ["new", "old"], "timezone": "UTC", "s": ["x", "y"]})
    ev = detect_events(cur, prev, as_of=DAY, rules=rules)
    assert rows(ev, "customer_id", "event_date", "days_late") == [("old", "2026-11-22 00:00:00", "0")]
    assert detect_events(cur, prev.iloc[0:0], as_of=DAY, rules=rules).empty
    assert detect_events(cur, None, as_of=DAY, rules=rules).empty


def test_a_one_off_event_seen_twice_in_a_year_is_one_event_and_an_annual_one_per_date():
    rules = (EventRule("m", 30, (Trigger("change", "s", to=("married",)), Trigger("on_date", "d"))),)
    prev = frame({"customer_id": "a", "s": "single", "d": None})
    cur = frame({"customer_id": "a", "s": "married", "d": "2026-11-10"})
    ev = detect_events(cur, prev, as_of=DAY, days=30, rules=rules)
    assert len(ev) == 1  # the same year: one marriage
    annual = (EventRule("b", 3, (Trigger("annual", "d"), Trigger("annual", "e"))),)
    snap = frame({"customer_id": "a", "d": "2000-11-22", "e": "2001-11-21"}, dates=("d", "e"))
    assert len(detect_events(snap, as_of=DAY, days=2, rules=annual)) == 2  # two dates: two events


def test_events_are_sorted_by_customer_then_type():
    rules = (EventRule("z", 3, (Trigger("annual", "d"),)), EventRule("a", 3, (Trigger("annual", "d"),)))
    snap = frame({"customer_id": "b", "d": "2000-11-22"}, {"customer_id": "a", "d": "2000-11-22"})
    ev = detect_events(snap, as_of=DAY, rules=rules)
    assert rows(ev, "customer_id", "event_type") == [("a", "a"), ("a", "z"), ("b", "a"), ("b", "z")]
