"""Erasure's parts: what names a customer, each kind of file, the history's erasure path, and a
crash half-way that the next run completes."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from milestones.core import storage
from milestones.core.config import load_settings
from milestones.decide.preferences import Change, Preferences
from milestones.privacy import erase, registry
from milestones.privacy.scrub import Subjects, scrub_file

DAY = "2026-11-22"


def test_ids_match_whole_words_and_addresses_any_case():
    s = Subjects({"C1"}, {"Aino@Example.com"})
    assert s.names_in("id C1, ok") and s.names_in('"C1"') and s.names_in("to AINO@example.COM")
    assert not s.names_in("C10 and XC1 and C1-2 and c1") and not s.names_in("aino@example.co")
    assert s.redact("C1 wrote from aino@example.com; C10 did not") == "[erased] wrote from [erased]; C10 did not"


@pytest.fixture
def settings(tmp_path):
    return load_settings(data_dir=tmp_path / "data", holdout_share=0.0)


def _files(settings):
    root = settings.data_dir
    snap = pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["Aino@example.com", "b@example.com"],
                         "first_name": ["Aino", "Bea"]})
    storage.write_parquet(snap, storage.snapshot_path(root, DAY))
    decisions = pd.DataFrame({"customer_id": ["C1", "C2"], "key": ["k1", "k2"], "decision": ["send", "skip"],
                              "reason": ["", "holdout"]})
    storage.write_parquet(decisions, storage.stage_dir(root, "decisions", DAY) / "decisions.parquet")
    storage.write_json({"render_failed": [{"customer_id": "C1", "reason": "x"}], "emails_sent": 1},
                       root / "runs" / f"{DAY}.json")
    (root / "exports").mkdir(parents=True)
    (root / "exports" / "prefs.csv").write_text("customer_id,email\nC1,aino@example.com\nC2,b@example.com\n")
    (root / "outbox").mkdir()
    (root / "outbox" / "k1.eml").write_text("To: Aino <aino@example.com>\n\nHello Aino")
    (root / "outbox" / "k2.eml").write_text("To: Bea <b@example.com>\n\nHello Bea")
    (root / "docs").mkdir()
    (root / "docs" / "page.html").write_text("<td>Aino@Example.com</td><td>C1</td><td>C12</td>")


def test_each_kind_of_file(settings):
    _files(settings)
    s = Subjects({"C1"}, {"aino@example.com"}, {"C1": "erased-abc"})
    root = settings.data_dir
    done = {name: scrub_file(name, root / name, s) for name in (
        f"snapshots/{DAY}/snapshot.parquet", f"decisions/{DAY}/decisions.parquet", f"runs/{DAY}.json",
        "exports/prefs.csv", "outbox/k1.eml", "outbox/k2.eml", "docs/page.html")}
    assert done == {f"snapshots/{DAY}/snapshot.parquet": "rows", f"decisions/{DAY}/decisions.parquet": "pseudonymised",
                    f"runs/{DAY}.json": "redacted", "exports/prefs.csv": "rows", "outbox/k1.eml": "deleted",
                    "outbox/k2.eml": None, "docs/page.html": "redacted"}
    assert storage.read_parquet(storage.snapshot_path(root, DAY))["customer_id"].tolist() == ["C2"]
    kept = storage.read_parquet(root / "decisions" / DAY / "decisions.parquet")
    assert kept.to_dict("records") == [
        {"customer_id": "erased-abc", "key": "k1", "decision": "send", "reason": ""},
        {"customer_id": "C2", "key": "k2", "decision": "skip", "reason": "holdout"}]
    assert json.loads((root / "runs" / f"{DAY}.json").read_text()) == {
        "render_failed": [{"customer_id": "[erased]", "reason": "x"}], "emails_sent": 1}
    assert (root / "exports" / "prefs.csv").read_text() == "customer_id,email\nC2,b@example.com\n"
    assert not (root / "outbox" / "k1.eml").exists() and (root / "outbox" / "k2.eml").exists()
    assert (root / "docs" / "page.html").read_text() == "<td>[erased]</td><td>[erased]</td><td>C12</td>"
    assert scrub_file(f"snapshots/{DAY}/snapshot.parquet", storage.snapshot_path(root, DAY), s) is None  # again: nothing


def test_the_history_stays_append_only_but_for_a_recorded_erasure(settings):
    store = Preferences(settings.ledger_database_url)
    store.apply("C1", Change(unsubscribed=True), "one_click", email="aino@example.com")
    store.apply("C2", Change(language="fi"), "page", email="b@example.com")
    for statement in ("UPDATE preference_history SET new = 'x'", "DELETE FROM preference_history"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    erase.erase(settings, ["C1"], operator="dpo")
    assert store.history("C1") == [] and len(store.history("C2")) == 1 and not store.get("C1").exists
    with store.engine.connect() as conn:
        tombstones = conn.execute(sa.text("SELECT * FROM preference_erasures")).mappings().all()
        assert [t["rows"] for t in tombstones] == [1] and set(tombstones[0]) == {"id", "at", "rows"}
        assert conn.execute(sa.text("SELECT count(*) FROM preference_erasure_permits")).scalar() == 0
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM preference_history"))


def test_an_older_history_trigger_gets_the_erasure_path(settings):
    store = Preferences(settings.ledger_database_url)
    store.apply("C1", Change(unsubscribed=True), "one_click")
    with store.engine.begin() as conn:  # the trigger as an earlier version made it
        conn.exec_driver_sql("DROP TRIGGER preference_history_no_delete")
        conn.exec_driver_sql("CREATE TRIGGER preference_history_no_delete BEFORE DELETE ON preference_history "
                             "BEGIN SELECT RAISE(ABORT, 'preference_history is append-only'); END")
    erase.erase(settings, ["C1"], operator="dpo")
    assert store.history("C1") == []


def test_a_crash_half_way_is_completed_by_the_next_run(settings, monkeypatch):
    _files(settings)
    calls = {"n": 0}
    real = erase.scrub_file

    def crashing(name, path, subjects):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("killed")
        return real(name, path, subjects)

    monkeypatch.setattr(erase, "scrub_file", crashing)
    with pytest.raises(KeyboardInterrupt):
        erase.erase(settings, ["C1"], operator="dpo")
    engine = registry.engine_for(settings.ledger_database_url)
    assert registry.erased_hashes(engine)  # the policy already skips them
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(registry.erasure_journal)).scalar() == 1
    assert registry.history(engine) == []
    monkeypatch.setattr(erase, "scrub_file", real)
    done = erase.resume(settings)
    assert [d["customers"] for d in done] == [1]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(registry.erasure_journal)).scalar() == 0
    for path in settings.data_dir.rglob("*"):
        if path.is_file() and "secrets" not in path.parts and "ledger" not in path.name:
            text = path.read_bytes().decode("utf-8", "ignore").lower()
            assert "aino" not in text, path
    assert [e["operator"] for e in registry.history(engine)] == ["dpo"]


def test_request_files_name_the_line_of_a_problem(tmp_path):
    from milestones.ingest.errors import ExtractError

    good = tmp_path / "erasure_requests_2026-11-22.csv"
    good.write_text("\ufeffcustomer_id,received\nC1,2026-11-20\nC2,2026-11-21\n")
    assert erase.read_requests(good) == ["C1", "C2"]
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id\nC1\n\n\"\"\n")
    with pytest.raises(ExtractError, match="line 4: customer_id: missing") as info:
        erase.read_requests(bad)
    assert "C1" not in str(info.value)
    (tmp_path / "none.csv").write_text("id\nC1\n")
    with pytest.raises(ExtractError, match="missing required column.*customer_id"):
        erase.read_requests(tmp_path / "none.csv")
    # the gate's own rules: a formula or a line break in an id refuses the whole file
    (tmp_path / "hostile.csv").write_text('customer_id\nC1\n=HYPERLINK("x")\n"C2\r\nC3"\n')
    with pytest.raises(ExtractError, match=r"2 bad row\(s\), nothing applied: line 3: customer_id: starts like"):
        erase.read_requests(tmp_path / "hostile.csv")


def test_later_decisions_skip_erased_ids_and_addresses(settings):
    from milestones import pipeline

    erase.erase(settings, ["C1"], operator="dpo")
    snapshot = pd.DataFrame({"customer_id": ["C1", "C9", "C2"],
                             "email": ["x@example.com", "Aino@Example.com", "b@example.com"],
                             "marketing_opt_in": True, "deceased": False})
    # C9: another CRM record on the erased customer's address (known from their earlier snapshot)
    root = settings.data_dir
    storage.write_parquet(pd.DataFrame({"customer_id": ["C1"], "email": ["aino@example.com"]}),
                          storage.snapshot_path(root, "2026-11-20"))
    erase.erase(settings, ["C1"], operator="dpo")
    snap = storage.write_parquet(snapshot, storage.snapshot_path(root, "2026-11-23"))
    events = pd.DataFrame({"customer_id": ["C1", "C9", "C2"], "event_type": "birthday",
                           "event_date": pd.Timestamp("2026-11-23"), "key": ["a", "b", "c"], "stale": False})
    storage.write_parquet(events, storage.stage_dir(root, "events", "2026-11-23") / "events.parquet")
    decided = storage.read_parquet(pipeline.decide_stage(dt.date(2026, 11, 23), settings, snapshot=snap)["decisions"])
    assert dict(zip(decided["customer_id"], decided["reason"], strict=True)) == {"C1": "erased", "C9": "erased", "C2": ""}


def test_what_arrives_after_an_erasure_stores_nothing_personal(settings):
    from milestones.measure.feedback import Feedback, rejected_events, suppressions, webhook_events

    storage.write_parquet(pd.DataFrame({"customer_id": ["C1"], "email": ["aino@example.com"]}),
                          storage.snapshot_path(settings.data_dir, DAY))
    erase.erase(settings, ["C1"], operator="dpo")
    url = settings.ledger_database_url
    counts = Feedback(url).ingest([
        {"event": "open", "email": "Aino@example.com", "customer_id": "C1", "key": "k1", "sg_event_id": "o1",
         "ip": "192.0.2.7", "useragent": "Aino's phone", "timestamp": 1795000000},
        {"event": "bounce", "email": "aino@example.com", "sg_event_id": "b1", "reason": "aino@example.com unknown"},
        {"event": "unsubscribe", "email": "aino@example.com", "customer_id": "C1", "sg_event_id": "u1"},
        {"event": "open", "email": "aino@example.com", "timestamp": "yesterday"},
        {"event": "open", "email": "b@example.com", "customer_id": "C2", "sg_event_id": "o2"},
    ])
    assert counts["stored"] == 4 and counts["rejected"] == 1 and not counts["suppressed"]
    store = Preferences(url)
    assert store.apply("C1", Change(unsubscribed=True), "page", email="aino@example.com") == []
    assert not store.get("C1").exists and store.history("C1") == []
    with store.engine.connect() as conn:
        rows = {r.dedupe_key: r for r in conn.execute(sa.select(webhook_events))}
        rejected = conn.execute(sa.select(rejected_events.c.payload)).scalars().all()
        assert conn.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar() == 0
    assert rows["sg:o2"].email == "b@example.com" and rows["sg:o2"].customer_id == "C2"
    for key in ("sg:o1", "sg:b1", "sg:u1"):
        text = " ".join(str(v) for v in rows[key]).lower()
        assert "aino" not in text and "192.0.2.7" not in text and "c1 " not in text + " ", (key, text)
    assert rows["sg:o1"].customer_id.startswith("erased-") and json.loads(rows["sg:o1"].payload) == {
        "event": "open", "key": "k1", "sg_event_id": "o1", "timestamp": 1795000000}
    assert rejected == ['"[erased]"']
