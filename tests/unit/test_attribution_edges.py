"""Fast unit tests that kill the mutants of measure.attribution: which outcome belongs to which email.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import pandas as pd

from milestones.measure.attribution import attribute


def facts(rows, index=None) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "event_type", "event_date", "group"], index=index)
    frame["event_date"] = pd.to_datetime(frame["event_date"])
    return frame


def outcomes(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["customer_id", "occurred_at", "value"])


def test_the_compared_events_come_back_numbered_from_zero_with_two_new_columns():
    f = facts([("X", "birthday", "2026-11-01", ""), ("A", "birthday", "2026-11-01", "contacted"),
               ("B", "retirement", "2026-11-02", "holdout")], index=[10, 11, 12])
    out = attribute(f, outcomes(("A", "2026-11-03T10:00:00Z", 4)), window_days=14)
    assert list(out.index) == [0, 1]
    assert list(out.columns) == ["customer_id", "event_type", "event_date", "group", "converted", "value"]
    assert out[["customer_id", "converted", "value"]].values.tolist() == [["A", True, 4.0], ["B", False, 0.0]]


def test_the_window_starts_on_the_events_utc_day_and_lasts_window_days():
    f = facts([("A", "birthday", "2026-11-10", "contacted")])
    cases = {
        "2026-11-09T23:59:59+00:00": False,   # the day before
        "2026-11-10T00:30:00+02:00": False,   # the 9th in UTC
        "2026-11-10T00:00:00+00:00": True,    # the event's day
        "2026-11-10T22:30:00-02:00": True,    # the 11th in UTC: inside
        "2026-11-12T23:59:59+00:00": True,    # the last of three days
        "2026-11-13T00:00:00+00:00": False,
    }
    for when, converted in cases.items():
        got = attribute(f, outcomes(("A", when, 1.0)), window_days=3)
        assert bool(got["converted"][0]) is converted, when


def test_each_event_of_a_customer_has_its_own_window_and_sums_its_own_values():
    f = facts([("A", "birthday", "2026-11-01", "contacted"), ("A", "retirement", "2026-11-20", "contacted"),
               ("B", "birthday", "2026-11-01", "holdout")])
    got = attribute(f, outcomes(("A", "2026-11-02T10:00:00Z", 2.5), ("A", "2026-11-03T10:00:00Z", "4"),
                                ("A", "2026-11-21T10:00:00Z", "n/a"), ("C", "2026-11-02T10:00:00Z", 9.0)),
                    window_days=14)
    assert got[["converted", "value"]].values.tolist() == [[True, 6.5], [True, 0.0], [False, 0.0]]


def test_no_outcomes_no_conversions():
    f = facts([("A", "birthday", "2026-11-01", "contacted")])
    got = attribute(f, outcomes(), window_days=14)
    assert got["converted"].tolist() == [False] and got["value"].tolist() == [0.0]
    assert got["converted"].dtype == bool and got["value"].dtype == "float64"
