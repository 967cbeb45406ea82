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
    """``facts`` (:func:`milestones.measure.fates.build`) of the compared events, with ``converted`` and ``value``.

    ``outcomes`` holds the conversion outcomes: ``customer_id``, ``occurred_at`` (UTC), ``value``.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    compared = facts[facts["group"] != ""].reset_index(drop=True)
    events = pa.table({"row": pa.array(np.arange(len(compared), dtype=np.int64)),
                       "customer_id": pa.array(compared["customer_id"].astype(object).to_numpy(), pa.string()),
                       "start": pa.array(compared["event_date"].to_numpy().astype("datetime64[D]"), pa.date32())})
    when = pd.to_datetime(outcomes["occurred_at"], utc=True).dt.tz_localize(None)
    conv = pa.table({"customer_id": pa.array(outcomes["customer_id"].astype(object).to_numpy(), pa.string()),
                     "day": pa.array(when.to_numpy().astype("datetime64[D]"), pa.date32()),
                     "value": pa.array(pd.to_numeric(outcomes["value"], errors="coerce").fillna(0.0).to_numpy(),
                                       pa.float64())})
    # Arrow's hash join over whole columns: every (event, conversion) pair of a customer.
    pairs = events.join(conv, "customer_id", join_type="inner")
    offset = pc.subtract(pc.cast(pairs.column("day"), pa.int32()), pc.cast(pairs.column("start"), pa.int32()))
    inside = pairs.filter(pc.and_(pc.greater_equal(offset, 0), pc.less(offset, window_days)))
    per_event = inside.group_by("row").aggregate([("value", "sum")])
    rows = per_event.column("row").to_numpy()
    converted = np.zeros(len(compared), dtype=bool)
    converted[rows] = True
    value = np.zeros(len(compared), dtype=np.float64)
    value[rows] = per_event.column("value_sum").to_numpy()
    return compared.assign(converted=converted, value=value)
