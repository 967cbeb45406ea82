"""Attribution: which compared events were followed by a conversion.

For every detected event whose customer was contacted (email accepted) or held out
(decision ``holdout``), a conversion is an outcome named ``conversion_outcome``
(default ``purchase``) of that customer within ``conversion_window_days`` (default 14)
from the event's day: on the event's day or one of the 13 days after it (UTC dates of
``occurred_at``). Both groups get the same window, so whatever happens on the day
before the email arrives counts alike for both. Customers skipped for any other reason
(no opt-in, frequency cap, ...) stay out of the comparison.

Each event converts at most once; its ``value`` is the sum of the values of the
conversions in its window. Computed as one merge over whole columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def attribute(facts: pd.DataFrame, outcomes: pd.DataFrame, window_days: int) -> pd.DataFrame:
    """``facts`` (:func:`milestones.fates.build`) of the compared events, with ``converted`` and ``value``.

    ``outcomes`` holds the conversion outcomes: ``customer_id``, ``occurred_at`` (UTC), ``value``.
    """
    import numpy as np
    import pandas as pd

    compared = facts[facts["group"] != ""].reset_index(drop=True)
    start = compared["event_date"].to_numpy().astype("datetime64[D]")
    events = pd.DataFrame({"row": np.arange(len(compared)), "customer_id": compared["customer_id"].to_numpy(),
                           "start": start})
    when = pd.to_datetime(outcomes["occurred_at"], utc=True).dt.tz_localize(None)
    conv = pd.DataFrame({"customer_id": outcomes["customer_id"].to_numpy(),
                         "day": when.to_numpy().astype("datetime64[D]"),
                         "value": pd.to_numeric(outcomes["value"], errors="coerce").fillna(0.0).to_numpy()})
    conv = conv[conv["customer_id"].isin(events["customer_id"])]
    pairs = events.merge(conv, on="customer_id", how="inner")
    offset = (pairs["day"].to_numpy() - pairs["start"].to_numpy()).astype("timedelta64[D]").astype(np.int64)
    inside = pairs[(offset >= 0) & (offset < window_days)]
    per_event = inside.groupby("row", sort=False)["value"].sum()
    converted = np.zeros(len(compared), dtype=bool)
    converted[per_event.index.to_numpy()] = True
    value = np.zeros(len(compared), dtype=np.float64)
    value[per_event.index.to_numpy()] = per_event.to_numpy()
    return compared.assign(converted=converted, value=value)
