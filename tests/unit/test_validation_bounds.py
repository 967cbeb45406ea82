"""Every documented validation bound and gate share, tried on both sides of its edge."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from milestones.core.config import Settings
from milestones.ingest.validation import validate_frame
from tests.unit.test_validation import AS_OF, GOOD

DAY = pd.Timestamp(AS_OF)


def _day(ts) -> str:
    return ts.strftime("%Y-%m-%d")


# (change to a good row, the reasons it gets: empty means valid)
EDGES = {
    "born_today": ({"date_of_birth": str(AS_OF), "wedding_date": None}, set()),
    "born_tomorrow": ({"date_of_birth": str(AS_OF + dt.timedelta(days=1)), "wedding_date": None},
                      {"date_of_birth:in_future"}),
    "born_120_years_ago": ({"date_of_birth": _day(DAY - pd.DateOffset(years=120)), "wedding_date": None},
                           set()),
    "born_120_years_and_a_day_ago": (
        {"date_of_birth": _day(DAY - pd.DateOffset(years=120) - pd.Timedelta(days=1)), "wedding_date": None},
        {"date_of_birth:too_old"}),
    "customer_since_today": ({"customer_since": str(AS_OF)}, set()),
    "customer_since_tomorrow": ({"customer_since": str(AS_OF + dt.timedelta(days=1))},
                                {"customer_since:in_future"}),
    "wed_the_day_after_birth": ({"date_of_birth": "1980-05-17", "wedding_date": "1980-05-18"}, set()),
    "wed_on_the_birthday": ({"date_of_birth": "1980-05-17", "wedding_date": "1980-05-17"},
                            {"wedding_date:before_birth"}),
    "wed_the_day_before": ({"date_of_birth": "1980-05-17", "wedding_date": "1980-05-16"},
                           {"wedding_date:before_birth"}),
    "id_64": ({"customer_id": "I" * 64}, set()),
    "id_65": ({"customer_id": "J" * 65}, {"customer_id:too_long"}),
    "children_0": ({"children_count": "0"}, set()),
    "children_999": ({"children_count": "999"}, set()),
    "children_1000": ({"children_count": "1000"}, {"children_count:not_a_count"}),
    "placeholder_1970": ({"customer_since": "1970-01-01"}, {"customer_since:placeholder"}),
    "day_after_placeholder": ({"customer_since": "1970-01-02"}, set()),
    "day_before_placeholder": ({"customer_since": "1899-12-31"}, set()),
}


@pytest.fixture(scope="module")
def edges():
    rows = [{**GOOD, "customer_id": name, "email": f"{i}@example.com", **change}
            for i, (name, (change, _)) in enumerate(EDGES.items())]
    frame = pd.DataFrame(rows).astype("string")
    result = validate_frame(frame, as_of=AS_OF, extract_name="customers_2026-11-22.csv", max_invalid_share=1.0)
    reasons = {name: set() for name in EDGES}
    for _, row in result.quarantine.iterrows():
        name = list(EDGES)[row["row_number"] - 2]
        reasons[name] = set(row["reasons"].split("; "))
    return reasons


@pytest.mark.parametrize("name", list(EDGES))
def test_bound(edges, name):
    assert edges[name] == EDGES[name][1]


def _gate(rows: int, bad: int, **options):
    good = [{**GOOD, "customer_id": f"C{i}", "email": f"c{i}@example.com"} for i in range(rows - bad)]
    spoiled = [{**GOOD, "customer_id": f"B{i}", "email": "not-an-email"} for i in range(bad)]
    frame = pd.DataFrame(good + spoiled).astype("string")
    return validate_frame(frame, as_of=AS_OF, extract_name="customers_2026-11-22.csv", **options)


def test_invalid_share_default_is_five_percent():
    assert Settings().max_invalid_share == 0.05
    assert Settings().max_row_drop_share == 0.2
    # The function's own default is the documented one too (the CLI and the DAG pass the setting).
    at_share = _gate(20, 1)                      # 5.0 %: not above the share, passes
    above = _gate(19, 1)                         # 5.3 %: stopped
    assert at_share.gate_passed and at_share.quarantined == 1
    assert not above.gate_passed and "max_invalid_share 5.0%" in above.gate_message


@pytest.mark.parametrize("rows, bad, share, passed", [
    (10, 1, 0.1, True), (10, 2, 0.1, False), (10, 0, 0.0, True), (10, 1, 0.0, False),
])
def test_invalid_share_setting(rows, bad, share, passed):
    result = _gate(rows, bad, max_invalid_share=share)
    assert result.gate_passed is passed
    assert result.quarantined == bad and len(result.quarantine) == bad  # quarantined either way


@pytest.mark.parametrize("previous, passed", [(10, True), (11, False), (None, True), (0, True)])
def test_row_drop_default_is_twenty_percent(previous, passed):
    # 8 rows today: 20 % fewer than 10 passes, 27 % fewer than 11 does not.
    result = _gate(8, 0, previous_rows=previous)
    assert result.gate_passed is passed
    if not passed:
        assert f"fell from {previous} to 8" in result.gate_message
