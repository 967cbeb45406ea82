"""Greetings that must not go: hurtful states and implausible ages, from the rules' data.

Both read the customer's *current* record (the snapshot the event was found in):

* ``never_when`` (``rules/events.yaml``): a wedding anniversary or a marriage greeting is
  never sent to a customer whose ``marital_status`` is now ``widowed`` or ``divorced``
  (reason ``sensitive: marital_status widowed``: the column and the value, so that
  ``why``, the run summary and the results say exactly which state stopped it);
* ``age_at_event``: a retirement at 21 or a graduation at 81 is a wrong inference or a
  data error, not a life event: reason ``implausible_age``. The age is counted in whole
  years on the event's day; a customer without a date of birth is not judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from milestones.detect.events import EventRule

IMPLAUSIBLE_AGE = "implausible_age"
SENSITIVE = "sensitive"


def sensitive_reason(column: str, value: str) -> str:
    return f"{SENSITIVE}: {column} {value}"


def whole_years(born: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Age in whole years on ``day`` of people born on ``born`` (datetime64[D] arrays, NaT-safe
    garbage where either is NaT: mask it). Someone born on 29 February turns a year older on
    1 March in common years (the day after 28 February), as most laws count it."""
    import numpy as np

    def parts(days):
        years = days.astype("datetime64[Y]")
        months = days.astype("datetime64[M]")
        month = (months - years).astype(np.int64) + 1
        return years.astype(np.int64), month * 100 + (days - months).astype(np.int64) + 1

    by, bmd = parts(born)
    ty, tmd = parts(day)
    return ty - by - (tmd < bmd)


def life_reasons(events: pd.DataFrame, snapshot: pd.DataFrame, rules: tuple[EventRule, ...]) -> np.ndarray:
    """One reason per event row (``""`` where nothing of the customer's state stops it)."""
    import numpy as np

    reason = np.full(len(events), "", dtype=object)
    if not len(events):
        return reason
    by_type = {r.event_type: r for r in rules}
    columns = sorted({c for r in rules for c, _ in r.never_when}
                     | ({"date_of_birth"} if any(r.age_min is not None or r.age_max is not None for r in rules)
                        else set()))
    columns = [c for c in columns if c in snapshot.columns]
    people = snapshot.set_index("customer_id")[columns]
    joined = people.reindex(events["customer_id"].to_numpy())
    kinds = events["event_type"].to_numpy(dtype=object)
    for rule in by_type.values():
        mine = kinds == rule.event_type
        if not mine.any():
            continue
        for column, values in rule.never_when:
            if column not in joined.columns:
                continue
            state = joined[column].astype("string").fillna("").to_numpy(dtype=object)
            for value in values:
                hit = mine & (state == value) & (reason == "")
                reason[hit] = sensitive_reason(column, value)
        if (rule.age_min is not None or rule.age_max is not None) and "date_of_birth" in joined.columns:
            born = joined["date_of_birth"].to_numpy(dtype="datetime64[D]")
            day = events["event_date"].to_numpy().astype("datetime64[D]")
            known = ~np.isnat(born)
            age = whole_years(born, day)
            out = np.zeros(len(events), dtype=bool)
            if rule.age_min is not None:
                out |= age < rule.age_min
            if rule.age_max is not None:
                out |= age > rule.age_max
            reason[mine & known & out & (reason == "")] = IMPLAUSIBLE_AGE
    return reason
