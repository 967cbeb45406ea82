"""Fast unit tests that kill the mutants of decide.policy: each contact rule alone, its order, holdout and priority edges.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from milestones.core.pseudonym import keyed_hash
from milestones.decide.policy import Policy, PolicyView, decide, in_holdout

DAY = dt.date(2026, 11, 22)
KEY = b"k" * 32


def people(**changes) -> pd.DataFrame:
    base = {"customer_id": "a", "email": "a@example.com", "marketing_opt_in": True, "deceased": False,
            "marital_status": "married"}
    return pd.DataFrame([{**base, **changes}])


def one(event_type="wedding_anniversary", stale=False, **extra) -> pd.DataFrame:
    return pd.DataFrame([{"customer_id": "a", "event_type": event_type, "event_date": pd.Timestamp(DAY),
                          "key": "a-1", "stale": stale, **extra}])


# The documented order (the module's docstring): the first rule that matches decides.
LADDER = [
    ("erased", {"erased": frozenset({keyed_hash(KEY, "customer_id", "a")}), "erased_key": KEY}),
    ("deceased", {"deceased": True}),
    ("sensitive: marital_status widowed", {"marital_status": "widowed"}),
    ("unsubscribed", {"unsubscribed": frozenset({"a"})}),
    ("unsubscribed_address", {"unsubscribed_inboxes": frozenset({"a@example.com"})}),
    ("opted_out_of_type", {"opted_out": {"a": frozenset({"wedding_anniversary"})}}),
    ("paused", {"paused": frozenset({"a"})}),
    ("no_opt_in", {"marketing_opt_in": False}),
    ("suppressed", {"suppressed": frozenset({" A@Example.COM "})}),
    ("sunset", {"sunset": frozenset({"a"})}),
    ("stale", {"stale": True}),
    ("quiet_day", {"quiet_dates": frozenset({DAY})}),
    ("holdout", {"holdout_share": 1.0}),
    ("frequency_cap", {"recently_contacted": frozenset({"a"})}),
]
PERSON = {"deceased", "marital_status", "marketing_opt_in"}
CHOICES = {"unsubscribed", "unsubscribed_inboxes", "opted_out", "paused"}


def _decide_with(active: dict) -> str:
    person = {k: v for k, v in active.items() if k in PERSON}
    view = PolicyView(**{k: v for k, v in active.items() if k in CHOICES})
    policy = Policy(preferences=view, **{k: v for k, v in active.items()
                                         if k not in PERSON | CHOICES | {"stale"}})
    got = decide(one(stale=active.get("stale", False)), people(**person), policy, as_of=DAY)
    assert list(got["decision"]) == (["send"] if got["reason"][0] == "" else ["skip"])
    return got["reason"][0]


@pytest.mark.parametrize("step", range(len(LADDER) + 1))
def test_each_rule_wins_over_every_rule_after_it(step):
    # Every rule from `step` on matches at once: the earliest of them is the reason.
    active = {k: v for _, change in LADDER[step:] for k, v in change.items()}
    expected = LADDER[step][0] if step < len(LADDER) else ""
    assert _decide_with(active) == expected


@pytest.mark.parametrize("reason, change", LADDER, ids=[r for r, _ in LADDER])
def test_each_rule_alone(reason, change):
    assert _decide_with(dict(change)) == reason


def test_an_erased_address_is_recognised_in_any_case_and_a_missing_address_is_not_erased():
    policy = Policy(erased=frozenset({keyed_hash(KEY, "email", "a@example.com")}), erased_key=KEY)
    snap = pd.DataFrame([
        {"customer_id": "a", "email": "A@Example.com", "marketing_opt_in": True, "deceased": False},
        {"customer_id": "b", "email": "b@example.com", "marketing_opt_in": True, "deceased": False},
        {"customer_id": "c", "email": None, "marketing_opt_in": True, "deceased": False},
    ])
    ev = pd.DataFrame({"customer_id": ["a", "b", "c"], "event_type": "birthday", "event_date": pd.Timestamp(DAY),
                       "key": ["ka", "kb", "kc"]})
    got = decide(ev, snap, policy)
    assert list(got["reason"]) == ["erased", "", ""]


def test_opting_out_of_one_type_stops_only_that_type_for_only_that_customer():
    view = PolicyView(opted_out={"a": frozenset({"birthday"}), "b": frozenset({"wedding_anniversary"})})
    snap = pd.concat([people(), people(customer_id="b", email="b@example.com")], ignore_index=True)
    ev = pd.DataFrame({"customer_id": ["a", "a", "b"], "event_type": ["birthday", "customer_anniversary", "birthday"],
                       "event_date": [pd.Timestamp(DAY), pd.Timestamp(DAY + dt.timedelta(days=1)), pd.Timestamp(DAY)],
                       "key": ["a-b", "a-c", "b-b"]})
    # a's birthday is stopped; a's customer anniversary is then the one email; b is not opted out of birthdays.
    got = decide(ev, snap, Policy(preferences=view))
    assert dict(zip(got["key"], got["reason"], strict=True)) == {"a-b": "opted_out_of_type", "a-c": "", "b-b": ""}


def test_an_unsubscribed_inbox_stops_every_record_on_it_whatever_its_case():
    view = PolicyView(unsubscribed_inboxes=frozenset({"shared@example.com"}))
    snap = pd.concat([people(email="Shared@Example.com"), people(customer_id="b", email="b@example.com")],
                     ignore_index=True)
    ev = pd.DataFrame({"customer_id": ["a", "b"], "event_type": "birthday", "event_date": pd.Timestamp(DAY),
                       "key": ["ka", "kb"]})
    got = decide(ev, snap, Policy(preferences=view))
    assert list(got["reason"]) == ["unsubscribed_address", ""]


def test_quiet_days_need_the_run_date():
    policy = Policy(quiet_dates=frozenset({DAY}))
    assert list(decide(one(), people(), policy)["reason"]) == [""]  # no as_of: no quiet day
    assert list(decide(one(), people(), policy, as_of=DAY)["reason"]) == ["quiet_day"]


def test_events_without_a_stale_column_are_not_stale():
    ev = one().drop(columns=["stale"])
    got = decide(ev, people())
    assert list(got["reason"]) == [""]
    assert "stale" not in got.columns


def test_the_output_is_the_events_with_the_decision_columns_and_no_personal_columns():
    snap = people(wedding_date=pd.Timestamp("2001-11-22"))
    got = decide(one(), snap)
    assert list(got.columns) == ["customer_id", "event_type", "event_date", "key", "stale",
                                 "decision", "reason", "partner_id", "shared_key"]
    assert str(got["partner_id"].dtype) == "string" and str(got["shared_key"].dtype) == "string"
    assert got["partner_id"].isna().all() and got["shared_key"].isna().all()


def test_a_couple_on_one_inbox_gets_one_email_from_the_smaller_id():
    wed = pd.Timestamp("2001-11-22")
    snap = pd.DataFrame([
        {"customer_id": "h2", "email": "home@example.com", "marketing_opt_in": True, "deceased": False,
         "marital_status": "married", "wedding_date": wed},
        {"customer_id": "h1", "email": "Home@example.com", "marketing_opt_in": True, "deceased": False,
         "marital_status": "married", "wedding_date": wed},
    ])
    ev = pd.DataFrame({"customer_id": ["h2", "h1"], "event_type": "wedding_anniversary",
                       "event_date": pd.Timestamp(DAY), "key": ["k2", "k1"]})
    got = decide(ev, snap).set_index("key")
    assert got.loc["k1", "decision"] == "send" and got.loc["k1", "partner_id"] == "h2"
    assert got.loc["k2", "reason"] == "couple_shared_email" and got.loc["k2", "shared_key"] == "k1"


def test_without_wedding_dates_one_inbox_still_gets_one_email_by_priority():
    snap = pd.DataFrame([
        {"customer_id": "p", "email": "home@example.com", "marketing_opt_in": True, "deceased": False},
        {"customer_id": "q", "email": "home@example.com", "marketing_opt_in": True, "deceased": False},
    ])
    ev = pd.DataFrame({"customer_id": ["p", "q"], "event_type": ["birthday", "retirement"],
                       "event_date": pd.Timestamp(DAY), "key": ["kp", "kq"]})
    got = decide(ev, snap).set_index("key")
    assert got.loc["kq", "reason"] == "" and got.loc["kp", "reason"] == "same_inbox_same_day"
    assert got.loc["kp", "shared_key"] == "kq" and pd.isna(got.loc["kq", "partner_id"])


def test_an_unknown_type_ranks_after_every_listed_one_and_ties_go_to_the_earlier_day():
    snap = people()
    ev = pd.DataFrame({"customer_id": "a", "event_type": ["name_day", "customer_anniversary", "name_day"],
                       "event_date": [pd.Timestamp(DAY), pd.Timestamp(DAY), pd.Timestamp(DAY - dt.timedelta(days=1))],
                       "key": ["n1", "ca", "n0"]})
    got = decide(ev, snap)
    assert dict(zip(got["key"], got["reason"], strict=True)) == {
        "n1": "lower_priority_same_day", "ca": "", "n0": "lower_priority_same_day"}
    only_unknown = decide(ev[ev["event_type"] == "name_day"], snap)
    assert dict(zip(only_unknown["key"], only_unknown["reason"], strict=True)) == {
        "n1": "lower_priority_same_day", "n0": ""}


def test_holdout_share_edges():
    ids = [f"C{i}" for i in range(200)]
    assert not any(in_holdout(c, 0.0, "s") for c in ids)
    assert not any(in_holdout(c, -0.5, "s") for c in ids)
    assert all(in_holdout(c, 1.0, "s") for c in ids)
    # Another salt is another draw.
    assert [in_holdout(c, 0.5, "s") for c in ids] != [in_holdout(c, 0.5, "t") for c in ids]


def test_flags_held_as_plain_python_objects_decide_the_same():
    # A frame built by hand (or read without types) holds True/None as objects, not booleans.
    snap = pd.DataFrame({"customer_id": ["a", "b", "c"], "email": ["a@example.com", "b@example.com", "c@example.com"],
                         "marketing_opt_in": pd.Series([True, True, None], dtype=object),
                         "deceased": pd.Series([True, None, None], dtype=object)})
    ev = pd.DataFrame({"customer_id": ["a", "b", "c"], "event_type": "birthday", "event_date": pd.Timestamp(DAY),
                       "key": ["ka", "kb", "kc"], "stale": pd.Series([None, None, True], dtype=object)})
    assert list(decide(ev, snap)["reason"]) == ["deceased", "", "no_opt_in"]


def test_the_rules_passed_are_the_rules_applied():
    # The shipped rules send a divorced customer's birthday; rules that say "never for a
    # divorced customer" stop it: decide() applies the rules it is given, not the shipped ones.
    import dataclasses

    from milestones.detect.events import load_rules

    shipped = load_rules()
    stricter = tuple(dataclasses.replace(r, never_when=(("marital_status", ("divorced",)),))
                     if r.event_type == "birthday" else r for r in shipped)
    person = people(marital_status="divorced")
    birthday = one(event_type="birthday")
    assert list(decide(birthday, person, rules=shipped)["reason"]) == [""]
    assert list(decide(birthday, person, rules=stricter)["reason"]) == ["sensitive: marital_status divorced"]
