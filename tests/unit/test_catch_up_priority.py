"""Catch-up runs (``--days N``): events of several days meet in one decision.

The README's rule: one email per customer in a run, the ``priority`` list picks the event
(whatever its day); an event older than its type's ``max_age_days`` is skipped as ``stale``
and never takes the place of a fresh one. The events come from :func:`detect_events` on a
snapshot written here; the expected reasons are written out by hand from that rule.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from milestones.decide.policy import Policy, decide
from milestones.detect.events import detect_events

pytestmark = pytest.mark.unit

D = dt.date(2026, 11, 22)  # the run's date


def _day(back: int, year: int | None = None) -> str:
    day = D - dt.timedelta(days=back)
    return str(day.replace(year=year) if year else day)


# customer: (date_of_birth, customer_since, retirement_date); birthdays and anniversaries fall on
# the day written, D - n, in the catch-up window.
PEOPLE = {
    "a": (_day(2, 1980), _day(0, 2015), None),     # birthday 2 days ago, customer anniversary today
    "b": (_day(0, 1980), _day(2, 2015), None),     # customer anniversary 2 days ago, birthday today
    "c": (_day(1, 1980), "2015-06-01", None),      # only a birthday, yesterday
    "d": (_day(4, 1980), _day(0, 2015), None),     # a stale birthday (max_age 3) and a fresh anniversary
    "e": (_day(0, 1960), "2015-06-01", _day(2)),   # retired at 66 two days ago, birthday today
    "f": (_day(4, 1980), "2015-06-01", None),      # only a stale birthday
}


def _snapshot() -> pd.DataFrame:
    snap = pd.DataFrame({
        "customer_id": list(PEOPLE), "timezone": "Europe/Helsinki",
        "date_of_birth": [p[0] for p in PEOPLE.values()], "customer_since": [p[1] for p in PEOPLE.values()],
        "retirement_date": [p[2] for p in PEOPLE.values()], "wedding_date": None, "graduation_date": None,
        "email": [f"{c}@example.com" for c in PEOPLE], "marketing_opt_in": True, "deceased": False,
    })
    for col in ("date_of_birth", "customer_since", "wedding_date", "graduation_date", "retirement_date"):
        snap[col] = pd.to_datetime(snap[col]).astype("datetime64[s]")
    return snap


def _reasons(days: int, policy: Policy | None = None) -> dict[str, str]:
    snap = _snapshot()
    events = detect_events(snap, as_of=D, days=days)
    decided = decide(events, snap, policy or Policy(holdout_share=0.0), as_of=D)
    return {f"{c}/{t}/{str(d)[:10]}": r for c, t, d, r in
            zip(decided["customer_id"], decided["event_type"], decided["event_date"], decided["reason"], strict=True)}


def test_a_five_day_catch_up_sends_one_email_per_customer_by_priority_whatever_the_day():
    assert _reasons(5) == {
        "a/birthday/" + _day(2): "",                                   # higher priority, though older
        "a/customer_anniversary/" + _day(0): "lower_priority_same_day",
        "b/birthday/" + _day(0): "",                                   # higher priority, and newer
        "b/customer_anniversary/" + _day(2): "lower_priority_same_day",
        "c/birthday/" + _day(1): "",
        "d/birthday/" + _day(4): "stale",                             # never blocks the fresh one
        "d/customer_anniversary/" + _day(0): "",
        "e/retirement/" + _day(2): "",
        "e/birthday/" + _day(0): "lower_priority_same_day",
        "f/birthday/" + _day(4): "stale",
    }


def test_a_one_day_run_sees_only_its_own_day():
    assert _reasons(1) == {
        "a/customer_anniversary/" + _day(0): "",
        "b/birthday/" + _day(0): "",
        "d/customer_anniversary/" + _day(0): "",
        "e/birthday/" + _day(0): "",
    }


def test_a_three_day_window_ends_on_the_run_date_and_reaches_back_two_days():
    got = _reasons(3)
    assert {k.split("/", 1)[0] for k in got} == {"a", "b", "c", "d", "e"}
    assert not any(k.startswith(("f/", "d/birthday")) for k in got)  # four days back: outside the window


def test_the_priority_setting_reorders_across_days_too():
    custom = Policy(holdout_share=0.0, priority=("customer_anniversary", "birthday", "retirement"))
    got = _reasons(5, custom)
    assert got["a/customer_anniversary/" + _day(0)] == "" and got["a/birthday/" + _day(2)] == "lower_priority_same_day"
    assert got["b/customer_anniversary/" + _day(2)] == "" and got["b/birthday/" + _day(0)] == "lower_priority_same_day"
    assert got["e/birthday/" + _day(0)] == "" and got["e/retirement/" + _day(2)] == "lower_priority_same_day"


def test_an_event_skipped_for_another_reason_does_not_take_the_one_email():
    # Customer a is capped (emailed recently): both events skipped for that, none as lower priority.
    capped = _reasons(5, Policy(holdout_share=0.0, recently_contacted=frozenset({"a"})))
    assert capped["a/birthday/" + _day(2)] == "frequency_cap"
    assert capped["a/customer_anniversary/" + _day(0)] == "frequency_cap"
    # Customer b opted out of birthdays: the anniversary, two days old, is the one sent.
    from milestones.decide.policy import PolicyView

    view = PolicyView(opted_out={"b": frozenset({"birthday"})})
    chosen = _reasons(5, Policy(holdout_share=0.0, preferences=view))
    assert chosen["b/birthday/" + _day(0)] == "opted_out_of_type"
    assert chosen["b/customer_anniversary/" + _day(2)] == ""


def test_the_same_type_on_two_days_sends_the_earlier_one():
    # Two events of one type for one customer in one window (made by hand: detection gives a type one
    # day a year): still one email, and the choice is stable: the earlier day's, the one a daily run
    # would have sent first.
    events = pd.DataFrame({"customer_id": ["z", "z"], "event_type": ["birthday", "birthday"],
                           "event_date": pd.to_datetime([_day(0), _day(2)]), "key": ["z-0", "z-2"],
                           "stale": False})
    people = pd.DataFrame({"customer_id": ["z"], "email": ["z@example.com"], "marketing_opt_in": True,
                           "deceased": False})
    got = decide(events, people, Policy(holdout_share=0.0), as_of=D).set_index("key")["reason"].to_dict()
    assert got == {"z-0": "lower_priority_same_day", "z-2": ""}
