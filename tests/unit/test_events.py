"""Life-event rules with frozen dates, leap years, time zones, catch-up, and properties."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from milestones.detect.events import detect_events, event_key, event_keys, load_rules, parse_rules
from tests.unit.test_keys_and_holdout import reference_key

DATES = ("date_of_birth", "customer_since", "wedding_date", "retirement_date", "graduation_date")


def snap(*rows: dict) -> pd.DataFrame:
    base = {"customer_id": None, "timezone": "Europe/Helsinki", "date_of_birth": None,
            "customer_since": "2010-06-01", "marital_status": None, "wedding_date": None,
            "employment_status": None, "retirement_date": None, "graduation_date": None,
            "children_count": None}
    frame = pd.DataFrame([{**base, **r} for r in rows])
    for col in DATES:
        frame[col] = pd.to_datetime(frame[col]).astype("datetime64[s]")
    frame["children_count"] = frame["children_count"].astype("Int64")
    return frame


def events_of(current, previous=None, **kw) -> set[tuple]:
    ev = detect_events(current, previous, **kw)
    return {(r.customer_id, r.event_type, str(r.event_date.date()), r.years, r.milestone)
            for r in ev.itertuples()}


def test_birthday_and_milestone_birthday():
    s = snap({"customer_id": "a", "date_of_birth": "1976-11-22"},
             {"customer_id": "b", "date_of_birth": "1983-11-22"},
             {"customer_id": "c", "date_of_birth": "1983-11-23"})
    got = events_of(s, as_of=dt.date(2026, 11, 22))
    assert ("a", "birthday", "2026-11-22", 50, 50) in got
    assert ("b", "birthday", "2026-11-22", 43, 0) in got
    assert not [e for e in got if e[0] == "c"]


def test_anniversaries_and_year_zero():
    s = snap({"customer_id": "w", "wedding_date": "2001-11-22", "customer_since": "2016-11-22"},
             {"customer_id": "n", "customer_since": "2026-11-22", "wedding_date": "2026-11-22"})
    got = events_of(s, as_of=dt.date(2026, 11, 22))
    assert ("w", "wedding_anniversary", "2026-11-22", 25, 25) in got
    assert ("w", "customer_anniversary", "2026-11-22", 10, 10) in got
    # Joined or married today: an anniversary of year 0 is not an anniversary...
    assert not {e for e in got if e[0] == "n" and e[1].endswith("anniversary")}
    # ...but a wedding on the day is a marriage.
    assert ("n", "marriage", "2026-11-22", 0, 0) in got


def test_on_date_events():
    s = snap({"customer_id": "r", "retirement_date": "2026-11-22", "graduation_date": "2026-11-21"})
    got = events_of(s, as_of=dt.date(2026, 11, 22))
    assert ("r", "retirement", "2026-11-22", 0, 0) in got
    assert not {e for e in got if e[1] == "graduation"}  # yesterday: outside a 1-day window
    assert ("r", "graduation", "2026-11-21", 0, 0) in events_of(s, as_of=dt.date(2026, 11, 22), days=2)


def test_change_events():
    prev = snap({"customer_id": "m", "marital_status": "single"},
                {"customer_id": "r", "employment_status": "employed"},
                {"customer_id": "g", "employment_status": "student"},
                {"customer_id": "k", "children_count": 1},
                {"customer_id": "x", "marital_status": "married", "children_count": 2})
    cur = snap({"customer_id": "m", "marital_status": "partnered"},
               {"customer_id": "r", "employment_status": "retired"},
               {"customer_id": "g", "employment_status": "employed"},
               {"customer_id": "k", "children_count": 2},
               {"customer_id": "x", "marital_status": "married", "children_count": 1},
               {"customer_id": "new", "marital_status": "married", "employment_status": "retired"})
    got = {(c, t) for c, t, *_ in events_of(cur, prev, as_of=dt.date(2026, 11, 22))}
    assert got == {("m", "marriage"), ("r", "retirement"), ("g", "graduation"), ("k", "new_child")}
    # Customers are matched by id, not by row order.
    shuffled = prev.iloc[::-1].reset_index(drop=True)
    assert events_of(cur, shuffled, as_of=dt.date(2026, 11, 22)) == events_of(cur, prev, as_of=dt.date(2026, 11, 22))
    # No previous snapshot: no change events at all.
    assert not events_of(cur, None, as_of=dt.date(2026, 11, 22))


def test_marriage_seen_twice_is_one_event():
    prev = snap({"customer_id": "m", "marital_status": "single"})
    cur = snap({"customer_id": "m", "marital_status": "married", "wedding_date": "2026-11-22"})
    ev = detect_events(cur, prev, as_of=dt.date(2026, 11, 22))
    assert list(ev["event_type"]) == ["marriage"]


@pytest.mark.parametrize("day, rule, expected", [
    ("2027-02-28", "feb28", True), ("2027-03-01", "feb28", False),
    ("2027-02-28", "mar1", False), ("2027-03-01", "mar1", True),
    ("2028-02-29", "feb28", True), ("2028-02-28", "feb28", False), ("2028-03-01", "mar1", False),
    ("2100-02-28", "feb28", True), ("2100-03-01", "mar1", True),
])
def test_leap_day_birthdays(day, rule, expected):
    s = snap({"customer_id": "l", "date_of_birth": "2000-02-29"})
    got = events_of(s, as_of=dt.date.fromisoformat(day), leap_day_rule=rule)
    assert bool({e for e in got if e[1] == "birthday"}) is expected


def test_time_zones_around_midnight():
    s = snap({"customer_id": "sh", "timezone": "Asia/Shanghai", "date_of_birth": "1990-11-22"},
             {"customer_id": "ny", "timezone": "America/New_York", "date_of_birth": "1990-11-22"},
             {"customer_id": "ny2", "timezone": "America/New_York", "date_of_birth": "1990-11-21"})
    # 17:00 UTC on the 21st: already the 22nd in Shanghai, still the 21st in New York.
    instant = dt.datetime(2026, 11, 21, 17, 0, tzinfo=dt.UTC)
    got = {e[0] for e in events_of(s, instant=instant)}
    assert got == {"sh", "ny2"}
    # Five hours later it is the 22nd in New York too.
    got = {e[0] for e in events_of(s, instant=instant + dt.timedelta(hours=12))}
    assert "ny" in got and "ny2" not in got


def test_catch_up_window_and_stale():
    s = snap({"customer_id": "a", "date_of_birth": "1980-11-17"},   # 5 days ago
             {"customer_id": "b", "date_of_birth": "1980-11-21"})   # yesterday
    ev = detect_events(s, as_of=dt.date(2026, 11, 22), days=7).set_index("customer_id")
    assert ev.loc["a", "days_late"] == 5 and bool(ev.loc["a", "stale"])  # birthday: max 3 days
    assert ev.loc["b", "days_late"] == 1 and not bool(ev.loc["b", "stale"])


def test_keys_are_stable_across_runs_and_windows():
    s = snap({"customer_id": "a", "date_of_birth": "1980-11-21"})
    one = detect_events(s, as_of=dt.date(2026, 11, 21))
    again = detect_events(s, as_of=dt.date(2026, 11, 23), days=3)
    assert list(one["key"]) == list(again["key"]) == [event_key("a", "birthday", "2026-11-21")]
    assert event_key("a", "birthday", "2027-11-21") != one["key"][0]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.text(min_size=1, max_size=64), st.sampled_from(["birthday", "marriage"]),
                          st.sampled_from(["2026", "2026-11-21", "2028-02-29"])), min_size=1, max_size=30))
def test_column_keys_equal_single_keys_and_differ_per_event(rows):
    ids, types, occ = zip(*rows, strict=True)
    keys = event_keys(list(ids), list(types), list(occ))
    # Against the reference SipHash-2-4, not against the code's own single-key path.
    assert list(keys) == [reference_key(*r) for r in rows]
    assert [event_key(*r) for r in rows] == list(keys)
    assert all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    assert len(set(keys)) == len(set(rows))  # distinct events, distinct keys


def test_rules_file_is_valid_and_complete():
    names = {r.event_type for r in load_rules()}
    assert names == {"birthday", "retirement", "marriage", "wedding_anniversary", "graduation",
                     "new_child", "customer_anniversary"}


def test_new_event_type_needs_no_engine_change():
    rules = parse_rules({"events": {"name_day": {"max_age_days": 1, "triggers": [
        {"kind": "annual", "column": "name_day"}]}}})
    s = snap({"customer_id": "n"})
    s["name_day"] = pd.to_datetime(["2001-11-22"]).astype("datetime64[s]")
    ev = detect_events(s, as_of=dt.date(2026, 11, 22), rules=rules)
    assert list(ev["event_type"]) == ["name_day"] and list(ev["years"]) == [25]


@pytest.mark.parametrize("bad, message", [
    ({}, "non-empty 'events'"),
    ({"events": {"x": {"triggers": [{"kind": "weekly", "column": "a"}]}}}, "unknown trigger kind"),
    ({"events": {"x": {"triggers": [{"kind": "change", "column": "a"}]}}}, "needs one of to, from"),
    ({"events": {"x": {"triggers": [{"kind": "annual"}]}}}, "needs 'column'"),
])
def test_bad_rules_are_named(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_rules(bad)


BIRTHDAY_ONLY = tuple(r for r in load_rules() if r.event_type == "birthday")


@settings(max_examples=6, deadline=None)
@given(st.lists(st.dates(dt.date(1904, 1, 1), dt.date(2024, 12, 31)), min_size=1, max_size=20),
       st.sampled_from([2027, 2028, 2100]), st.sampled_from(["feb28", "mar1"]))
def test_exactly_one_birthday_per_year(births, year, rule):
    s = snap(*[{"customer_id": f"c{i}", "date_of_birth": str(b)} for i, b in enumerate(births)])
    seen: dict[str, int] = {}
    day = dt.date(year, 1, 1)
    while day.year == year:
        found = detect_events(s, as_of=day, leap_day_rule=rule, rules=BIRTHDAY_ONLY)
        for cid in found["customer_id"]:
            seen[cid] = seen.get(cid, 0) + 1
        day += dt.timedelta(days=1)
    assert seen == {f"c{i}": 1 for i in range(len(births))}


def test_detection_reads_only_the_columns_it_needs(settings, sample_current, sample_previous, monkeypatch):
    """detect_stage loads ids, zones and trigger columns only, and finds the same events."""
    import pandas as pd

    from milestones import pipeline
    from milestones.core import storage
    from milestones.detect.events import columns_compared, columns_read, detect_events, load_rules

    rules = load_rules()
    needed = columns_read(rules)
    assert {"customer_id", "timezone", "date_of_birth", "marital_status", "children_count"} <= set(needed)
    assert not {"email", "first_name", "last_name"} & set(needed)
    # Yesterday's snapshot: ids and the columns of change triggers (rules file), nothing else.
    assert columns_compared(rules) == [
        "customer_id", "children_count", "employment_status", "marital_status", "wedding_date"]
    reads = []
    real_read = storage.read_parquet

    def spy(path, columns=None):
        reads.append((Path(path).parent.name, columns))
        return real_read(path, columns=columns)
    previous = pipeline.validate_stage(sample_previous, settings)["snapshot"]
    current = pipeline.validate_stage(sample_current, settings)["snapshot"]
    monkeypatch.setattr(storage, "read_parquet", spy)
    staged = pd.read_parquet(pipeline.detect_stage("2026-11-22", settings, days=7)["events"])
    assert reads == [("2026-11-22", needed), ("2026-11-21", columns_compared(rules))]
    whole = detect_events(pd.read_parquet(current), pd.read_parquet(previous), as_of=dt.date(2026, 11, 22),
                          days=7, rules=rules)
    assert len(staged) > 0
    # Parquet keeps event dates in milliseconds; the values are what matters.
    pd.testing.assert_frame_equal(staged, whole, check_dtype=False)
