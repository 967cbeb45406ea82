"""Uplift statistics against independent references (statsmodels, scipy), and the table."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_effectsize,
    proportions_ztest,
)

from milestones.measure import uplift
from milestones.measure.attribution import attribute

pytestmark = pytest.mark.unit

CASES = [(120, 1000, 90, 1000), (30, 400, 2, 50), (0, 200, 0, 40), (5, 5, 1, 7), (900, 20000, 40, 1000),
         (1, 13, 0, 9), (4512, 95000, 180, 5000)]


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), CASES)
def test_newcombe_interval_matches_statsmodels(c1, n1, c2, n2):
    low, high = uplift.newcombe_interval(c1, n1, c2, n2)
    ref_low, ref_high = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
    assert low == pytest.approx(ref_low, abs=1e-9)
    assert high == pytest.approx(ref_high, abs=1e-9)
    assert low <= c1 / n1 - c2 / n2 <= high


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), [c for c in CASES if c[0] + c[2] > 0])
def test_p_value_matches_statsmodels_and_scipy(c1, n1, c2, n2):
    p = uplift.p_value(c1, n1, c2, n2)
    _, ref = proportions_ztest([c1, c2], [n1, n2])
    assert p == pytest.approx(ref, rel=1e-9, abs=1e-12)
    chi2 = stats.chi2_contingency([[c1, n1 - c1], [c2, n2 - c2]], correction=False)
    assert p == pytest.approx(chi2.pvalue, rel=1e-6, abs=1e-12)


def test_p_value_without_any_conversion_is_one():
    assert uplift.p_value(0, 100, 0, 10) == 1.0


@pytest.mark.parametrize(("p1", "p2", "n1", "n2"), [(0.12, 0.10, 19000, 1000), (0.05, 0.03, 500, 100),
                                                    (0.5, 0.45, 2000, 2000)])
def test_sample_size_matches_statsmodels_power(p1, p2, n1, n2):
    needed = uplift.holdout_needed(p1, p2, n1, n2)
    # statsmodels: nobs1 is the held-out group, ratio = contacted / held out.
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(p1, p2), alpha=0.05, power=0.8,
                                       ratio=n1 / n2, alternative="two-sided")
    assert needed == pytest.approx(ref, rel=1e-3)


def test_quantiles_are_the_normal_ones():
    assert uplift.Z_975 == pytest.approx(stats.norm.ppf(0.975), abs=1e-12)
    assert uplift.Z_80 == pytest.approx(stats.norm.ppf(0.80), abs=1e-12)


def test_verdicts_in_plain_words():
    assert uplift.verdict(0.12, 0.08, 5000, 5000, uplift.p_value(600, 5000, 400, 5000)) == "significant"
    # No lift seen: "not significant" only when the held-out group could have seen a lift of 1 point.
    few = uplift.verdict(0.10, 0.12, 500, 50, 0.6)
    assert few.startswith("too few customers: about ") and few.endswith("to see a lift of 1.0 points")
    # A 1-point lift around the pooled rate (10.18%), 10 contacted per held-out customer.
    pooled = (0.10 * 500 + 0.12 * 50) / 550
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(pooled + 0.005, pooled - 0.005),
                                       alpha=0.05, power=0.8, ratio=10, alternative="two-sided")
    assert int(few.split("about ")[1].split(" more")[0].replace(",", "")) == pytest.approx(ref - 50, rel=0.02)
    assert uplift.verdict(0.10, 0.10, 200_000, 50_000, 1.0) == "not significant"
    assert uplift.verdict(0.0, 1.0, 300, 1, 0.01 + 0.3).startswith("too few customers")
    # The same clear difference the other way round is a significant *decrease*, never a success.
    down = uplift.verdict(0.08, 0.12, 5000, 5000, uplift.p_value(400, 5000, 600, 5000))
    assert down == uplift.SIGNIFICANT_DECREASE and down.startswith("significant decrease")
    small = uplift.verdict(0.12, 0.10, 2000, 100, uplift.p_value(240, 2000, 10, 100))
    assert small.startswith("too few customers: about ") and small.endswith("a lift of 2.0 points")
    more = int(small.split("about ")[1].split(" more")[0].replace(",", ""))
    assert more == pytest.approx(uplift.holdout_needed(0.12, 0.10, 2000, 100) - 100, rel=0.1)


def _facts(rows):
    frame = pd.DataFrame(rows, columns=["customer_id", "event_type", "event_date", "group", "variant"])
    frame["event_date"] = pd.to_datetime(frame["event_date"])
    frame["locale"] = "en"
    return frame


def test_attribution_window_and_groups():
    facts = _facts([
        ("A", "birthday", "2026-11-01", "contacted", "base"),   # purchase on day 13: inside
        ("B", "birthday", "2026-11-01", "contacted", "base"),   # purchase on day 14: outside
        ("C", "birthday", "2026-11-01", "holdout", "base"),     # purchase the day before: outside
        ("D", "birthday", "2026-11-01", "holdout", "base"),     # same day, twice: one conversion, value summed
        ("E", "birthday", "2026-11-01", "", "base"),            # skipped for another reason: not compared
    ])
    outcomes = pd.DataFrame({
        "customer_id": ["A", "B", "C", "D", "D", "E"],
        "occurred_at": pd.to_datetime(["2026-11-14T23:00:00+00:00", "2026-11-15T00:00:00+00:00",
                                       "2026-10-31T12:00:00+00:00", "2026-11-01T08:00:00+00:00",
                                       "2026-11-01T09:00:00+00:00", "2026-11-02T00:00:00+00:00"], utc=True),
        "value": [10.0, 5.0, 7.0, 1.5, np.nan, 3.0],
    })
    out = attribute(facts, outcomes, window_days=14).set_index("customer_id")
    assert list(out.index) == ["A", "B", "C", "D"]
    assert out["converted"].to_dict() == {"A": True, "B": False, "C": False, "D": True}
    assert out.loc["D", "value"] == 1.5 and out.loc["A", "value"] == 10.0


def test_table_rows_per_group_and_all():
    rng = np.random.default_rng(7)
    n = 4000
    frame = pd.DataFrame({
        "event_type": rng.choice(["birthday", "retirement"], n),
        "locale": "en", "variant": "base",
        "group": np.where(rng.random(n) < 0.1, "holdout", "contacted"),
    })
    frame["converted"] = rng.random(n) < np.where(frame["group"] == "contacted", 0.2, 0.1)
    frame["value"] = np.where(frame["converted"], 10.0, 0.0)
    rows = uplift.table(frame, by="event_type")
    assert [r["group"] for r in rows] == ["birthday", "retirement", "all"]
    total = rows[-1]
    assert total["contacted"] == int((frame["group"] == "contacted").sum())
    assert total["holdout_conversions"] == int(((frame["group"] == "holdout") & frame["converted"]).sum())
    assert sum(r["contacted"] for r in rows[:-1]) == total["contacted"]
    assert total["lift"] == pytest.approx(total["contacted_rate"] - total["holdout_rate"])
    assert total["incremental_conversions"] == pytest.approx(total["lift"] * total["contacted"])
    assert total["incremental_value"] == pytest.approx(10 * total["incremental_conversions"])
    assert total["verdict"] == "significant" and total["lift_ci_low"] > 0
    assert math.isclose(total["p_value"], proportions_ztest(
        [total["contacted_conversions"], total["holdout_conversions"]], [total["contacted"], total["holdout"]])[1])


def test_table_names_a_missing_comparison_group():
    frame = pd.DataFrame({"event_type": ["birthday"] * 3, "locale": "en", "variant": "base",
                          "group": ["contacted"] * 3, "converted": [True, False, False], "value": 0.0})
    (row,) = uplift.table(frame)
    assert row["verdict"] == "too few customers: no held-out customers to compare with"
    assert row["lift"] is None


def test_uplift_out_is_written_whole_or_not_at_all(tmp_path, monkeypatch, capsys):
    """A write failing half-way (a full disk) keeps the previous CSV and leaves no temporary file."""
    from milestones import cli

    good = [{"group": "all", "contacted": 10, "holdout": 2, "verdict": "=cmd|' /C calc'!A0"}]
    monkeypatch.setattr(uplift, "compute", lambda settings, **kw: good)
    out = tmp_path / "reports" / "uplift.csv"
    assert cli.main(["uplift", "--data-dir", str(tmp_path), "--out", str(out)]) == 0
    before = out.read_bytes()
    assert b"'=cmd" in before  # formula injection defused in the file written

    class DiskFull(Exception):
        pass

    class Exploding:
        def __str__(self):
            raise DiskFull

    monkeypatch.setattr(uplift, "compute", lambda settings, **kw: [*good * 50, {"group": Exploding()}])
    with pytest.raises(DiskFull):
        cli.main(["uplift", "--data-dir", str(tmp_path), "--out", str(out)])
    assert out.read_bytes() == before
    assert [p.name for p in out.parent.iterdir()] == ["uplift.csv"]
