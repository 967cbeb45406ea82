"""Fast unit tests that kill the mutants of ingest.dates: date parsing edges.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from milestones.ingest.dates import ns_range, parse_dates, parse_exact, years_from


def _texts(*values) -> pa.ChunkedArray:
    return pa.chunked_array([list(values)], type=pa.large_string())


@pytest.mark.parametrize("text, day", [
    ("1980-05-17", dt.datetime(1980, 5, 17)),
    ("2000-02-29", dt.datetime(2000, 2, 29)),   # a leap day
    ("0001-01-01", dt.datetime(1, 1, 1)),       # the first day a calendar library knows
    ("9999-12-31", dt.datetime(9999, 12, 31)),
    ("1900-02-29", None),                       # 1900 is no leap year
    ("1980-02-30", None),                       # no rolling over to March
    ("1980-04-31", None),
    ("1980-5-17", None),                        # exactly two digits
    ("1980-05-7", None),
    (" 1980-05-17", None),                      # no spaces
    ("1980-05-17 ", None),
    ("1980-05-17T00:00", None),
    ("0000-01-01", None),                       # year 0
    ("80-05-17", None),
    ("17.05.1980", None),
    ("", None),
    (None, None),
])
def test_exact_dates_only(text, day):
    assert parse_exact(_texts(text)).to_pylist() == [day]
    assert parse_dates(_texts(text)).to_pylist() == [day]


def test_parse_dates_keeps_every_row_in_order_over_chunks_and_repeats():
    raw = pa.chunked_array([["1980-05-17", "x", "1980-05-17"], [None, "2001-01-02"]], type=pa.large_string())
    got = parse_dates(raw)
    assert got.type == pa.timestamp("s") and got.num_chunks == 2
    assert got.to_pylist() == [dt.datetime(1980, 5, 17), None, dt.datetime(1980, 5, 17), None, dt.datetime(2001, 1, 2)]


def test_ns_range_clamps_to_what_nanoseconds_hold():
    parsed = pa.chunked_array([[dt.datetime(1, 1, 1), dt.datetime(1677, 12, 31), dt.datetime(1678, 1, 1),
                                dt.datetime(1980, 5, 17), dt.datetime(2261, 12, 31), dt.datetime(2262, 1, 1),
                                dt.datetime(9999, 12, 31), None]], type=pa.timestamp("s"))
    got = ns_range(parsed)
    assert got.type == pa.timestamp("ns")
    assert [v if v is None else v.date() for v in got.to_pylist()] == [
        dt.date(1678, 1, 1), dt.date(1678, 1, 1), dt.date(1678, 1, 1), dt.date(1980, 5, 17),
        dt.date(2261, 12, 31), dt.date(2261, 12, 31), dt.date(2261, 12, 31), None]


@pytest.mark.parametrize("day, years, moved", [
    (dt.date(2000, 2, 29), 1, dt.date(2001, 2, 28)),
    (dt.date(2000, 2, 29), 4, dt.date(2004, 2, 29)),
    (dt.date(2000, 2, 29), -1, dt.date(1999, 2, 28)),
    (dt.date(2026, 11, 22), -18, dt.date(2008, 11, 22)),
    (dt.date(2026, 3, 31), 0, dt.date(2026, 3, 31)),
])
def test_years_from(day, years, moved):
    assert years_from(day, years) == moved


def test_a_column_of_no_chunks_is_an_empty_timestamp_column():
    got = parse_dates(pa.chunked_array([], pa.large_string()))
    assert got.type == pa.timestamp("s") and len(got) == 0
