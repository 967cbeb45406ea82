"""Change events carry their whole row: the run's date, no years, no milestone, source `change`."""

from __future__ import annotations

import datetime as dt

from milestones.events import detect_events
from tests.unit.test_events import snap

DAY = dt.date(2026, 11, 22)


def test_change_event_rows_in_full():
    prev = snap({"customer_id": "k", "children_count": None},   # no count known yesterday: 0
                {"customer_id": "m", "marital_status": "single"},
                {"customer_id": "same", "children_count": 1})
    cur = snap({"customer_id": "k", "children_count": 1},
               {"customer_id": "m", "marital_status": "married"},
               {"customer_id": "same", "children_count": None})   # a count that vanished is no child
    ev = detect_events(cur, prev, as_of=DAY)
    rows = {tuple(r) for r in ev[["customer_id", "event_type", "event_date", "years", "milestone", "source",
                                  "days_late", "stale"]].astype(str).itertuples(index=False)}
    assert rows == {("k", "new_child", "2026-11-22", "0", "0", "change", "0", "False"),
                    ("m", "marriage", "2026-11-22", "0", "0", "change", "0", "False")}
