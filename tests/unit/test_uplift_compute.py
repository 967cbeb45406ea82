"""Fast unit tests that kill the mutants of measure.uplift: compute over a small data directory, and the verdict's paths.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
import pytest

from milestones.core.config import load_settings
from milestones.deliver.ledger import Ledger
from milestones.measure import uplift

DAY = "2026-11-01"


def _write(path, frame: pd.DataFrame) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


@pytest.fixture
def data(tmp_path):
    """Ten birthday events on 1 Nov: six contacted (emails accepted), three held out, one skipped;
    one retirement event on 2 Nov, contacted. Purchases, a refund and one late purchase."""
    root = tmp_path / "data"
    ids = [f"C{i}" for i in range(10)]
    reasons = [""] * 6 + ["holdout"] * 3 + ["no_opt_in"]
    decisions = pd.DataFrame({"key": [f"k{i}" for i in range(10)], "customer_id": ids, "event_type": "birthday",
                              "event_date": pd.Timestamp(DAY), "decision": ["send"] * 6 + ["skip"] * 4,
                              "reason": reasons, "shared_key": None})
    _write(root / "decisions" / DAY / "decisions.parquet", decisions)
    _write(root / "decisions" / "2026-11-02" / "decisions.parquet", pd.DataFrame({
        "key": ["r1"], "customer_id": ["C0"], "event_type": ["retirement"], "event_date": [pd.Timestamp("2026-11-02")],
        "decision": ["send"], "reason": [""], "shared_key": [None]}))
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(url)
    sent = [f"k{i}" for i in range(6)] + ["r1"]
    ledger.register([{"key": k, "customer_id": "C0" if k == "r1" else f"C{k[1]}", "event_type": "retirement" if k == "r1"
                      else "birthday", "event_date": "2026-11-02" if k == "r1" else DAY, "template_version": "v1",
                      "transport": "file"} for k in sent])
    ledger.claim_many(sent)
    ledger.finish_many([{"key": k, "state": "accepted"} for k in sent])
    outcomes = pd.DataFrame({
        "customer_id": ["C0", "C1", "C1", "C6", "C2", "C9", "C3"],
        "outcome": ["purchase", "purchase", "refund", "purchase", "purchase", "purchase", "purchase"],
        "occurred_at": pd.to_datetime(["2026-11-01T10:00:00Z", "2026-11-03T23:00:00Z", "2026-11-02T10:00:00Z",
                                       "2026-11-02T10:00:00Z", "2026-11-04T00:00:00Z", "2026-11-01T10:00:00Z",
                                       "2026-11-03T00:00:00Z"], utc=True),
        "value": [10.0, 20.0, 99.0, 30.0, 40.0, 50.0, 60.0],
    })
    _write(root / "outcomes" / "2026-11-05" / "outcomes.parquet", outcomes)
    return load_settings(data_dir=root, ledger_url=url, templates_dir=tmp_path / "no-templates",
                         conversion_window_days=3)


def test_compute_over_a_data_directory(data):
    # Window of 3 days from 1 Nov: 1, 2 and 3 Nov. Contacted birthdays: C0 (10 on the 1st), C1 (20 on
    # the 3rd; the refund is another outcome), C3 (60 on the 3rd); C2's purchase on the 4th is late.
    # Held out: C6 (30 on the 2nd). C9 was not compared (no opt-in). C0's retirement (2 Nov) does not
    # convert: C0's purchase on the 1st is before its window.
    rows = {r["group"]: r for r in uplift.compute(data, by="event_type")}
    assert list(rows) == ["birthday", "retirement", "all"]
    b = rows["birthday"]
    assert (b["contacted"], b["holdout"], b["contacted_conversions"], b["holdout_conversions"]) == (6, 3, 3, 1)
    assert b["contacted_rate"] == pytest.approx(0.5) and b["holdout_rate"] == pytest.approx(1 / 3)
    assert b["incremental_value"] == pytest.approx((90 / 6 - 30 / 3) * 6)
    r = rows["retirement"]
    assert (r["contacted"], r["holdout"], r["contacted_conversions"]) == (1, 0, 0)
    assert r["verdict"] == "too few customers: no held-out customers to compare with"
    a = rows["all"]
    assert (a["contacted"], a["holdout"], a["contacted_conversions"], a["holdout_conversions"]) == (7, 3, 3, 1)


def test_compute_with_a_longer_window_another_outcome_and_a_date_range(data):
    wide = load_settings(data_dir=data.data_dir, ledger_url=data.ledger_database_url,
                         templates_dir=data.templates_dir, conversion_window_days=4)
    (a,) = uplift.compute(wide)
    assert (a["contacted"], a["contacted_conversions"]) == (7, 4)  # C2's purchase on the 4th now counts
    refunds = load_settings(data_dir=data.data_dir, ledger_url=data.ledger_database_url,
                            templates_dir=data.templates_dir, conversion_window_days=3, conversion_outcome="refund")
    (a,) = uplift.compute(refunds)
    assert (a["contacted_conversions"], a["holdout_conversions"]) == (1, 0)
    (a,) = uplift.compute(data, since=dt.date(2026, 11, 2))
    assert (a["contacted"], a["holdout"]) == (1, 0)
    (a,) = uplift.compute(data, until=dt.date(2026, 11, 1))
    assert (a["contacted"], a["holdout"]) == (6, 3)


def test_compute_of_an_empty_data_directory_is_one_empty_row(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", ledger_url=f"sqlite:///{tmp_path / 'l.sqlite'}",
                             templates_dir=tmp_path / "none")
    (a,) = uplift.compute(settings)
    assert (a["group"], a["contacted"], a["holdout"]) == ("all", 0, 0)
    assert a["verdict"] == "too few customers: no held-out customers to compare with"


# --- the verdict's paths, with the numbers worked by hand --------------------------------------

def test_a_significant_lift_and_a_significant_decrease():
    assert uplift.verdict(0.30, 0.10, 1000, 1000, 0.001) == "significant"
    assert uplift.verdict(0.10, 0.30, 1000, 1000, 0.001) == uplift.SIGNIFICANT_DECREASE
    assert uplift.verdict(0.30, 0.10, 1000, 1000, 0.05) != "significant"  # p must be under 5%


def test_not_significant_when_the_groups_could_have_seen_the_lift():
    # Lift 0.20 -> 0.30: Cohen's h = 2 asin(sqrt .3) - 2 asin(sqrt .2) = 0.23198;
    # n2 = (2.8016 / 0.23198)^2 * (1 + 1000/1000) = 291.7: 1000 held out are enough.
    assert uplift.verdict(0.30, 0.20, 1000, 1000, 0.2) == "not significant"
    # 200 held out of 200 are not: about 92 more (291.7 - 200 = 91.7, rounded up).
    assert uplift.verdict(0.30, 0.20, 200, 200, 0.2) == (
        "too few customers: about 92 more held-out customers needed to see a lift of 10.0 points")


def test_no_lift_seen_asks_whether_one_point_could_have_been_seen():
    # Equal rates of 10% over 1000 + 1000: pooled 10%, so 9.5% vs 10.5%; h = 0.03329;
    # n2 = (2.8016 / 0.03329)^2 * 2 = 14,166: 13,166 more, about 14,000 (two figures, up).
    assert uplift.verdict(0.10, 0.10, 1000, 1000, 1.0) == (
        "too few customers: about 14,000 more held-out customers needed to see a lift of 1.0 points")
    # A rate of 0: the lower rate is clamped at 0 (0% vs 1%): h = 0.2003; n2 = 195.6 * 2 = 391.3.
    assert uplift.verdict(0.0, 0.0, 1000, 1000, 1.0) == "not significant"
    assert uplift.verdict(0.0, 0.0, 100, 100, 1.0) == (
        "too few customers: about 300 more held-out customers needed to see a lift of 1.0 points")
    # All converted: the higher rate is clamped at 1 (99% vs 100%).
    assert uplift.verdict(1.0, 1.0, 1000, 1000, 1.0) == "not significant"


def test_a_negative_lift_that_is_not_significant_is_judged_like_no_lift():
    assert uplift.verdict(0.09, 0.11, 1000, 1000, 0.14).startswith("too few customers: about 14,000 more")
    assert uplift.verdict(0.09, 0.11, 100_000, 100_000, 0.14) == "not significant"


def test_the_ratio_of_contacted_to_held_out_is_kept():
    # 9 contacted for each held-out customer: n2 = (2.8016 / 0.23198)^2 * (1 + 1/9) = 162.0.
    assert uplift.verdict(0.30, 0.20, 1800, 200, 0.2) == "not significant"
    assert uplift.verdict(0.30, 0.20, 900, 100, 0.2) == (
        "too few customers: about 63 more held-out customers needed to see a lift of 10.0 points")


def test_holdout_needed_by_hand():
    assert uplift.holdout_needed(0.3, 0.2, 1000, 1000) == pytest.approx(291.69, abs=0.01)
    assert uplift.holdout_needed(0.2, 0.2, 1000, 1000) == math.inf


@pytest.mark.parametrize("n, rounded", [(0.2, 1), (99, 99), (99.5, 100), (100, 100), (101, 110), (1234, 1300),
                                        (13_166.4, 14_000), (99_999, 100_000)])
def test_round_up_to_two_figures(n, rounded):
    assert uplift._round_up(n) == rounded


def test_one_comparison_row_in_full():
    row = uplift.Comparison("birthday", 100, 50, 30, 10, contacted_value=300.0, holdout_value=50.0).row()
    assert list(row) == uplift.COLUMNS
    assert row["contacted_rate"] == 0.3 and row["holdout_rate"] == 0.2
    assert row["lift"] == pytest.approx(0.1) and row["incremental_conversions"] == pytest.approx(10.0)
    assert row["incremental_value"] == pytest.approx((3.0 - 1.0) * 100)
    # p of the pooled z-test: pooled 40/150; se = sqrt(.2667 * .7333 * (1/100 + 1/50)) = 0.07659; z = 1.3056.
    assert row["p_value"] == pytest.approx(0.1917, abs=1e-4)
    assert row["lift_ci_low"] < 0 < row["lift_ci_high"]


def test_a_row_without_contacted_customers():
    row = uplift.Comparison("x", 0, 10, 0, 2).row()
    assert list(row) == uplift.COLUMNS
    assert row["verdict"] == "too few customers: no contacted customers to compare with"
    assert row["contacted_rate"] is None and row["holdout_rate"] == 0.2
    assert all(row[c] is None for c in ("lift", "lift_ci_low", "lift_ci_high", "p_value", "incremental_conversions",
                                        "incremental_value"))
