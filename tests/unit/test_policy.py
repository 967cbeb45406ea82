"""Every contact-policy rule, with the reason it records."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from milestones.decide.policy import Policy, decide, in_holdout

DAY = dt.date(2026, 11, 22)


def people(**overrides) -> pd.DataFrame:
    rows = []
    for cid in ("a", "b", "c"):
        rows.append({"customer_id": cid, "email": f"{cid}@example.com", "marketing_opt_in": True,
                     "deceased": False, **overrides.get(cid, {})})
    return pd.DataFrame(rows)


def events(*items) -> pd.DataFrame:
    return pd.DataFrame([{"customer_id": c, "event_type": t, "event_date": pd.Timestamp(DAY),
                          "key": f"{c}-{t}", "stale": stale} for c, t, stale in items])


def reasons(decided: pd.DataFrame) -> dict[str, str]:
    return dict(zip(decided["key"], decided["reason"], strict=True))


@pytest.mark.parametrize("change, reason", [
    ({"deceased": True}, "deceased"),
    ({"marketing_opt_in": False}, "no_opt_in"),
])
def test_customer_flags(change, reason):
    got = reasons(decide(events(("a", "birthday", False)), people(a=change)))
    assert got == {"a-birthday": reason}


def test_deceased_wins_over_everything():
    got = decide(events(("a", "birthday", True)), people(a={"deceased": True, "marketing_opt_in": False}))
    assert list(got["reason"]) == ["deceased"]


def test_suppressed_address_case_insensitive():
    policy = Policy(suppressed=frozenset({"a@example.com"}))
    got = reasons(decide(events(("a", "birthday", False)), people(a={"email": "A@Example.com"}), policy))
    assert got == {"a-birthday": "suppressed"}


def test_stale_events_are_not_sent():
    got = reasons(decide(events(("a", "birthday", True), ("b", "birthday", False)), people()))
    assert got == {"a-birthday": "stale", "b-birthday": ""}


def test_quiet_day():
    policy = Policy(quiet_dates=frozenset({DAY}))
    assert set(decide(events(("a", "birthday", False)), people(), policy, as_of=DAY)["reason"]) == {"quiet_day"}
    assert set(decide(events(("a", "birthday", False)), people(), policy,
                      as_of=DAY + dt.timedelta(days=1))["reason"]) == {""}


def test_frequency_cap():
    policy = Policy(recently_contacted=frozenset({"a"}))
    got = reasons(decide(events(("a", "birthday", False), ("b", "birthday", False)), people(), policy))
    assert got == {"a-birthday": "frequency_cap", "b-birthday": ""}


def test_one_email_by_priority():
    ev = events(("a", "birthday", False), ("a", "retirement", False), ("a", "customer_anniversary", False))
    got = reasons(decide(ev, people()))
    assert got == {"a-retirement": "", "a-birthday": "lower_priority_same_day",
                   "a-customer_anniversary": "lower_priority_same_day"}
    custom = Policy(priority=("customer_anniversary", "birthday", "retirement"))
    assert reasons(decide(ev, people(), custom))["a-customer_anniversary"] == ""


def test_holdout_is_stable_and_about_the_share():
    ids = [f"C{i}" for i in range(20_000)]
    members = [c for c in ids if in_holdout(c, 0.05, "salt")]
    assert 0.04 < len(members) / len(ids) < 0.06
    assert members == [c for c in ids if in_holdout(c, 0.05, "salt")]  # same on every run
    assert members != [c for c in ids if in_holdout(c, 0.05, "other salt")]
    assert not any(in_holdout(c, 0.0, "salt") for c in ids)
    member = members[0]
    frame = pd.DataFrame([{"customer_id": member, "email": "m@example.com", "marketing_opt_in": True,
                           "deceased": False}])
    got = decide(events((member, "birthday", False)), frame, Policy(holdout_share=0.05, holdout_salt="salt"))
    assert list(got["reason"]) == ["holdout"] and list(got["decision"]) == ["skip"]
