"""Change events carry their whole row: the run's date, no years, no milestone, source `change`."""

from __future__ import annotations

import datetime as dt

import pytest

from milestones.detect.events import detect_events
from tests.unit.test_events import snap

DAY = dt.date(2026, 11, 22)


def test_change_event_rows_in_full():
    prev = snap({"customer_id": "k", "children_count": None},   # no count known yesterday: 0
                {"customer_id": "m", "marital_status": "single"},
                {"customer_id": "same", "children_count": 1})
    cur = snap({"customer_id": "k", "children_count": 1},
               {"customer_id": "m", "marital_status": "married"},
               {"customer_id": "same", "children_count": None})   # a count that vanished is no child
    ev = detect_events(cur, prev, as_of=DAY)
    rows = {tuple(r) for r in ev[["customer_id", "event_type", "event_date", "years", "milestone", "source",
                                  "days_late", "stale"]].astype(str).itertuples(index=False)}
    assert rows == {("k", "new_child", "2026-11-22", "0", "0", "change", "0", "False"),
                    ("m", "marriage", "2026-11-22", "0", "0", "change", "0", "False")}


def test_first_anniversary_and_annual_source():
    s = snap({"customer_id": "w", "wedding_date": "2025-11-22", "date_of_birth": "1990-01-01"},
             {"customer_id": "b", "date_of_birth": "2025-11-22"})  # born a year ago: a first birthday
    ev = detect_events(s, as_of=DAY).set_index(["customer_id", "event_type"])
    assert ev.loc[("w", "wedding_anniversary"), ["years", "milestone", "source"]].tolist() == [1, 1, "wedding_date"]
    assert ev.loc[("b", "birthday"), ["years", "milestone", "source"]].tolist() == [1, 0, "date_of_birth"]


@pytest.mark.parametrize("day, expected", [
    ("2000-02-28", False),  # 2000 is a leap year (divisible by 400): the 29th exists
    ("2000-02-29", True),
    ("2100-02-28", True),   # 2100 is not (divisible by 100, not 400): the 28th stands in
    ("2096-02-28", False),
])
def test_leap_day_birthdays_in_century_years(day, expected):
    s = snap({"customer_id": "l", "date_of_birth": "1996-02-29"})
    ev = detect_events(s, as_of=dt.date.fromisoformat(day))
    assert ("birthday" in set(ev["event_type"])) is expected


def test_missing_time_zone_is_utc_at_an_instant():
    s = snap({"customer_id": "nz", "timezone": None, "date_of_birth": "1990-11-21"},
             {"customer_id": "hel", "timezone": "Europe/Helsinki", "date_of_birth": "1990-11-22"})
    at = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)  # the 21st in UTC, the 22nd in Helsinki
    assert set(detect_events(s, instant=at)["customer_id"]) == {"nz", "hel"}
    assert set(detect_events(s, instant=at, default_timezone="Pacific/Auckland")["customer_id"]) == {"hel"}


@pytest.mark.parametrize("kwargs, message", [
    ({"as_of": DAY, "days": 0}, "days must be >= 1"),
    ({"as_of": DAY, "leap_day_rule": "feb29"}, "leap_day_rule must be 'feb28' or 'mar1', not 'feb29'"),
    ({}, "give as_of or instant"),
    ({"instant": dt.datetime(2026, 11, 22, 12)}, "instant must be timezone-aware"),
])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError) as refused:
        detect_events(snap({"customer_id": "a", "date_of_birth": "1990-11-22"}), **kwargs)
    assert str(refused.value) == message


def test_one_off_key_is_its_year():
    from tests.unit.test_keys_and_holdout import reference_key

    prev = snap({"customer_id": "m", "marital_status": "single"})
    cur = snap({"customer_id": "m", "marital_status": "married"})
    assert list(detect_events(cur, prev, as_of=DAY)["key"]) == [reference_key("m", "marriage", "2026")]
