"""The right email, or none: hurtful states, evidence for inferred events, plausible ages."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from milestones.decide.policy import decide
from milestones.decide.sensitive import whole_years
from milestones.detect.events import detect_events, load_rules, parse_rules

DAY = dt.date(2026, 11, 22)


def person(cid="a", **values) -> dict:
    row = {"customer_id": cid, "email": f"{cid}@example.com", "marketing_opt_in": True, "deceased": False,
           "timezone": "Europe/London", "date_of_birth": pd.Timestamp("1980-05-05"), "marital_status": None,
           "wedding_date": pd.NaT, "employment_status": None, "retirement_date": pd.NaT,
           "graduation_date": pd.NaT, "children_count": 0, "customer_since": pd.Timestamp("2010-01-01")}
    row.update({k: pd.Timestamp(v) if k.endswith(("_date", "_birth")) and v else v for k, v in values.items()})
    return row


def frame(*rows) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def reasons_for(current: pd.DataFrame, previous: pd.DataFrame | None = None) -> dict[tuple[str, str], str]:
    events = detect_events(current, previous, as_of=DAY)
    decided = decide(events, current)
    return {(c, t): r for c, t, r in zip(decided["customer_id"], decided["event_type"], decided["reason"],
                                         strict=True)}


# --- sensitive states -----------------------------------------------------------------------

@pytest.mark.parametrize("status, reason", [
    ("widowed", "sensitive: marital_status widowed"),
    ("divorced", "sensitive: marital_status divorced"),
    ("married", ""),
    (None, ""),
])
def test_wedding_anniversary_never_to_a_widow_or_divorcee(status, reason):
    snap = frame(person(marital_status=status, wedding_date="2001-11-22"))
    assert reasons_for(snap) == {("a", "wedding_anniversary"): reason}


def test_marriage_greeting_never_to_a_divorcee_whose_wedding_date_appears():
    before = frame(person(marital_status="married"))
    now = frame(person(marital_status="divorced", wedding_date="2026-11-22"))
    assert reasons_for(now, before) == {("a", "marriage"): "sensitive: marital_status divorced"}


def test_sensitive_states_are_data():
    rules = parse_rules({"events": {"birthday": {
        "never_when": {"employment_status": ["unemployed"]},
        "triggers": [{"kind": "annual", "column": "date_of_birth"}]}}})
    snap = frame(person(employment_status="unemployed", date_of_birth="1980-11-22"),
                 person("b", employment_status="employed", date_of_birth="1980-11-22"))
    decided = decide(detect_events(snap, as_of=DAY, rules=rules), snap, rules=rules)
    assert dict(zip(decided["customer_id"], decided["reason"], strict=True)) == {
        "a": "sensitive: employment_status unemployed", "b": ""}


def test_default_rules_name_the_sensitive_states():
    rules = {r.event_type: r for r in load_rules()}
    for name in ("wedding_anniversary", "marriage"):
        assert dict(rules[name].never_when) == {"marital_status": ("widowed", "divorced")}


@pytest.mark.parametrize("spec", [
    {"never_when": {"marital_status": []}},
    {"never_when": ["widowed"]},
    {"age_at_event": {"min": 60, "max": 50}},
    {"age_at_event": {"low": 1}},
])
def test_bad_rule_data_is_refused(spec):
    with pytest.raises(ValueError, match="'x'"):
        parse_rules({"events": {"x": {**spec, "triggers": [{"kind": "annual", "column": "date_of_birth"}]}}})


# --- evidence -------------------------------------------------------------------------------

@pytest.mark.parametrize("now, graduated", [
    ("employed", True), ("unemployed", False), ("retired", False), ("self_employed", False), (None, False)])
def test_graduation_only_from_student_to_employed(now, graduated):
    before = frame(person(employment_status="student", date_of_birth="2002-01-01"))
    after = frame(person(employment_status=now, date_of_birth="2002-01-01"))
    events = detect_events(after, before, as_of=DAY)
    assert ("graduation" in set(events["event_type"])) is graduated


def test_graduation_from_a_recorded_date_still_counts():
    snap = frame(person(employment_status="unemployed", graduation_date="2026-11-22", date_of_birth="2002-01-01"))
    assert reasons_for(snap) == {("a", "graduation"): ""}


def test_inferred_wording_never_claims_today(tmp_path):
    from milestones.render.rendering import Renderer, email_context
    from tests.conftest import ROOT

    renderer = Renderer(ROOT / "templates", "en")
    customer = {"first_name": "Kaisa", "last_name": "", "customer_since": "2010-01-01"}
    for locale in ("en", "fi", "et", "zh"):
        for source, claims in (("change", False), ("graduation_date", True)):
            event = {"event_type": "graduation", "event_date": "2026-11-22", "source": source}
            text = renderer.render("graduation", locale, email_context(
                customer, event, unsubscribe_url="https://u.example/x", locale=locale)).text
            # Neither claims "today" (issue 24): a recorded date is named, an inferred event says
            # what changed in the record (student -> employed) and names no date.
            today = {"en": "graduated today", "fi": "valmistuit tänään", "et": "lõpetasid täna", "zh": "您今天毕业"}
            date = {"en": "November 22, 2026", "fi": "22. marraskuuta 2026", "et": "22. november 2026",
                    "zh": "2026年11月22日"}
            changed = {"en": "from student to employed", "fi": "opiskelijasta työssäkäyväksi",
                       "et": "õppijast töötajaks", "zh": "由学生变更为在职"}
            assert today[locale] not in text, (locale, source)
            assert (date[locale] in text) is claims and (changed[locale] in text) is not claims, (locale, source)


# --- plausible ages -------------------------------------------------------------------------

@pytest.mark.parametrize("born, day, age", [
    ("2000-11-22", "2026-11-22", 26), ("2000-11-23", "2026-11-22", 25), ("2000-11-21", "2026-11-22", 26),
    ("2000-02-29", "2027-02-28", 26), ("2000-02-29", "2027-03-01", 27), ("2000-02-29", "2028-02-29", 28)])
def test_whole_years(born, day, age):
    got = whole_years(np.array([born], dtype="datetime64[D]"), np.array([day], dtype="datetime64[D]"))
    assert got.tolist() == [age]


def _retirement_at(born: str) -> str:
    snap = frame(person(date_of_birth=born, retirement_date="2026-11-22"))
    return reasons_for(snap)[("a", "retirement")]


def test_retirement_age_bounds_inclusive():
    # Defaults 50..80: 50 on the day itself is plausible, a day short of 50 is not.
    assert _retirement_at("1976-11-22") == ""
    assert _retirement_at("1976-11-23") == "implausible_age"
    assert _retirement_at("1945-11-23") == ""  # 80, a day short of 81
    assert _retirement_at("1945-11-22") == "implausible_age"  # 81 today
    assert _retirement_at("2005-03-14") == "implausible_age"


def test_graduation_and_new_child_bounds():
    snap = frame(person(date_of_birth="1945-01-09", graduation_date="2026-11-22"))
    assert reasons_for(snap) == {("a", "graduation"): "implausible_age"}
    before = frame(person(date_of_birth="1954-02-02", children_count=2),
                   person("b", date_of_birth="1990-02-02", children_count=0))
    after = frame(person(date_of_birth="1954-02-02", children_count=3),
                  person("b", date_of_birth="1990-02-02", children_count=1))
    assert reasons_for(after, before) == {("a", "new_child"): "implausible_age", ("b", "new_child"): ""}


def test_no_date_of_birth_is_not_judged():
    snap = frame(person(date_of_birth=None, retirement_date="2026-11-22"))
    assert reasons_for(snap) == {("a", "retirement"): ""}


def test_why_explains_specific_reasons():
    from milestones.cli.ledger import explain

    assert "hurtful" in explain("sensitive: marital_status widowed")
    assert "marital_status widowed" in explain("sensitive: marital_status widowed")
    assert "implausible" in explain("implausible_age")
    assert explain("something: new") == "something: new"
