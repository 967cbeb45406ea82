"""Uplift: did the emails change what customers do? Contacted vs held out, with confidence.

For each group (event type, locale or A/B variant, plus ``all``):

* ``lift`` = contacted conversion rate minus holdout conversion rate (a fraction; 0.012
  is 1.2 points);
* ``lift_ci_low``/``lift_ci_high``: its 95% confidence interval by Newcombe's hybrid
  score method (method 10 of Newcombe 1998: Wilson score intervals of each rate,
  combined), which stays within [-1, 1] and behaves with few or zero conversions;
* ``p_value``: two-sided, of the pooled two-proportion z-test (equivalently the chi-square
  test of the 2x2 table without continuity correction);
* ``verdict``: ``significant`` when p < 0.05 and the lift is positive (``significant
  decrease: ...`` when it is negative: the emails cost conversions); ``not significant`` when the
  groups are already large enough to have seen the observed lift (or, when the observed lift is
  not positive, a lift of ``SMALLEST_LIFT``, 1 point); otherwise ``too few customers: about N
  more held-out customers needed to see a lift of X points``, N from the sample size that gives
  80% power at the 5% level for that lift (Cohen's h, normal approximation), keeping the ratio
  of contacted to held-out customers. One held-out customer never reads "not significant".

The statistics need only ``math``; tests compare them with statsmodels and scipy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

COLUMNS = ["group", "contacted", "holdout", "contacted_conversions", "holdout_conversions", "contacted_rate",
           "holdout_rate", "lift", "lift_ci_low", "lift_ci_high", "p_value", "incremental_conversions",
           "incremental_value", "verdict"]
ALPHA = 0.05
POWER = 0.80
#: Standard normal quantiles: 97.5% (two-sided 5%) and 80% (power).
Z_975 = 1.959963984540054
Z_80 = 0.8416212335729143
BY = ("event_type", "locale", "variant")
#: The lift the groups must be able to see before a non-positive result reads "not significant".
SMALLEST_LIFT = 0.01


def wilson(count: int, n: int, z: float = Z_975) -> tuple[float, float]:
    """Wilson score interval of a proportion (no continuity correction)."""
    if n == 0:
        return 0.0, 1.0
    p = count / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_interval(c1: int, n1: int, c2: int, n2: int, z: float = Z_975) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p1 - p2."""
    p1, p2 = c1 / n1, c2 / n2
    l1, u1 = wilson(c1, n1, z)
    l2, u2 = wilson(c2, n2, z)
    d = p1 - p2
    return d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def p_value(c1: int, n1: int, c2: int, n2: int) -> float:
    """Two-sided p-value of the pooled two-proportion z-test."""
    pooled = (c1 + c2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0
    z = (c1 / n1 - c2 / n2) / se
    return math.erfc(abs(z) / math.sqrt(2))


def holdout_needed(p1: float, p2: float, n1: int, n2: int) -> float:
    """Held-out customers needed to detect ``p1 - p2`` (80% power, 5% two-sided), ratio n1/n2 kept.

    Cohen's h = 2 asin(sqrt p1) - 2 asin(sqrt p2); n2 = ((z_a + z_b) / h)^2 (1 + n2 / n1).
    """
    h = 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))
    if h == 0:
        return math.inf
    return ((Z_975 + Z_80) / h) ** 2 * (1 + n2 / n1)


@dataclass
class Comparison:
    group: str
    contacted: int
    holdout: int
    contacted_conversions: int
    holdout_conversions: int
    contacted_value: float = 0.0
    holdout_value: float = 0.0

    def row(self) -> dict[str, Any]:
        n1, n2, c1, c2 = self.contacted, self.holdout, self.contacted_conversions, self.holdout_conversions
        out: dict[str, Any] = {"group": self.group, "contacted": n1, "holdout": n2, "contacted_conversions": c1,
                               "holdout_conversions": c2}
        if n1 == 0 or n2 == 0:
            missing = "held-out" if n2 == 0 else "contacted"
            return out | dict.fromkeys(COLUMNS[5:13]) | {
                "contacted_rate": c1 / n1 if n1 else None, "holdout_rate": c2 / n2 if n2 else None,
                "verdict": f"too few customers: no {missing} customers to compare with"}
        p1, p2 = c1 / n1, c2 / n2
        low, high = newcombe_interval(c1, n1, c2, n2)
        p = p_value(c1, n1, c2, n2)
        lift = p1 - p2
        out |= {"contacted_rate": p1, "holdout_rate": p2, "lift": lift, "lift_ci_low": low, "lift_ci_high": high,
                "p_value": p, "incremental_conversions": lift * n1,
                "incremental_value": (self.contacted_value / n1 - self.holdout_value / n2) * n1,
                "verdict": verdict(p1, p2, n1, n2, p)}
        return out


#: A marketer must not read a significant *negative* lift as a success.
SIGNIFICANT_DECREASE = "significant decrease: contacted customers converted less than held-out ones"


def verdict(p1: float, p2: float, n1: int, n2: int, p: float) -> str:
    if p < ALPHA:
        return "significant" if p1 > p2 else SIGNIFICANT_DECREASE
    if p1 <= p2:  # nothing seen: were there enough held-out customers to see a lift of 1 point?
        pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
        low = min(max(pooled - SMALLEST_LIFT / 2, 0.0), 1 - SMALLEST_LIFT)
        p1, p2 = low + SMALLEST_LIFT, low
    needed = holdout_needed(p1, p2, n1, n2)
    if needed <= n2:
        return "not significant"
    more = _round_up(needed - n2)
    return (f"too few customers: about {more:,} more held-out customers needed to see a lift of "
            f"{100 * (p1 - p2):.1f} points")


def _round_up(n: float) -> int:
    """Two significant figures, rounded up ("about 12,000", not 11,873.4)."""
    n = math.ceil(n)
    if n < 100:
        return n
    step = 10 ** (len(str(n)) - 2)
    return -(-n // step) * step


def table(attributed: pd.DataFrame, by: str | None = None) -> list[dict[str, Any]]:
    """One row per value of ``by`` (sorted) and a last row ``all``, from :func:`milestones.measure.attribution.attribute`."""
    import pandas as pd

    if by is not None and by not in BY:
        raise ValueError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    frame = attributed.assign(
        _c=attributed["group"] == "contacted", _h=attributed["group"] == "holdout")
    frame = frame.assign(_cc=frame["_c"] & frame["converted"], _hc=frame["_h"] & frame["converted"],
                         _cv=frame["value"].where(frame["_c"], 0.0), _hv=frame["value"].where(frame["_h"], 0.0))
    sums = ["_c", "_h", "_cc", "_hc", "_cv", "_hv"]
    rows = []
    if by is not None:
        key = frame[by].astype("string").fillna("-")
        if by == "variant":  # a variant belongs to one template: "birthday/short_subject", "birthday/base"
            key = frame["event_type"].astype("string") + "/" + key.replace("", "base")
        grouped = frame.groupby(key, sort=True)[sums].sum()
        rows = [_comparison(str(name), rec) for name, rec in grouped.iterrows()]
    total = frame[sums].sum() if len(frame) else pd.Series(0, index=sums)
    rows.append(_comparison("all", total))
    return [c.row() for c in rows]


def _comparison(name: str, rec) -> Comparison:
    return Comparison(name, int(rec["_c"]), int(rec["_h"]), int(rec["_cc"]), int(rec["_hc"]),
                      float(rec["_cv"]), float(rec["_hv"]))


def compute(settings, *, by: str | None = None, since=None, until=None) -> list[dict[str, Any]]:
    """The uplift table for the data directory of ``settings``."""
    from milestones.core import storage
    from milestones.measure import attribution, fates, outcomes
    from milestones.render import variants

    facts = fates.build(storage.root(settings), settings.ledger_database_url, since=since, until=until,
                        variant_of=variants.assigner(settings))
    conversions = outcomes.read_all(storage.root(settings), settings.conversion_outcome,
                                    columns=["customer_id", "occurred_at", "value"])
    return table(attribution.attribute(facts, conversions, settings.conversion_window_days), by)
