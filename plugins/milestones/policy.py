"""Contact policy: who is contacted, applied in one place, one recorded reason per event.

Rules run in order; the first that matches decides.  Every event gets a row in
the decisions file, sent or not, so ``why`` can always explain it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

SEND = "send"
SKIP = "skip"
#: When several events fall on a customer together, one email: the highest priority wins.
DEFAULT_PRIORITY = (
    "retirement",
    "marriage",
    "new_child",
    "graduation",
    "birthday",
    "wedding_anniversary",
    "customer_anniversary",
)


def decide(events: pd.DataFrame, snapshot: pd.DataFrame,
           priority: tuple[str, ...] = DEFAULT_PRIORITY) -> pd.DataFrame:
    """Return ``events`` with ``decision`` (send/skip) and ``reason`` columns."""
    import numpy as np

    people = snapshot.set_index("customer_id")[["marketing_opt_in", "deceased"]]
    out = events.join(people, on="customer_id")
    reason = np.full(len(out), "", dtype=object)

    def apply(mask, why):
        mask = np.asarray(mask, dtype=bool) & (reason == "")
        reason[mask] = why

    apply(out["deceased"].fillna(False), "deceased")
    if "stale" in out.columns:  # found by a catch-up run, too late to be welcome
        apply(out["stale"].fillna(False), "stale")
    apply(~out["marketing_opt_in"].fillna(False).astype(bool), "no_opt_in")
    rank = out["event_type"].map({t: i for i, t in enumerate(priority)}).fillna(len(priority))
    candidates = out.assign(_rank=rank.to_numpy(), _ok=(reason == ""))
    best = (candidates[candidates["_ok"]].sort_values(["customer_id", "_rank", "event_date"])
            .drop_duplicates("customer_id")["key"])
    apply((reason == "") & ~out["key"].isin(best).to_numpy(), "lower_priority_same_day")
    out["decision"] = np.where(reason == "", SEND, SKIP)
    out["reason"] = reason
    return out.drop(columns=["marketing_opt_in", "deceased"])
