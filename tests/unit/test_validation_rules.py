"""The validation rules and the file gate without Great Expectations (fast; mutation-tested).

GX runs the rules in production (tests/unit/test_validation*.py hold GX to the same edges,
slowly). Here each rule of :func:`build_rules` is applied to the prepared chunk (the Arrow
helper columns: dates parsed and bounded, time zones, duplicates...) by the documented
meaning of its GX expectation (:func:`expected_failures`), so every bound the README
documents is tried on both sides of its edge in milliseconds. Nothing here imports GX
(``test_gx_is_not_imported`` checks that in a fresh interpreter).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pyarrow as pa
import pytest

from milestones.core.contract import ALL_COLUMNS
from milestones.ingest.checks import unknown_timezones
from milestones.ingest.validation import (
    ValidationResult,
    _gate,
    _years_from,
    build_rules,
    parse_dates,
    prepare,
    repeated_ids,
)
from tests.unit.test_validation import AS_OF, BAD, GOOD
from tests.unit.test_validation_bounds import EDGES

# The reasons the README's validation table documents, and nothing else.
DOCUMENTED = {
    *(f"{c}:missing" for c in ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in")),
    "customer_id:duplicate", "customer_id:ambiguous", "email:invalid", "email:non_ascii", "locale:unknown",
    "timezone:unknown",
    *(f"{c}:{kind}" for c in ("date_of_birth", "customer_since", "wedding_date", "retirement_date",
                              "graduation_date") for kind in ("unparseable", "placeholder")),
    "date_of_birth:in_future", "date_of_birth:too_old", "customer_since:in_future", "customer_since:too_old",
    "wedding_date:out_of_range", "retirement_date:out_of_range", "graduation_date:out_of_range",
    "wedding_date:before_birth", "marital_status:unknown", "employment_status:unknown",
    "marketing_opt_in:not_boolean", "deceased:not_boolean", "children_count:not_a_count",
}
TEXT_KINDS = {f"{c}:{kind}" for c in ("customer_id", "first_name", "last_name")
              for kind in ("too_long", "control_characters", "blank")}


def _missing(value) -> bool:
    return value is None or (not isinstance(value, str) and pd.isna(value))


def expected_failures(rule, frame: pd.DataFrame) -> dict[int, str]:
    """Row -> reason for the rows ``rule`` fails, by what its GX expectation is documented to do."""
    kw, kind = rule.kwargs, rule.expectation
    if kind == "ExpectColumnPairValuesAToBeGreaterThanB":
        assert kw["ignore_row_if"] == "either_value_is_missing"
        pairs = zip(frame[kw["column_A"]], frame[kw["column_B"]], strict=True)
        return {i: rule.reason for i, (a, b) in enumerate(pairs)
                if not _missing(a) and not _missing(b) and not (a >= b if kw["or_equal"] else a > b)}
    failures = {}
    for i, value in enumerate(frame[kw["column"]]):
        if kind == "ExpectColumnValuesToNotBeNull":
            bad = _missing(value)
        elif kind == "ExpectColumnValuesToBeNull":
            bad = not _missing(value)
        elif _missing(value):  # the other expectations leave missing values alone
            bad = False
        elif kind == "ExpectColumnValuesToBeInSet":
            bad = value not in kw["value_set"]
        elif kind == "ExpectColumnValuesToMatchRegex":
            bad = re.search(kw["regex"], value) is None
        elif kind == "ExpectColumnValuesToBeBetween":
            bad = ("min_value" in kw and value < kw["min_value"]) or ("max_value" in kw and value > kw["max_value"])
        else:
            raise AssertionError(f"no meaning known for {kind}")
        if bad:  # `column:*`: the helper holds the kind of problem
            failures[i] = rule.reason[:-1] + value if rule.reason.endswith(":*") else rule.reason
    return failures


def reasons(rows: list[dict], as_of: dt.date = AS_OF) -> list[set[str]]:
    """Each row's reasons under the rules for ``as_of`` (empty: valid)."""
    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.large_string()) for c in ALL_COLUMNS})
    rules = build_rules(as_of)
    columns = list(dict.fromkeys(c for r in rules for k in ("column", "column_A", "column_B")
                                 if (c := r.kwargs.get(k))))
    with ThreadPoolExecutor(2) as pool:
        frame = prepare(table, lambda: repeated_ids(table.column("customer_id")), pool,
                        as_of=as_of).frame(columns)
    found: list[set[str]] = [set() for _ in rows]
    for rule in rules:
        for i, reason in expected_failures(rule, frame).items():
            found[i].add(reason)
    return found


_ids = itertools.count()


def row(**change) -> dict:
    """A good row with its own id (unless given) and ``change``."""
    return {**GOOD, "customer_id": f"R{next(_ids)}", **change}


def test_every_documented_reason_has_a_rule_and_no_other():
    rules = build_rules(AS_OF)
    assert len({r.reason for r in rules}) == len(rules)  # one rule per reason
    plain = {r.reason for r in rules if not r.reason.endswith(":*")}
    assert plain == DOCUMENTED - {"customer_id:too_long"} - TEXT_KINDS
    assert {r.reason for r in rules if r.reason.endswith(":*")} == {
        "customer_id:*", "first_name:*", "last_name:*"}


def test_a_good_row_passes_every_rule():
    assert reasons([GOOD, row(customer_id="C2", email="b@example.com", wedding_date=None, date_of_birth=None,
                              retirement_date="2040-01-31", graduation_date="2001-06-01",
                              marketing_opt_in="YES", deceased="0", children_count="0")]) == [set(), set()]


def test_each_kind_of_bad_data_has_its_reason():
    found = reasons([row(**change) for change, _ in BAD])
    for (change, reason), got in zip(BAD, found, strict=True):
        # (a birth date in 2027 also makes the 2008 wedding one before it, and so on)
        assert reason in got and got <= DOCUMENTED | TEXT_KINDS, (change, got)


@pytest.mark.parametrize("name", list(EDGES))
def test_documented_edges(name):
    change, expected = EDGES[name]
    assert reasons([row(**change)]) == [expected]


def _day(as_of: dt.date, years: int, days: int = 0) -> str:
    return str(_years_from(as_of, years) + dt.timedelta(days=days))


# column -> (years back it may reach, years ahead, the reason beyond): README's table.
BOUNDS = {"wedding_date": (120, 2, "out_of_range"), "retirement_date": (120, 60, "out_of_range"),
          "graduation_date": (120, 20, "out_of_range"), "customer_since": (150, 0, "too_old")}


@pytest.mark.parametrize("as_of", [AS_OF, dt.date(2024, 2, 29)], ids=str)
@pytest.mark.parametrize("column", list(BOUNDS))
def test_date_bounds_in_years_from_the_snapshot(column, as_of):
    back, ahead, beyond = BOUNDS[column]
    cases = {_day(as_of, -back): set(), _day(as_of, -back, -1): {f"{column}:{beyond}"},
             _day(as_of, ahead): set(),
             _day(as_of, ahead, 1): {f"{column}:{'in_future' if column == 'customer_since' else beyond}"}}
    # No birth date: a wedding before it would be another reason.
    found = reasons([row(date_of_birth=None, **{column: day}) for day in cases], as_of)
    assert dict(zip(cases, found, strict=True)) == cases


def test_birth_date_bounds_on_a_leap_day():
    as_of = dt.date(2024, 2, 29)
    cases = {"2024-02-29": set(), "2024-03-01": {"date_of_birth:in_future"},
             "1904-02-29": set(), "1904-02-28": {"date_of_birth:too_old"}}
    found = reasons([row(date_of_birth=day, wedding_date=None) for day in cases], as_of)
    assert dict(zip(cases, found, strict=True)) == cases


def test_dates_beyond_pandas_range_keep_their_meaning():
    found = reasons([row(date_of_birth="0001-01-01", wedding_date=None), row(customer_since="9999-12-31"),
                     row(customer_since="0001-01-01"), row(date_of_birth="9999-12-31", wedding_date=None),
                     row(wedding_date="9999-12-31"), row(wedding_date="1677-06-01", date_of_birth=None)])
    assert found == [{"date_of_birth:too_old"}, {"customer_since:in_future"}, {"customer_since:too_old"},
                     {"date_of_birth:in_future"},
                     {"wedding_date:out_of_range"}, {"wedding_date:out_of_range"}]


def test_a_placeholder_or_unparseable_date_is_only_that():
    found = reasons([row(customer_since="1900-01-01"), row(wedding_date="2008-02-30"),
                     row(retirement_date="1970-01-01"), row(graduation_date="2001-6-01"),
                     row(date_of_birth="1970-01-01", wedding_date=None)])
    assert found == [{"customer_since:placeholder"}, {"wedding_date:unparseable"},
                     {"retirement_date:placeholder"}, {"graduation_date:unparseable"},
                     {"date_of_birth:placeholder"}]


def test_years_from_keeps_the_day_or_falls_back_to_28_february():
    assert _years_from(dt.date(2024, 2, 29), 1) == dt.date(2025, 2, 28)
    assert _years_from(dt.date(2024, 2, 29), -4) == dt.date(2020, 2, 29)
    assert _years_from(dt.date(2024, 2, 29), -120) == dt.date(1904, 2, 29)
    assert _years_from(dt.date(2026, 11, 22), -150) == dt.date(1876, 11, 22)
    assert _years_from(dt.date(2026, 3, 1), 2) == dt.date(2028, 3, 1)


def test_duplicates_every_copy_and_never_missing_ids():
    ids = pa.chunked_array([pa.array(["A", "B", None, "A"], pa.large_string()),
                            pa.array(["C", None, "B", "A"], pa.large_string())])
    assert sorted(repeated_ids(ids).to_pylist()) == ["A", "B"]
    found = reasons([row(customer_id="D"), row(customer_id="E"), row(customer_id="D"), row(customer_id=None),
                     row(customer_id=None)])
    assert found == [{"customer_id:duplicate"}, set(), {"customer_id:duplicate"}, {"customer_id:missing"},
                     {"customer_id:missing"}]


def test_names_and_ids_get_the_kind_of_problem():
    found = reasons([row(first_name="A\u202eB"), row(last_name=" \u3000"), row(customer_id="K" * 65),
                     row(first_name="N" * 100, last_name="L" * 101)])
    assert found == [{"first_name:control_characters"}, {"last_name:blank"}, {"customer_id:too_long"},
                     {"last_name:too_long"}]


def test_booleans_and_enums_in_any_documented_form():
    ok = [row(customer_id=f"C{i}", marketing_opt_in=v, deceased=d)
          for i, (v, d) in enumerate([("TRUE", "False"), ("1", "0"), ("Yes", "NO")])]
    bad = [row(customer_id="X", marketing_opt_in="y"), row(customer_id="Y", deceased="t"),
           row(customer_id="Z", marital_status="Married"), row(customer_id="W", employment_status="retired ")]
    assert reasons(ok + bad) == [set(), set(), set(), {"marketing_opt_in:not_boolean"}, {"deceased:not_boolean"},
                                 {"marital_status:unknown"}, {"employment_status:unknown"}]


def test_parse_dates_reads_each_chunk():
    texts = pa.chunked_array([pa.array(["2024-02-29", "2024-02-29", "1999-12-31"], pa.large_string()),
                              pa.array([None, "2023-02-29", "1999-12-31"], pa.large_string())])
    parsed = parse_dates(texts)
    assert parsed.type == pa.timestamp("s")
    assert parsed.to_pylist() == [dt.datetime(2024, 2, 29), dt.datetime(2024, 2, 29), dt.datetime(1999, 12, 31),
                                  None, None, dt.datetime(1999, 12, 31)]


@pytest.mark.parametrize("zone, known", [
    ("Europe/Helsinki", True), ("America/Argentina/Buenos_Aires", True), ("UTC", True),
    ("Pacific/Auckland", True), ("Africa/Abidjan", True), ("Antarctica/Troll", True), ("Arctic/Longyearbyen", True),
    ("Indian/Maldives", True), ("Atlantic/Azores", True), ("Asia/Kolkata", True), ("Australia/Sydney", True),
    ("localtime", False), ("Factory", False), ("EST5EDT", False), ("Etc/GMT+5", False), ("US/Eastern", False),
    ("Mars/Olympus", False), ("europe/helsinki", False), ("Europe/Helsinki ", False), ("Europe/", False),
    ("Etc/UTC", False), ("GMT", False),
])
def test_time_zones_are_iana_region_names_or_utc(zone, known):
    zones = pa.chunked_array([pa.array([zone, None, "Europe/Helsinki"], pa.large_string())])
    assert unknown_timezones(zones).to_pylist() == [None if known else zone, None, None]
    assert reasons([row(timezone=zone)]) == [set() if known else {"timezone:unknown"}]


def _result(rows: int, quarantined: int) -> ValidationResult:
    return ValidationResult(valid=None, quarantine=None, rows=rows, quarantined=quarantined)


@pytest.mark.parametrize("rows, bad, share, passed", [
    (20, 1, 0.05, True), (19, 1, 0.05, False), (10, 0, 0.0, True), (10, 1, 0.0, False),
    (10, 5, 0.5, True), (10, 6, 0.5, False), (4, 4, 1.0, True),
])
def test_gate_invalid_share_is_a_maximum(rows, bad, share, passed):
    result = _gate(_result(rows, bad), "customers_2026-11-22.csv", None, share, 0.2)
    assert result.gate_passed is passed
    assert result.gate_message == ("" if passed else
                                   f"customers_2026-11-22.csv: {bad} of {rows} rows invalid "
                                   f"({bad / rows:.1%} > max_invalid_share {share:.1%})")


@pytest.mark.parametrize("previous, rows, drop, passed", [
    (10, 8, 0.2, True), (11, 8, 0.2, False), (100, 80, 0.2, True), (100, 79, 0.2, False),
    (10, 10, 0.0, True), (10, 9, 0.0, False), (None, 1, 0.2, True), (0, 1, 0.2, True), (5, 50, 0.2, True),
])
def test_gate_row_drop_is_a_maximum(previous, rows, drop, passed):
    result = _gate(_result(rows, 0), "customers_2026-11-22.csv", previous, 0.05, drop)
    assert result.gate_passed is passed
    assert result.gate_message == ("" if passed else
                                   f"customers_2026-11-22.csv: row count fell from {previous} to {rows} "
                                   f"({1 - rows / previous:.1%} > max_row_drop_share {drop:.1%})")


def test_gate_names_the_invalid_share_first():
    result = _gate(_result(10, 5), "x.csv", 100, 0.05, 0.2)
    assert not result.gate_passed and "max_invalid_share" in result.gate_message


def test_gx_is_not_imported():
    code = ("import sys, tests.unit.test_validation_rules as t; t.test_documented_edges('born_tomorrow'); "
            "t.test_gate_names_the_invalid_share_first(); "
            "assert 'great_expectations' not in sys.modules, 'GX imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


# --- the value checks themselves (ingest.checks), each case written by hand -------------------------
# Addresses: email-validator's documented verdicts (a path of at most 254 characters, no quoted
# local parts, a domain needs a dot); the fast path in front of it must never change one.

def _checked(values):
    from milestones.ingest.checks import invalid_emails

    return invalid_emails(pa.chunked_array([values], pa.large_string())).to_pylist()


def test_a_path_over_254_characters_is_invalid_even_with_short_parts():
    labels = ".".join(["d" * 60] * 4)  # 243 characters of domain, each label under 64
    ok = "ab@" + labels + ".fi"        # 2 + 1 + 243 + 3 = 249
    long = "abcdefgh@" + labels + ".fi"  # 255
    assert len(ok) == 249 and len(long) == 255
    assert _checked([ok, long]) == [None, long]


@pytest.mark.parametrize("address, invalid", [
    ("matti.meikalainen@example.fi", False),
    ("o'brien+news@example.co.uk", False),
    ("two@@example.com", True),            # not one @
    ("a b@example.com", True),             # a space
    ('"john doe"@example.com', True),      # a quoted local part: email-validator refuses it by default
    ("user@localhost", True),              # a domain without a dot
    ("user@-example.com", True),           # a label starting with a hyphen
    ("user.@example.com", True),           # a dot at the end of the local part
])
def test_each_address_alone(address, invalid):
    assert _checked([address]) == [address if invalid else None]


def test_a_missing_address_is_not_an_invalid_one():
    assert _checked([None, "x@@y.example"]) == [None, "x@@y.example"]


def test_valid_addresses_outside_ascii_are_named_and_invalid_ones_are_not():
    from milestones.ingest.checks import invalid_emails, non_ascii_emails

    arr = pa.chunked_array([["jörg@example.de", "jorg@example.de", "jörg@@example.de", None]], pa.large_string())
    assert non_ascii_emails(arr, invalid_emails(arr)).to_pylist() == ["jörg@example.de", None, None, None]


@pytest.mark.parametrize("value, problem", [
    ("abc", None),                         # exactly the limit (3)
    ("abcd", "too_long"),
    ("   ", "blank"),
    ("\u3164", "blank"),                   # the Hangul filler: invisible, not a space to str.strip()
    ("\u200c\u200d", "blank"),             # zero-width (non-)joiners
    ("a\x01b", "control_characters"),
    ("a\u202eb", "control_characters"),    # a right-to-left override
])
def test_text_problem_of_one_value(value, problem):
    from milestones.ingest.checks import text_problem

    assert text_problem(value, 3) == problem


def test_text_problems_of_a_column_name_kinds_never_values():
    from milestones.ingest.checks import text_problems

    column = pa.chunked_array([["ok", "   ", None, "a\x01", "\u3164", "toolong", "éé"]], pa.large_string())
    got = text_problems(column, 4)
    assert got.type == pa.large_string()
    assert got.to_pylist() == [None, "blank", None, "control_characters", "blank", "too_long", None]


# --- the chunk's GX view and its typed snapshot (ingest.prepare) ---------------------------------

def _prepare(rows: list[dict], *extra: str, **options):
    from milestones.ingest.prepare import normalise

    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.large_string()) for c in (*ALL_COLUMNS, *extra)})
    with ThreadPoolExecutor(2) as pool:
        prepared = prepare(table, lambda: repeated_ids(table.column("customer_id")), pool, as_of=AS_OF, **options)
        frame = prepared.frame(["customer_id", "_email_invalid"])
        typed = normalise(table, prepared, [True] * len(rows), pool)
    return frame, typed


def test_the_gx_frame_is_indexed_by_row_position_in_the_whole_extract():
    rows = [row(), row()]
    assert list(_prepare(rows)[0].index) == [0, 1]  # the first chunk by default
    assert list(_prepare(rows, first_row=20)[0].index) == [20, 21]


def test_a_valid_address_outside_ascii_is_its_own_reason_and_an_invalid_one_is_only_invalid():
    assert reasons([row(email="jörg@example.de"), row(email="jörg@@example.de")]) == [
        {"email:non_ascii"}, {"email:invalid"}]


def test_the_typed_snapshot_keeps_unknown_columns_and_counts_children_as_integers():
    _, typed = _prepare([row(children_count="2", loyalty_tier="gold")], "loyalty_tier")
    assert typed.column("children_count").type == pa.int64() and typed.column("children_count").to_pylist() == [2]
    assert typed.column("loyalty_tier").to_pylist() == ["gold"]
    assert typed.column_names[:len(ALL_COLUMNS)] == list(ALL_COLUMNS)


def test_gx_sees_raw_columns_as_text_and_helpers_as_categories():
    # frame()'s documented split: GX's regexes read the raw text; the mostly-null helpers are codes.
    frame, _ = _prepare([row(email="a@@example.com"), row()])
    assert str(frame["customer_id"].dtype) != "category" and frame["customer_id"].str.startswith("R").all()
    assert str(frame["_email_invalid"].dtype) == "category"
    assert frame["_email_invalid"].tolist()[0] == "a@@example.com" and pd.isna(frame["_email_invalid"].tolist()[1])


def test_one_customer_typed_two_ways_is_ambiguous_on_both_rows():
    # "C 100" and "c100" fold to one key (lower case, whitespace removed): neither row can be trusted.
    assert reasons([row(customer_id="C 100"), row(customer_id="c100"), row(customer_id="C101")]) == [
        {"customer_id:ambiguous"}, {"customer_id:ambiguous"}, set()]


def test_a_helper_column_not_handed_over_yet_is_taken_from_its_computation():
    """``Prepared.column`` asked for a helper still held by its (finished or running) computation."""
    from concurrent.futures import Future

    from milestones.ingest.prepare import Prepared

    raw, helper, other = (pa.chunked_array([[v]], pa.large_string()) for v in ("r", "h", "o"))
    first, second = Future(), Future()
    second.set_result({"_other": other})
    first.set_result({"_helper": helper})
    prepared = Prepared({"raw": raw}, [first, second], first_row=0)
    assert prepared.column("_helper") is helper  # asked first: still with its computation
    assert prepared.column("raw") is raw
    assert prepared.column("_other") is other
    with pytest.raises(KeyError):
        prepared.column("_never")  # nothing left to wait for: not a column of this chunk
