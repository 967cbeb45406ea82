"""Fast unit tests that kill the mutants of ingest.verdict: the validation gate's verdict.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

from collections import Counter

import pytest

from milestones.ingest.verdict import ValidationResult, gate


def result(rows, quarantined):
    return ValidationResult(valid=None, quarantine=None, rows=rows, quarantined=quarantined)


def test_a_summary_in_full():
    r = ValidationResult(None, None, rows=10, quarantined=3, reasons=Counter({"email:format": 2, "age:range": 1}),
                         gate_passed=False, gate_message="m", profile="hubspot")
    assert r.summary() == {"rows": 10, "valid": 7, "quarantined": 3,
                           "reasons": {"age:range": 1, "email:format": 2}, "gate_passed": False,
                           "gate_message": "m", "profile": "hubspot"}
    assert list(r.summary()["reasons"]) == ["age:range", "email:format"]
    fresh = result(5, 0)
    assert (fresh.gate_passed, fresh.gate_message, fresh.profile, fresh.reasons) == (True, "", "contract", Counter())


@pytest.mark.parametrize("quarantined, passed", [(5, True), (6, False)])
def test_the_invalid_share_may_reach_its_limit_not_pass_it(quarantined, passed):
    r = gate(result(100, quarantined), "customers_2026-11-22.csv", None, 0.05, 0.2)
    assert r.gate_passed is passed
    if not passed:
        assert r.gate_message == ("customers_2026-11-22.csv: 6 of 100 rows invalid (6.0% > max_invalid_share 5.0%)")
    else:
        assert r.gate_message == ""


@pytest.mark.parametrize("rows, passed", [(80, True), (79, False)])
def test_the_row_count_may_drop_by_its_limit_not_more(rows, passed):
    r = gate(result(rows, 0), "x.csv", 100, 0.05, 0.2)
    assert r.gate_passed is passed
    if not passed:
        assert r.gate_message == "x.csv: row count fell from 100 to 79 (21.0% > max_row_drop_share 20.0%)"


def test_no_previous_count_no_drop_check_and_invalid_rows_are_named_first():
    assert gate(result(1, 0), "x.csv", None, 0.05, 0.2).gate_passed
    assert gate(result(1, 0), "x.csv", 0, 0.05, 0.2).gate_passed
    both = gate(result(10, 5), "x.csv", 100, 0.05, 0.2)
    assert both.gate_message == "x.csv: 5 of 10 rows invalid (50.0% > max_invalid_share 5.0%)"
    grown = gate(result(150, 0), "x.csv", 100, 0.05, 0.2)
    assert grown.gate_passed and grown.gate_message == ""
