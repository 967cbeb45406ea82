"""Uplift statistics at their edges: equal rates, no conversions, everyone converted, one side
converting, an empty group, the 5% boundary and the rounding of "about N more".

Expected values are worked out by hand from the formulas' definitions (a Wilson interval of 0 of n
is [0, z^2 / (n + z^2)]; equal rates have z = 0 and so p = 1) or taken from statsmodels and scipy,
never from :mod:`milestones.measure.uplift` itself.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from scipy import stats
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
)

from milestones.measure import uplift

pytestmark = pytest.mark.unit

Z = 1.959963984540054  # the standard normal's 97.5% quantile


@pytest.mark.parametrize("n", [1, 7, 40, 1000])
def test_wilson_of_none_and_of_all(n):
    z2 = Z * Z
    assert uplift.wilson(0, n) == pytest.approx((0.0, z2 / (n + z2)), abs=1e-12)
    assert uplift.wilson(n, n) == pytest.approx((n / (n + z2), 1.0), abs=1e-12)


@pytest.mark.parametrize(("count", "n"), [(1, 2), (3, 10), (17, 400), (399, 400)])
def test_wilson_matches_statsmodels(count, n):
    assert uplift.wilson(count, n) == pytest.approx(proportion_confint(count, n, method="wilson"), abs=1e-12)


def test_wilson_of_an_empty_group_is_the_whole_range():
    assert uplift.wilson(0, 0) == (0.0, 1.0)


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), [(0, 10, 0, 10), (0, 5000, 0, 3), (7, 70, 1, 10),
                                                    (50, 100, 50, 100), (20, 20, 4, 4), (1, 1, 1, 1)])
def test_equal_rates_have_no_lift_and_p_one(c1, n1, c2, n2):
    row = uplift.Comparison("all", n1, n2, c1, c2).row()
    assert row["lift"] == 0.0 and row["incremental_conversions"] == 0.0
    assert row["p_value"] == 1.0
    assert row["lift_ci_low"] < 0 < row["lift_ci_high"] or row["lift_ci_low"] <= 0 <= row["lift_ci_high"]
    assert -1.0 <= row["lift_ci_low"] and row["lift_ci_high"] <= 1.0
    ref = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx(ref, abs=1e-9)
    assert not row["verdict"].startswith("significant")  # no difference is never a finding


def test_equal_rates_of_equal_groups_have_a_symmetric_interval():
    row = uplift.Comparison("all", 200, 200, 30, 30).row()
    assert row["lift_ci_low"] == pytest.approx(-row["lift_ci_high"], abs=1e-15)


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), [(5, 100, 0, 100), (0, 100, 5, 100), (1, 2, 0, 2),
                                                    (30, 30, 0, 30), (0, 30, 30, 30)])
def test_one_sided_conversions_match_the_chi_square_test(c1, n1, c2, n2):
    row = uplift.Comparison("all", n1, n2, c1, c2).row()
    ref = stats.chi2_contingency([[c1, n1 - c1], [c2, n2 - c2]], correction=False).pvalue
    assert row["p_value"] == pytest.approx(ref, rel=1e-6)
    assert row["lift"] == pytest.approx(c1 / n1 - c2 / n2)
    ref_ci = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx(ref_ci, abs=1e-9)


def test_everyone_on_one_side_and_nobody_on_the_other_is_significant_both_ways():
    up = uplift.Comparison("all", 30, 30, 30, 0).row()
    assert up["verdict"] == "significant" and up["lift"] == 1.0 and up["lift_ci_high"] <= 1.0
    down = uplift.Comparison("all", 30, 30, 0, 30).row()
    assert down["verdict"] == uplift.SIGNIFICANT_DECREASE and down["lift"] == -1.0 and down["lift_ci_low"] >= -1.0


@pytest.mark.parametrize(("n1", "n2", "missing"), [(10, 0, "held-out"), (0, 10, "contacted"), (0, 0, "held-out")])
def test_an_empty_group_is_named_and_nothing_is_computed(n1, n2, missing):
    row = uplift.Comparison("birthday", n1, n2, min(n1, 3), min(n2, 2)).row()
    assert row["verdict"] == f"too few customers: no {missing} customers to compare with"
    for column in ("lift", "lift_ci_low", "lift_ci_high", "p_value", "incremental_conversions",
                   "incremental_value"):
        assert row[column] is None, column
    assert row["contacted_rate"] == (min(n1, 3) / n1 if n1 else None)
    assert row["holdout_rate"] == (min(n2, 2) / n2 if n2 else None)
    assert list(row) == uplift.COLUMNS


def test_the_five_percent_boundary_is_strict():
    # p exactly 0.05 is not below 0.05: not "significant" (README: p < 0.05).
    assert uplift.verdict(0.6, 0.1, 10, 10, 0.05) != "significant"
    assert uplift.verdict(0.6, 0.1, 10, 10, 0.0499999) == "significant"
    assert uplift.verdict(0.1, 0.6, 10, 10, 0.0499999) == uplift.SIGNIFICANT_DECREASE


def test_a_lift_that_would_need_more_held_out_customers_says_how_many():
    # p1 = 12%, p2 = 10%, 19,000 contacted and 1,000 held out: statsmodels' power solver says
    # 2,018.2 held out are needed for 80% power at 5%: 1,018.2 more, "about 1,100" (two figures, up).
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.12, 0.10), alpha=0.05, power=0.8,
                                       ratio=19, alternative="two-sided")
    assert 1018 < ref - 1000 < 1019
    text = uplift.verdict(0.12, 0.10, 19000, 1000, 0.2)
    assert text == "too few customers: about 1,100 more held-out customers needed to see a lift of 2.0 points"


def test_a_lift_the_groups_were_large_enough_to_see_is_not_significant():
    # 30% vs 29.9% with 10 million per side: enough customers to see 0.1 points, yet p >= 0.05.
    assert uplift.verdict(0.300, 0.299, 10_000_000, 10_000_000, 0.07) == "not significant"


def test_no_difference_needs_infinitely_many_customers_to_see():
    assert uplift.holdout_needed(0.1, 0.1, 100, 100) == math.inf
    assert uplift.holdout_needed(0.0, 0.0, 100, 100) == math.inf


@pytest.mark.parametrize(("n", "shown"), [(0, 0), (1, 1), (99, 99), (99.2, 100), (100, 100), (101, 110),
                                          (109, 110), (110, 110), (999, 1000), (1001, 1100), (11_873.4, 12_000),
                                          (120_001, 130_000)])
def test_about_n_is_rounded_up_to_two_significant_figures(n, shown):
    assert uplift._round_up(n) == shown


def test_an_empty_table_has_one_row_all_with_nobody():
    frame = pd.DataFrame({"event_type": pd.Series([], dtype=str), "locale": pd.Series([], dtype=str),
                          "variant": pd.Series([], dtype=str), "group": pd.Series([], dtype=str),
                          "converted": pd.Series([], dtype=bool), "value": pd.Series([], dtype=float)})
    (row,) = uplift.table(frame)
    assert row["group"] == "all" and row["contacted"] == 0 and row["holdout"] == 0
    assert row["verdict"].startswith("too few customers: no ")


def test_by_variant_names_the_template_and_base_for_no_variant():
    frame = pd.DataFrame({"event_type": ["birthday", "birthday", "retirement", "birthday"],
                          "locale": "en", "variant": ["", "short", "", ""],
                          "group": ["contacted", "holdout", "contacted", "holdout"],
                          "converted": [True, False, False, True], "value": [5.0, 0.0, 0.0, 2.0]})
    rows = {r["group"]: r for r in uplift.table(frame, by="variant")}
    assert set(rows) == {"birthday/base", "birthday/short", "retirement/base", "all"}
    assert rows["all"]["contacted"] == 2 and rows["all"]["holdout"] == 2
    assert rows["all"]["contacted_conversions"] == 1 and rows["all"]["holdout_conversions"] == 1


def test_incremental_value_is_per_customer_value_difference_times_contacted():
    # Contacted: 4 customers spent 40 (10 each on average); held out: 2 spent 4 (2 each): 8 x 4 = 32.
    row = uplift.Comparison("all", 4, 2, 2, 1, contacted_value=40.0, holdout_value=4.0).row()
    assert row["incremental_value"] == pytest.approx(32.0)
    assert row["incremental_conversions"] == pytest.approx((2 / 4 - 1 / 2) * 4)


def test_by_must_be_a_known_grouping():
    with pytest.raises(ValueError, match="--by must be one of event_type, locale, variant"):
        uplift.table(pd.DataFrame(), by="country")


def test_a_wilson_interval_never_leaves_zero_to_one_even_by_rounding():
    # In floating point the raw upper bound of n of n exceeds 1 for some n (16 of 16 does).
    for n in range(1, 120):
        for count in range(n + 1):
            low, high = uplift.wilson(count, n)
            assert 0.0 <= low <= high <= 1.0, (count, n)


@pytest.mark.parametrize(("c1", "n1", "c2", "n2"), [(30, 400, 2, 50), (5, 5, 1, 7), (0, 200, 0, 40)])
def test_newcombe_interval_at_another_confidence_level(c1, n1, c2, n2):
    z90 = 1.6448536269514722  # the standard normal's 95% quantile: a two-sided 90% interval
    assert uplift.newcombe_interval(c1, n1, c2, n2, z=z90) == pytest.approx(
        confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff", alpha=0.10), abs=1e-9)


def test_the_lift_is_shown_in_points_with_one_decimal():
    # 30% vs 20% with 50 per side (p = 0.25 here): a 10-point lift; statsmodels: 291.9 held out needed
    # for 80% power, 241.9 more -> "about 250".
    ref = NormalIndPower().solve_power(effect_size=proportion_effectsize(0.3, 0.2), alpha=0.05, power=0.8,
                                       ratio=1, alternative="two-sided")
    assert 241 < ref - 50 < 242
    assert uplift.verdict(0.3, 0.2, 50, 50, 0.25) == (
        "too few customers: about 250 more held-out customers needed to see a lift of 10.0 points")


def test_customers_without_a_locale_are_a_group_of_their_own_shown_as_a_dash():
    frame = pd.DataFrame({"event_type": "birthday", "locale": ["fi", None, None, "fi"], "variant": "",
                          "group": ["contacted", "contacted", "holdout", "holdout"],
                          "converted": [True, False, True, False], "value": 0.0})
    rows = {r["group"]: r for r in uplift.table(frame, by="locale")}
    assert list(rows) == ["-", "fi", "all"]
    assert (rows["-"]["contacted"], rows["-"]["holdout"], rows["-"]["holdout_conversions"]) == (1, 1, 1)
