"""One inbox, one voice: at most one milestone email per address and day, and couples greeted together.

Several CRM records can carry one address (``inbox`` form: NFC, trimmed, case-folded:
:mod:`milestones.ingest.identity`). Of the events that may still be sent, after one per
customer was chosen by priority, one per inbox goes:

* two customers on one inbox with the same ``wedding_date`` whose wedding anniversary (or
  marriage) falls today are a couple: ONE email greets both (``partner_id`` on the email's
  decision row; the partner's own row is skipped as ``couple_shared_email`` and names the
  shared email in ``shared_key``). The email is addressed from the record with the smaller
  customer id, so re-runs choose the same one;
* any other event of that inbox on that day is skipped as ``same_inbox_same_day``
  (the priority order decides which one goes, as for one customer).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

SAME_INBOX = "same_inbox_same_day"
COUPLE = "couple_shared_email"
#: Event types a couple shares (one date for both: their wedding).
COUPLE_TYPES = ("wedding_anniversary", "marriage")


def one_per_inbox(out: pd.DataFrame, reason: np.ndarray, rank: np.ndarray, boxes: list[str],
                  weddings: pd.Series | None) -> tuple[list, list]:
    """Mark ``reason`` in place for the events that lose their inbox; return (partner_id, shared_key) columns.

    ``out`` rows are events (``customer_id``, ``event_type``, ``event_date``, ``key``) of
    which those with ``reason == ""`` may be sent (already one per customer); ``rank`` the
    priority rank of each; ``boxes`` each row's inbox; ``weddings`` each row's customer's
    wedding_date (None when unknown).
    """
    import collections

    partner: list = [None] * len(out)
    shared: list = [None] * len(out)
    groups: dict[str, list[int]] = collections.defaultdict(list)
    for i in (i for i, r in enumerate(reason) if r == ""):
        if boxes[i]:
            groups[boxes[i]].append(i)
    ids = out["customer_id"].to_numpy(dtype=object)
    types = out["event_type"].to_numpy(dtype=object)
    dates = out["event_date"].astype(str).to_numpy(dtype=object)
    keys = out["key"].to_numpy(dtype=object)
    wed = weddings.astype(str).to_numpy(dtype=object) if weddings is not None else None
    for rows in groups.values():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda i: (rank[i], dates[i], str(ids[i])))
        winner = rows[0]
        mates = [i for i in rows[1:] if _couple(winner, i, types, dates, ids, wed)]
        if mates:
            mate = mates[0]
            partner[winner] = ids[mate]
            reason[mate] = COUPLE
            shared[mate] = keys[winner]
        for i in rows[1:]:
            if reason[i] == "":
                reason[i] = SAME_INBOX
                shared[i] = keys[winner]
    return partner, shared


def _couple(a: int, b: int, types, dates, ids, wed) -> bool:
    return (wed is not None and types[a] in COUPLE_TYPES and types[a] == types[b] and dates[a] == dates[b]
            and ids[a] != ids[b] and wed[a] not in ("", "NaT", "None", "nan") and wed[a] == wed[b])
