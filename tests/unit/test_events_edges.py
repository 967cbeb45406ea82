"""Event detection edges the other event tests leave open: a customer's day without a
default zone, the source of an on-date event, keys of columns that are not text."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from milestones.detect.events import detect_events, event_key, event_keys, local_dates
from tests.unit.test_events import snap
from tests.unit.test_keys_and_holdout import reference_key

DAY = dt.date(2026, 11, 22)


def test_a_missing_zone_is_utc_unless_another_default_is_given():
    s = snap({"customer_id": "none", "timezone": None}, {"customer_id": "akl", "timezone": "Pacific/Auckland"},
             {"customer_id": "ny", "timezone": "America/New_York"})
    at = dt.datetime(2026, 11, 21, 23, 30, tzinfo=dt.UTC)  # the 21st in UTC and New York, the 22nd in Auckland
    assert list(local_dates(s, instant=at)) == [np.datetime64("2026-11-21"), np.datetime64("2026-11-22"),
                                                np.datetime64("2026-11-21")]
    assert local_dates(s, instant=at, default_timezone="Pacific/Auckland")[0] == np.datetime64("2026-11-22")
    # Without an instant every customer has the run's date.
    assert list(local_dates(s, as_of=DAY)) == [np.datetime64(DAY)] * 3


def test_an_on_date_event_names_its_column_as_source():
    s = snap({"customer_id": "r", "retirement_date": "2026-11-22"},
             {"customer_id": "g", "graduation_date": "2026-11-21"})
    ev = detect_events(s, as_of=DAY, days=2)
    rows = {(r.customer_id, r.event_type, r.source, str(r.event_date.date()), r.years, r.milestone)
            for r in ev.itertuples()}
    assert rows == {("r", "retirement", "retirement_date", "2026-11-22", 0, 0),
                    ("g", "graduation", "graduation_date", "2026-11-21", 0, 0)}


def test_keys_of_columns_that_are_not_text_are_the_keys_of_their_text():
    # A column of integer ids or years (a one-off event's occurrence) keys as its text does.
    keys = event_keys(pd.Series([1001, 7]), pd.Series(["marriage", "retirement"]), pd.Series([2026, 2031]))
    assert list(keys) == [reference_key("1001", "marriage", "2026"), reference_key("7", "retirement", "2031")]
    assert event_key("1001", "marriage", 2026) == keys[0]
