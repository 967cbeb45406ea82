"""One inbox, one voice: ambiguous ids, addresses compared as inboxes, couples greeted together."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest

from milestones.decide.policy import Policy, PolicyView, decide
from milestones.ingest.identity import ambiguous_ids, id_form, inbox
from milestones.render.names import couple_name

DAY = dt.date(2026, 11, 22)


# --- identity -------------------------------------------------------------------------------

def test_ids_differing_by_case_space_or_unicode_form_are_ambiguous():
    ids = pa.chunked_array([["Y1", "Y1 ", "y1", "\u00a0Y1", "\uff39\uff11", "Y2", "Y2", "Z1", "e\u0301", "\u00e9"]])
    assert sorted(ambiguous_ids(ids).to_pylist()) == sorted(
        ["Y1", "Y1 ", "y1", "\u00a0Y1", "\uff39\uff11", "e\u0301", "\u00e9"])


def test_exact_repeats_alone_are_not_ambiguous():
    assert ambiguous_ids(pa.chunked_array([["A", "A", "B"]])).to_pylist() == []
    assert id_form("\uff39\uff11") == id_form(" y1\u00a0") == "y1"


def test_validation_quarantines_ambiguous_ids(tmp_path):
    from milestones.ingest.sample import write_csv
    from milestones.ingest.validation import validate_extract

    base = {"first_name": "Grace", "email": "g@example.com", "customer_since": "2020-01-01",
            "marketing_opt_in": "true"}
    rows = [{**base, "customer_id": c} for c in ("Y1", "y1", "\uff39\uff11", "Q7")]
    path = write_csv(rows, tmp_path / "customers_2026-11-22.csv")
    result = validate_extract(path, as_of=DAY, max_invalid_share=1.0)
    assert result.reasons == {"customer_id:ambiguous": 3}
    assert list(result.valid["customer_id"]) == ["Q7"]


@pytest.mark.parametrize("a, b", [
    ("Shared@Example.com", "shared@example.com"), (" shared@example.com ", "SHARED@example.com"),
    ("j\u00f6rg@example.com", "jo\u0308rg@example.com"), ("J\u00d6RG@example.com", "j\u00f6rg@example.com")])
def test_inbox_form(a, b):
    assert inbox(a) == inbox(b)


def test_inbox_form_keeps_different_addresses_apart():
    assert inbox("a@example.com") != inbox("b@example.com") and inbox(None) == "" and inbox(float("nan")) == ""


# --- one email per inbox and day --------------------------------------------------------------

def people(*rows) -> pd.DataFrame:
    return pd.DataFrame([{"customer_id": c, "email": e, "marketing_opt_in": True, "deceased": False,
                          "wedding_date": pd.Timestamp(w) if w else pd.NaT} for c, e, w in rows])


def events(*items) -> pd.DataFrame:
    return pd.DataFrame([{"customer_id": c, "event_type": t, "event_date": pd.Timestamp(DAY), "key": f"{c}-{t}",
                          "stale": False, "years": 10, "milestone": 10, "source": "x"} for c, t in items])


def decided(evts, snap, policy=None) -> dict[str, tuple]:
    out = decide(evts, snap, policy)
    return {k: (r, p if isinstance(p, str) else None, s if isinstance(s, str) else None)
            for k, r, p, s in zip(out["key"], out["reason"], out["partner_id"], out["shared_key"], strict=True)}


def test_one_email_per_inbox_and_day_by_priority():
    snap = people(("a", "Shared@Example.com", None), ("b", "shared@example.com ", None), ("c", "c@example.com", None))
    got = decided(events(("a", "birthday"), ("b", "retirement"), ("c", "birthday")), snap)
    assert got == {"b-retirement": ("", None, None), "a-birthday": ("same_inbox_same_day", None, "b-retirement"),
                   "c-birthday": ("", None, None)}


def test_a_skipped_record_does_not_take_the_inbox():
    snap = people(("a", "s@example.com", None), ("b", "S@example.com", None))
    snap.loc[1, "marketing_opt_in"] = False
    got = decided(events(("a", "birthday"), ("b", "retirement")), snap)
    assert got["a-birthday"][0] == "" and got["b-retirement"][0] == "no_opt_in"


def test_an_unsubscribed_address_stops_every_record_carrying_it():
    snap = people(("a", "shared@example.com", None), ("b", "Shared@Example.com", None))
    view = PolicyView(unsubscribed=frozenset({"a"}), unsubscribed_inboxes=frozenset({inbox("shared@example.com")}))
    got = decided(events(("a", "birthday"), ("b", "birthday")), snap, Policy(preferences=view))
    assert got["a-birthday"][0] == "unsubscribed" and got["b-birthday"][0] == "unsubscribed_address"


def test_a_suppressed_address_stops_every_spelling_of_it():
    snap = people(("a", "Shared@Example.COM", None), ("b", "\u00a0shared@example.com", None))
    got = decided(events(("a", "birthday"), ("b", "new_child")), snap, Policy(suppressed=frozenset({"shared@example.com"})))
    assert {r for r, _, _ in got.values()} == {"suppressed"}


def test_preferences_view_carries_the_unsubscribed_inbox(tmp_path):
    from milestones.decide.preferences import Change, Preferences

    prefs = Preferences(f"sqlite:///{tmp_path}/p.db")
    prefs.apply("a", Change(unsubscribed=True), "one_click", email="Shared@Example.com")
    assert prefs.policy_view(DAY).unsubscribed_inboxes == {"shared@example.com"}


# --- couples --------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["wedding_anniversary", "marriage"])
def test_a_couple_gets_one_email_greeting_both(kind):
    snap = people(("m", "Virtaset@example.com", "2016-11-22"), ("a", "virtaset@example.com", "2016-11-22"))
    got = decided(events(("m", kind), ("a", kind)), snap)
    assert got == {f"a-{kind}": ("", "m", None), f"m-{kind}": ("couple_shared_email", None, f"a-{kind}")}


def test_not_a_couple_without_the_same_wedding_date():
    snap = people(("m", "v@example.com", "2016-11-22"), ("a", "v@example.com", "2015-11-22"))
    got = decided(events(("m", "wedding_anniversary"), ("a", "wedding_anniversary")), snap)
    assert got["a-wedding_anniversary"] == ("", None, None)
    assert got["m-wedding_anniversary"][0] == "same_inbox_same_day"


def test_a_widowed_partner_is_never_greeted():
    from milestones.detect.events import detect_events

    base = {"email": "v@example.com", "marketing_opt_in": True, "deceased": False, "timezone": "Europe/London",
            "wedding_date": pd.Timestamp("2016-11-22"), "date_of_birth": pd.Timestamp("1980-01-01"),
            "customer_since": pd.Timestamp("2010-01-01"), "retirement_date": pd.NaT, "graduation_date": pd.NaT,
            "employment_status": None, "children_count": 0}
    snap = pd.DataFrame([{**base, "customer_id": "a", "marital_status": "widowed"},
                         {**base, "customer_id": "m", "marital_status": "married", "deceased": True}])
    out = decide(detect_events(snap, as_of=DAY), snap)
    assert dict(zip(out["customer_id"], out["reason"], strict=True)) == {
        "a": "sensitive: marital_status widowed", "m": "deceased"}


@pytest.mark.parametrize("lang, one, other, expected", [
    ("en", ("Anna", "Virtanen"), ("Mikko", "Virtanen"), "Anna and Mikko"),
    ("fi", ("Anna", "Virtanen"), ("Mikko", "Virtanen"), "Anna ja Mikko"),
    ("et", ("Anna", "Tamm"), ("Mikko", "Tamm"), "Anna ja Mikko"),
    ("zh-CN", ("芳", "王"), ("明", "李"), "王芳和李明"),
    ("en", ("Anna", ""), ("", ""), "Anna"),
])
def test_couple_names(lang, one, other, expected):
    as_dict = [{"first_name": f, "last_name": la} for f, la in (one, other)]
    assert couple_name(*as_dict, lang) == expected


def test_a_couple_email_greets_both():
    from milestones.render.rendering import Renderer, email_context
    from tests.conftest import ROOT

    customer = {"first_name": "Anna", "last_name": "Virtanen", "customer_since": "2010-01-01",
                "partner": {"first_name": "Mikko", "last_name": "Virtanen"}}
    event = {"event_type": "wedding_anniversary", "event_date": "2026-11-22", "years": 10, "milestone": 10}
    r = Renderer(ROOT / "templates", "en").render("wedding_anniversary", "fi", email_context(
        customer, event, unsubscribe_url="https://u.example/x", locale="fi"))
    assert "Anna ja Mikko" in r.subject and "Anna ja Mikko" in r.text


def test_the_ledger_links_both_of_a_couple_to_the_one_email(tmp_path):
    from milestones.deliver.ledger import Ledger

    ledger = Ledger(f"sqlite:///{tmp_path}/l.db")
    row = {"key": "k", "customer_id": "a", "event_type": "wedding_anniversary", "event_date": "2026-11-22",
           "partner_id": "m"}
    assert ledger.register([row]) == 1
    assert ledger.register([row]) == 0  # a re-run links nothing twice
    assert ledger.recipients_of("k") == ["a", "m"]
    assert ledger.contacted_since("2026-11-01") == []  # pending: not contacted yet
    ledger.finish("k", "accepted")
    assert sorted(ledger.contacted_since("2026-11-01")) == [("a", "k"), ("m", "k")]


def test_distinct_and_repeated_values_by_sorting():
    from milestones.ingest.identity import distinct_and_repeated

    ids = pa.chunked_array([["B", None, "a", "A"], [], ["B", "B", "Ä", "c", None, "a"]])
    distinct, repeated = distinct_and_repeated(ids)
    assert sorted(distinct.to_pylist()) == ["A", "B", "a", "c", "Ä"]  # each once, no null
    assert sorted(repeated.to_pylist()) == ["B", "a"]  # three copies named once; nulls are not repeats
    assert [a.to_pylist() for a in distinct_and_repeated(pa.array(["X"], pa.large_string()))] == [["X"], []]
    assert [a.to_pylist() for a in distinct_and_repeated(pa.chunked_array([[None, None]], pa.string()))] == [[], []]
