"""The contact policy as the pipeline applies it: settings and the ledger, through decide_stage.

Every documented window and threshold is tried on both sides of its boundary:
the frequency cap (from the ledger's sends, by ``pipeline.policy_for``), quiet days,
priority, stale events and the circuit breaker.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter

import pandas as pd
import pytest

from milestones import pipeline
from milestones.core import storage
from milestones.core.config import Settings, load_settings
from milestones.decide.policy import DEFAULT_PRIORITY
from milestones.deliver.ledger import Ledger
from milestones.detect.events import detect_events

DAY = dt.date(2026, 11, 22)


def test_documented_defaults():
    s = Settings()
    assert s.frequency_cap_days == 30
    assert tuple(s.priority.split(",")) == DEFAULT_PRIORITY == (
        "retirement", "marriage", "new_child", "graduation", "birthday", "wedding_anniversary",
        "customer_anniversary")
    assert (s.breaker_multiple, s.breaker_min_history, s.breaker_min_sends) == (3.0, 3, 50)
    assert s.quiet_dates == "" and s.holdout_share == 0.05 and s.holdout_salt == "milestones-holdout-v1"


def _decide(settings, events: list[tuple[str, str]], *, day: dt.date = DAY, stale=()) -> dict[str, str]:
    """Run the policy stage on ``events`` (customer, type) of ``day``; {customer/type: reason}."""
    ids = sorted({c for c, _ in events})
    snapshot = pd.DataFrame({"customer_id": ids, "email": [f"{c}@example.com" for c in ids],
                             "marketing_opt_in": True, "deceased": False})
    snap_path = storage.write_parquet(snapshot, storage.stage_dir(settings.data_dir, "snapshots", day)
                                      / "snapshot.parquet")
    frame = pd.DataFrame({
        "customer_id": [c for c, _ in events], "event_type": [t for _, t in events],
        "event_date": pd.Timestamp(day), "key": [f"{c}/{t}/{day}" for c, t in events],
        "stale": [(c, t) in stale for c, t in events],
    })
    storage.write_parquet(frame, storage.stage_dir(settings.data_dir, "events", day) / "events.parquet")
    result = pipeline.decide_stage(day, settings, snapshot=snap_path)
    decided = storage.read_parquet(result["decisions"])
    return {f"{c}/{t}": r for c, t, r in zip(decided["customer_id"], decided["event_type"], decided["reason"],
                                             strict=True)}


def _sent(settings, rows: list[tuple[str, str, str]]) -> None:
    """Ledger rows (customer, event_date, state) of earlier emails."""
    ledger = Ledger(settings.ledger_database_url)
    ledger.register([{"key": f"{c}/old/{d}/{s}", "customer_id": c, "event_type": "birthday", "event_date": d,
                      "template_version": "v1", "transport": "outbox"} for c, d, s in rows])
    for c, d, s in rows:
        if s != "pending":
            ledger.claim(f"{c}/old/{d}/{s}")
            if s != "sending":
                ledger.finish(f"{c}/old/{d}/{s}", s)


@pytest.fixture
def quiet_settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data", holdout_share=0.0)


def test_frequency_cap_comes_from_the_ledger_over_the_last_30_days(quiet_settings):
    cap_edge = str(DAY - dt.timedelta(days=29))   # the oldest day still inside the 30-day window
    outside = str(DAY - dt.timedelta(days=30))
    _sent(quiet_settings, [
        ("in_window", cap_edge, "accepted"),
        ("outside", outside, "accepted"),
        ("yesterday", str(DAY - dt.timedelta(days=1)), "accepted"),
        ("maybe_sent", str(DAY - dt.timedelta(days=3)), "unknown"),   # may have gone out: counts
        ("in_flight", str(DAY - dt.timedelta(days=3)), "sending"),
        ("refused", str(DAY - dt.timedelta(days=3)), "failed"),       # never reached them
        ("queued", str(DAY - dt.timedelta(days=3)), "pending"),
    ])
    customers = ["in_window", "outside", "yesterday", "maybe_sent", "in_flight", "refused", "queued", "new"]
    got = _decide(quiet_settings, [(c, "birthday") for c in customers])
    capped = {k.split("/")[0] for k, r in got.items() if r == "frequency_cap"}
    assert capped == {"in_window", "yesterday", "maybe_sent", "in_flight"}
    assert {k.split("/")[0] for k, r in got.items() if r == ""} == {"outside", "refused", "queued", "new"}


def test_frequency_cap_days_setting_moves_the_window(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.0, frequency_cap_days=7)
    _sent(settings, [("six_days", str(DAY - dt.timedelta(days=6)), "accepted"),
                     ("seven_days", str(DAY - dt.timedelta(days=7)), "accepted")])
    got = _decide(settings, [("six_days", "birthday"), ("seven_days", "birthday")])
    assert got == {"six_days/birthday": "frequency_cap", "seven_days/birthday": ""}


def test_a_rerun_is_not_capped_by_its_own_sends(quiet_settings):
    first = _decide(quiet_settings, [("a", "birthday")])
    assert first == {"a/birthday": ""}
    ledger = Ledger(quiet_settings.ledger_database_url)
    ledger.register([{"key": f"a/birthday/{DAY}", "customer_id": "a", "event_type": "birthday",
                      "event_date": str(DAY), "template_version": "v1", "transport": "outbox"}])
    ledger.claim(f"a/birthday/{DAY}")
    ledger.finish(f"a/birthday/{DAY}", "accepted")
    assert _decide(quiet_settings, [("a", "birthday")]) == {"a/birthday": ""}


def test_quiet_dates_setting(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.0,
                             quiet_dates=f"2026-12-24, {DAY}")
    assert set(_decide(settings, [("a", "birthday"), ("b", "retirement")]).values()) == {"quiet_day"}
    assert set(_decide(settings, [("a", "birthday")], day=DAY + dt.timedelta(days=1)).values()) == {""}
    assert set(_decide(settings, [("a", "birthday")], day=DAY - dt.timedelta(days=1)).values()) == {""}


def test_priority_default_and_setting(quiet_settings, tmp_path):
    together = [("a", t) for t in DEFAULT_PRIORITY]
    got = _decide(quiet_settings, together)
    assert [k for k, r in got.items() if r == ""] == ["a/retirement"]
    assert {r for k, r in got.items() if k != "a/retirement"} == {"lower_priority_same_day"}
    # Down the list: without retirement, marriage wins; with only the last two, the wedding.
    assert [k for k, r in _decide(quiet_settings, together[1:]).items() if r == ""] == ["a/marriage"]
    assert [k for k, r in _decide(quiet_settings, together[-2:]).items() if r == ""] == ["a/wedding_anniversary"]
    custom = load_settings(data_dir=tmp_path / "custom", holdout_share=0.0,
                           priority="customer_anniversary, birthday")
    got = _decide(custom, [("a", "birthday"), ("a", "retirement"), ("a", "customer_anniversary"),
                           ("b", "retirement"), ("b", "birthday")])
    assert got == {"a/birthday": "lower_priority_same_day", "a/customer_anniversary": "",
                   "a/retirement": "lower_priority_same_day",  # not listed: after every listed type
                   "b/birthday": "", "b/retirement": "lower_priority_same_day"}


def test_stale_boundary_is_each_types_max_age(quiet_settings):
    # birthday: max_age_days 3; retirement: 14 (rules/events.yaml).
    birth = [(f"b{late}", str(DAY.replace(year=1980) - dt.timedelta(days=late))) for late in (3, 4)]
    retire = [(f"r{late}", str(DAY - dt.timedelta(days=late))) for late in (14, 15)]
    snap = pd.DataFrame({
        "customer_id": [c for c, _ in birth + retire], "timezone": "Europe/Helsinki",
        "date_of_birth": [d for _, d in birth] + [None] * 2,
        "customer_since": "2010-06-01", "wedding_date": None, "graduation_date": None,
        "retirement_date": [None] * 2 + [d for _, d in retire],
    })
    for col in ("date_of_birth", "customer_since", "wedding_date", "graduation_date", "retirement_date"):
        snap[col] = pd.to_datetime(snap[col]).astype("datetime64[s]")
    events = detect_events(snap, as_of=DAY, days=20).set_index("customer_id")
    assert dict(events["stale"]) == {"b3": False, "b4": True, "r14": False, "r15": True}
    stale = {(c, t) for c, t, s in zip(events.index, events["event_type"], events["stale"], strict=True) if s}
    got = _decide(quiet_settings, list(zip(events.index, events["event_type"], strict=True)), stale=stale)
    assert got == {"b3/birthday": "", "b4/birthday": "stale", "r14/retirement": "", "r15/retirement": "stale"}


# --- the circuit breaker ---------------------------------------------------------------------

def _history(settings, counts: list[int], event_type: str = "birthday", *, start: dt.date = DAY) -> None:
    runs = pipeline.run_record_path(settings, start).parent
    runs.mkdir(parents=True, exist_ok=True)
    for back, n in enumerate(reversed(counts), start=1):
        day = start - dt.timedelta(days=back)
        (runs / f"{day}.json").write_text(json.dumps({"sends_by_type": {event_type: n}}))


def _breaker(settings, count: int, event_type: str = "birthday") -> dict:
    return pipeline.circuit_breaker(DAY, settings, Counter({event_type: count}))


@pytest.mark.parametrize("history, count, tripped", [
    ([100, 100, 100], 100, False),     # a usual day passes
    ([90, 100, 130], 120, False),      # day-to-day noise passes
    ([100, 100, 100], 300, False),     # exactly 3 x the median: not above it
    ([100, 100, 100], 301, True),      # above 3 x the median: held
    ([10, 100, 1000], 301, True),      # the median (100), not the mean (370)
    ([10, 100, 1000], 300, False),
    ([100, 100], 5000, False),         # fewer than 3 earlier runs: no judgement yet
    ([1, 1, 1], 50, False),            # 50 sends or fewer are never held
    ([1, 1, 1], 51, True),
    ([0, 0, 0], 51, True),             # a type that never sent before
])
def test_breaker_thresholds(quiet_settings, history, count, tripped):
    _history(quiet_settings, history)
    got = _breaker(quiet_settings, count)
    assert bool(got) is tripped
    if tripped:
        assert got["birthday"]["would_send"] == count and got["birthday"]["multiple"] == 3.0


def test_breaker_median_is_at_least_one(tmp_path):
    # With no minimum of sends, a type whose median is 0 may still send 3 (3 x max(median, 1)).
    settings = load_settings(data_dir=tmp_path / "data", breaker_min_sends=0)
    _history(settings, [0, 0, 0, 0])
    assert not _breaker(settings, 3)
    assert _breaker(settings, 4)["birthday"]["trailing_median"] == 0


def test_breaker_ignores_the_days_own_and_later_records(quiet_settings):
    _history(quiet_settings, [100, 100])
    runs = pipeline.run_record_path(quiet_settings, DAY).parent
    for day in (DAY, DAY + dt.timedelta(days=1)):  # a re-run's own record and later days do not count
        (runs / f"{day}.json").write_text(json.dumps({"sends_by_type": {"birthday": 100}}))
    assert not _breaker(quiet_settings, 1000)
    _history(quiet_settings, [100, 100, 100])  # a third earlier run
    assert _breaker(quiet_settings, 1000)


def test_breaker_holds_the_type_in_the_decisions_until_approved(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.0, breaker_min_sends=2)
    _history(settings, [1, 1, 1])
    _history(settings, [1, 1, 1], event_type="retirement")
    events = [(f"c{i}", "birthday") for i in range(4)] + [("r", "retirement")]
    got = _decide(settings, events)
    assert {k: r for k, r in got.items() if k.endswith("birthday")} == {
        f"c{i}/birthday": "circuit_breaker" for i in range(4)}
    assert got["r/retirement"] == ""  # a normal type on the same day goes out
    pipeline.approval_path(DAY, settings).parent.mkdir(parents=True)
    pipeline.approval_path(DAY, settings).write_text("{}")
    assert set(_decide(settings, events).values()) == {""}


def test_missing_values_decide_nothing_by_accident():
    # A missing flag is not a yes: no opt-in recorded means no email; a missing deceased flag,
    # e-mail or stale mark blocks nothing by itself.
    from milestones.decide.policy import Policy, decide

    snapshot = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d"], "email": ["a@example.org", "b@example.org", None, "d@example.org"],
        "marketing_opt_in": pd.array([True, None, True, True], dtype="boolean"),
        "deceased": pd.array([None, False, False, False], dtype="boolean"),
    })
    events = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "event_type": "birthday",
                           "event_date": pd.Timestamp(DAY), "key": ["ka", "kb", "kc", "kd"],
                           "stale": pd.array([False, False, False, None], dtype="boolean")})
    got = decide(events, snapshot, Policy(suppressed=frozenset({"x@example.org"})), as_of=DAY)
    assert dict(zip(got["customer_id"], got["reason"], strict=True)) == {"a": "", "b": "no_opt_in", "c": "", "d": ""}


def test_send_day_is_the_customers_own_date():
    # Found on the customer's local date: the event's date plus the days it was late.
    assert pipeline.customer_day({"event_date": pd.Timestamp("2026-11-21"), "days_late": 0}, DAY) == dt.date(2026, 11, 21)
    assert pipeline.customer_day({"event_date": "2026-11-20", "days_late": 2}, DAY) == DAY
    assert pipeline.customer_day({"event_date": "2026-11-21"}, DAY) == DAY  # no days_late: the run's date


def test_decide_stage_records_and_counts(tmp_path):
    from milestones.decide.policy import in_holdout
    from milestones.measure.feedback import Feedback

    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.5, holdout_salt="another-salt",
                             breaker_min_sends=2)
    # The address of "sup" unsubscribed through the webhook: the policy reads it from the ledger DB.
    Feedback(settings.ledger_database_url).ingest([{"event": "unsubscribe", "email": "sup@example.com",
                                                    "sg_event_id": "u1"}])
    ids = [f"c{i}" for i in range(12)]
    expected_holdout = {c for c in ids if in_holdout(c, 0.5, "another-salt")}
    assert expected_holdout != {c for c in ids if in_holdout(c, 0.5, "milestones-holdout-v1")}
    got = _decide(settings, [(c, "birthday") for c in ids] + [("sup", "birthday")])
    assert got["sup/birthday"] == "suppressed"
    assert {k.split("/")[0] for k, r in got.items() if r == "holdout"} == expected_holdout
    result = pipeline.decide_stage(DAY, settings, snapshot=storage.stage_dir(settings.data_dir, "snapshots", DAY)
                                   / "snapshot.parquet")
    sent = len(ids) - len(expected_holdout)
    assert result["decisions"] == str(storage.stage_dir(settings.data_dir, "decisions", DAY) / "decisions.parquet")
    assert result["send"] == sent and result["sends_by_type"] == {"birthday": sent}
    assert result["skipped"] == {"holdout": len(expected_holdout), "suppressed": 1}
    assert result["circuit_breaker"] == {} and result["approved"] is False
    decided = storage.read_parquet(result["decisions"])
    assert set(decided.loc[decided["reason"] == "", "decision"]) == {"send"}
    assert set(decided.loc[decided["reason"] != "", "decision"]) == {"skip"}


def test_decide_stage_holds_with_skip_and_reports_why(tmp_path):
    settings = load_settings(data_dir=tmp_path / "data", holdout_share=0.0, breaker_min_sends=2)
    _history(settings, [1, 1])
    runs = pipeline.run_record_path(settings, DAY).parent
    (runs / f"{DAY}.json").write_text(json.dumps({"sends_by_type": {"birthday": 1}}))  # this day's own
    events = [(f"c{i}", "birthday") for i in range(4)]
    assert set(_decide(settings, events).values()) == {""}  # two earlier runs: not judged yet
    _history(settings, [1, 1, 1])
    assert set(_decide(settings, events).values()) == {"circuit_breaker"}
    result = pipeline.decide_stage(DAY, settings, snapshot=storage.stage_dir(settings.data_dir, "snapshots", DAY)
                                   / "snapshot.parquet")
    assert result["send"] == 0 and result["skipped"] == {"circuit_breaker": 4}
    assert result["sends_by_type"] == {"birthday": 4} and result["approved"] is False
    assert result["circuit_breaker"] == {"birthday": {"would_send": 4, "trailing_median": 1, "multiple": 3.0}}
    decided = storage.read_parquet(result["decisions"])
    assert set(decided["decision"]) == {"skip"}
    pipeline.approval_path(DAY, settings).parent.mkdir(parents=True)
    pipeline.approval_path(DAY, settings).write_text("{}")
    approved = pipeline.decide_stage(DAY, settings, snapshot=storage.stage_dir(settings.data_dir, "snapshots", DAY)
                                     / "snapshot.parquet")
    assert approved["approved"] is True and approved["send"] == 4


def test_breaker_judges_every_type_and_reads_old_records(quiet_settings):
    runs = pipeline.run_record_path(quiet_settings, DAY).parent
    runs.mkdir(parents=True)
    for back in (1, 2, 3):
        (runs / f"{DAY - dt.timedelta(days=back)}.json").write_text(json.dumps({"as_of": "older record"}))
    # Records without sends_by_type count as no sends; a quiet type first does not stop the next.
    got = pipeline.circuit_breaker(DAY, quiet_settings, Counter({"retirement": 10, "birthday": 60}))
    assert list(got) == ["birthday"] and got["birthday"]["trailing_median"] == 0


def test_customers_choices_from_the_preference_store_win(quiet_settings):
    """policy_for reads the preference center's store: unsubscribed, opted out of a type, paused."""
    from milestones.decide.preferences import Change, Preferences

    store = Preferences(quiet_settings.ledger_database_url)
    store.apply("u", Change(unsubscribed=True), "page")
    store.apply("o", Change(opted_out=frozenset({"birthday"})), "page")
    store.apply("p", Change(paused_until=DAY + dt.timedelta(days=1)), "page")
    store.apply("q", Change(paused_until=DAY), "page")  # paused until today (exclusive): over
    reasons = _decide(quiet_settings, [("u", "birthday"), ("o", "birthday"), ("o2", "birthday"),
                                       ("p", "birthday"), ("q", "birthday")])
    assert reasons == {"u/birthday": "unsubscribed", "o/birthday": "opted_out_of_type", "o2/birthday": "",
                       "p/birthday": "paused", "q/birthday": ""}


def test_no_privacy_key_is_made_while_nobody_was_erased(quiet_settings, monkeypatch):
    """The pseudonym key exists for erased customers; a day without any does not create one."""
    from pathlib import Path

    from milestones import pipeline

    monkeypatch.delenv("MILESTONES_PRIVACY_KEY", raising=False)
    policy = pipeline.policy_for(DAY, quiet_settings, [])
    assert policy.erased_key == b"" and not policy.erased
    assert not (Path(quiet_settings.data_dir) / "secrets" / "privacy_key").exists()
