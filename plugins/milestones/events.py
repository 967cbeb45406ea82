"""Life-event detection, vectorised: date events on the customer's own calendar day,
change events from two snapshots.

Every event carries a deterministic ``key`` (customer, event type, occurrence
date) so that re-runs, retries and backfills never create a second event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

EVENT_TYPES = (
    "birthday",
    "retirement",
    "marriage",
    "wedding_anniversary",
    "graduation",
    "new_child",
    "customer_anniversary",
)
#: Anniversary-style events: (event type, source column, milestone years).
ANNUAL_RULES = (
    ("birthday", "date_of_birth", (18, 30, 40, 50, 60, 65, 70, 80, 90, 100)),
    ("wedding_anniversary", "wedding_date", (1, 5, 10, 25, 40, 50)),
    ("customer_anniversary", "customer_since", (1, 5, 10, 20, 25)),
)
#: One-off events that fire on the day a date column names.
DATE_RULES = (
    ("retirement", "retirement_date"),
    ("graduation", "graduation_date"),
    ("marriage", "wedding_date_set"),
)
EVENT_COLUMNS = ["customer_id", "event_type", "event_date", "years", "milestone", "source", "key"]


def event_key(customer_id: str, event_type: str, occurrence: dt.date | str) -> str:
    """Stable idempotency key: the same event always gets the same 32 hex chars."""
    raw = f"{customer_id}\x1f{event_type}\x1f{occurrence}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def local_dates(snapshot: pd.DataFrame, *, as_of: dt.date | None = None,
                instant: dt.datetime | None = None, default_timezone: str = "UTC") -> pd.Series:
    """Each customer's calendar date: ``as_of`` for all, or ``instant`` in their own zone.

    With an instant, customers are grouped by time zone (a few hundred zones at
    most), so the conversion is one call per zone, not per customer.
    """
    import zoneinfo

    import pandas as pd

    if instant is None:
        if as_of is None:
            raise ValueError("give as_of or instant")
        return pd.Series(pd.Timestamp(as_of), index=snapshot.index, dtype="datetime64[s]")
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    zones = snapshot["timezone"].fillna(default_timezone)
    out = pd.Series(pd.NaT, index=snapshot.index, dtype="datetime64[s]")
    for zone, idx in zones.groupby(zones, sort=False).groups.items():
        local = instant.astimezone(zoneinfo.ZoneInfo(zone)).date()
        out.loc[idx] = pd.Timestamp(local)
    return out


def _annual(snapshot, local_today, days, leap_day_rule):
    import numpy as np
    import pandas as pd

    frames = []
    for event_type, column, milestones in ANNUAL_RULES:
        src = snapshot[column]
        has = src.notna().to_numpy()
        if not has.any():
            continue
        src_month = src.dt.month.to_numpy()
        src_day = src.dt.day.to_numpy()
        src_year = src.dt.year.to_numpy()
        src_md = src_month * 100 + src_day
        for back in range(days):
            target = local_today - pd.Timedelta(days=back)
            t_year = target.dt.year.to_numpy()
            t_md = (target.dt.month * 100 + target.dt.day).to_numpy()
            t_leap = ((t_year % 4 == 0) & (t_year % 100 != 0)) | (t_year % 400 == 0)
            leap_md = 301 if leap_day_rule == "mar1" else 228
            hit = has & (
                (src_md == t_md)
                | ((src_md == 229) & ~t_leap & (t_md == leap_md))
            )
            years = t_year - src_year
            hit &= years > 0  # year 0 is the event itself, not an anniversary
            if not hit.any():
                continue
            idx = np.flatnonzero(hit)
            yrs = years[idx]
            frames.append(pd.DataFrame({
                "customer_id": snapshot["customer_id"].to_numpy()[idx],
                "event_type": event_type,
                "event_date": target.to_numpy()[idx],
                "years": yrs,
                "milestone": np.where(np.isin(yrs, milestones), yrs, 0),
                "source": column,
            }))
    return frames


def _on_date(snapshot, local_today, days):
    import numpy as np
    import pandas as pd

    frames = []
    for event_type, column in DATE_RULES:
        col = "wedding_date" if column == "wedding_date_set" else column
        src = snapshot[col]
        lo = local_today - pd.Timedelta(days=days - 1)
        hit = (src.notna() & (src >= lo) & (src <= local_today)).to_numpy()
        if not hit.any():
            continue
        idx = np.flatnonzero(hit)
        frames.append(pd.DataFrame({
            "customer_id": snapshot["customer_id"].to_numpy()[idx],
            "event_type": event_type,
            "event_date": src.to_numpy()[idx],
            "years": 0,
            "milestone": 0,
            "source": col,
        }))
    return frames


def _changes(snapshot, previous, local_today):
    import pandas as pd

    if previous is None or previous.empty:
        return []
    prev = previous.set_index("customer_id")
    cur = snapshot.assign(_today=local_today).set_index("customer_id")
    common = cur.index.intersection(prev.index)  # new customers produce no change events
    cur, prev = cur.loc[common], prev.loc[common]
    rules = {
        "marriage": cur["marital_status"].isin(["married", "partnered"])
        & ~prev["marital_status"].isin(["married", "partnered"]),
        "retirement": (cur["employment_status"] == "retired") & (prev["employment_status"] != "retired"),
        "graduation": (prev["employment_status"] == "student") & (cur["employment_status"] != "student")
        & cur["employment_status"].notna(),
        "new_child": cur["children_count"].fillna(0) > prev["children_count"].fillna(0),
    }
    rules["marriage"] |= cur["wedding_date"].notna() & prev["wedding_date"].isna()
    frames = []
    for event_type, mask in rules.items():
        mask = mask.fillna(False).astype(bool)
        if not mask.any():
            continue
        hit = cur[mask.to_numpy()]
        frames.append(pd.DataFrame({
            "customer_id": hit.index.to_numpy(),
            "event_type": event_type,
            "event_date": hit["_today"].to_numpy(),
            "years": 0,
            "milestone": 0,
            "source": "change",
        }))
    return frames


def detect_events(
    snapshot: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    *,
    as_of: dt.date | None = None,
    instant: dt.datetime | None = None,
    days: int = 1,
    leap_day_rule: str = "feb28",
    default_timezone: str = "UTC",
) -> pd.DataFrame:
    """All events whose day (in each customer's zone) falls in the ``days`` ending today.

    ``snapshot`` and ``previous`` are validated, typed snapshots
    (:func:`milestones.validation.normalise`).  One row per event; an event found
    by two rules (a status change and a wedding date) is kept once.
    """
    import pandas as pd

    if days < 1:
        raise ValueError("days must be >= 1")
    if leap_day_rule not in {"feb28", "mar1"}:
        raise ValueError(f"leap_day_rule must be 'feb28' or 'mar1', not {leap_day_rule!r}")
    snapshot = snapshot.reset_index(drop=True)
    today = local_dates(snapshot, as_of=as_of, instant=instant, default_timezone=default_timezone)
    frames = _annual(snapshot, today, days, leap_day_rule)
    frames += _on_date(snapshot, today, days)
    frames += _changes(snapshot, previous, today)
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in [
            ("customer_id", "string"), ("event_type", "string"), ("event_date", "datetime64[s]"),
            ("years", "int64"), ("milestone", "int64"), ("source", "string"), ("key", "string")]})
    events = pd.concat(frames, ignore_index=True)
    events["event_date"] = events["event_date"].astype("datetime64[s]")
    # One-off events are keyed by type and year: a marriage seen both as a status
    # change and as a wedding date in the same year is one marriage.
    one_off = ~events["event_type"].isin([r[0] for r in ANNUAL_RULES])
    occurrence = events["event_date"].dt.strftime("%Y-%m-%d")
    occurrence = occurrence.where(~one_off, events["event_date"].dt.year.astype(str))
    events = events.assign(_occ=occurrence).drop_duplicates(["customer_id", "event_type", "_occ"])
    events["key"] = [event_key(c, t, o) for c, t, o in
                     zip(events["customer_id"], events["event_type"], events["_occ"], strict=True)]
    events = events.drop(columns="_occ")
    events["years"] = events["years"].astype("int64")
    events["milestone"] = events["milestone"].astype("int64")
    return events[EVENT_COLUMNS].sort_values(["customer_id", "event_type"]).reset_index(drop=True)
