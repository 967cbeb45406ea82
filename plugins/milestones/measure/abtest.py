"""A/B decisions: does an email's variant convert better than its base template?

Among the *contacted* customers of one event type, each A/B variant's conversion rate is
compared with the base template's by the two-sided two-proportion z-test
(:func:`milestones.measure.uplift.p_value`) with the 95% interval of the difference by
Newcombe's hybrid score method. A variant **wins** when p < 0.05 and it converts more,
**loses** when p < 0.05 and it converts less; otherwise there is no winner yet and the page
says how many more customers of that variant would show a difference of the size seen (or
of 1 point), at 80% power. Each variant is one comparison with its base (no correction for
several variants of one email: with three or more, read a p just under 0.05 with care).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from milestones.measure import uplift

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

TEST = ("two-sided two-proportion z-test of the conversion rates of contacted customers, variant vs base; "
        f"significant when p < {uplift.ALPHA:g}")


def compare(name: str, n1: int, c1: int, n0: int, c0: int) -> dict[str, Any]:
    """Variant (``n1`` contacted, ``c1`` converted) vs base (``n0``, ``c0``)."""
    out: dict[str, Any] = {"variant": name, "contacted": n1, "conversions": c1, "base_contacted": n0,
                           "base_conversions": c0, "rate": c1 / n1 if n1 else None,
                           "base_rate": c0 / n0 if n0 else None, "difference": None, "ci_low": None,
                           "ci_high": None, "p_value": None}
    if not n1 or not n0:
        return out | {"decision": "waiting", "text": "not sent to both groups yet"}
    p1, p0 = c1 / n1, c0 / n0
    low, high = uplift.newcombe_interval(c1, n1, c0, n0)
    p = uplift.p_value(c1, n1, c0, n0)
    out |= {"difference": p1 - p0, "ci_low": low, "ci_high": high, "p_value": p}
    diff = f"{100 * (p1 - p0):+.1f} points (95% interval {100 * low:+.1f} to {100 * high:+.1f}; p = {p:.3g})"
    if p < uplift.ALPHA:
        return out | ({"decision": "wins", "text": f"wins: converts better than the base, {diff}"} if p1 > p0 else
                      {"decision": "loses", "text": f"loses: converts worse than the base, {diff}"})
    if p1 == p0:
        p1 = min(p0 + uplift.SMALLEST_LIFT, 1.0)
    needed = uplift.holdout_needed(p0, p1, n0, n1)  # customers of the variant, keeping the split
    more = uplift._round_up(max(needed - n1, 0))
    return out | {"decision": "no winner yet",
                  "text": f"no winner yet: {diff}; about {more:,} more customers of this variant needed"}


def decide(attributed: pd.DataFrame) -> list[dict[str, Any]]:
    """One row per (event type, A/B variant) of event types that have variants."""
    contacted = attributed[attributed["group"] == "contacted"]
    if not len(contacted):
        return []
    arm = contacted["variant"].astype("string").fillna("").replace("", "base")
    grouped = contacted.assign(arm=arm).groupby(["event_type", "arm"], observed=True)["converted"].agg(["size", "sum"])
    out = []
    for event_type in sorted({e for e, _ in grouped.index}):
        arms = grouped.loc[event_type]
        if len(arms) < 2 and "base" in arms.index:
            continue
        n0, c0 = (int(arms.loc["base", "size"]), int(arms.loc["base", "sum"])) if "base" in arms.index else (0, 0)
        for name in sorted(a for a in arms.index if a != "base"):
            row = compare(str(name), int(arms.loc[name, "size"]), int(arms.loc[name, "sum"]), n0, c0)
            out.append({"event_type": str(event_type), "test": TEST, **row})
    return out
