"""The catalog: content hashes, approvals, and the render stage's approval gate."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest

from milestones import pipeline
from milestones.core import storage
from milestones.render.catalog import CatalogError, approval_gate, content_hash, load_catalog

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
EVENT_TYPES = {"birthday", "retirement", "marriage", "wedding_anniversary", "graduation", "new_child",
               "customer_anniversary"}


def test_shipped_catalog_lists_every_event_type_and_every_template_is_approved():
    catalog = load_catalog(TEMPLATES)
    assert {e.event_type for e in catalog.templates.values()} == EVENT_TYPES
    for name, entry in catalog.templates.items():
        status = catalog.status(name)
        assert status.approved, status.message()
        assert entry.owner and set(entry.locales) == {"en", "fi", "et", "zh"}
        assert entry.approved.by and dt.datetime.fromisoformat(entry.approved.at.replace("Z", "+00:00"))
    assert catalog.assets_url.startswith("https://")


def test_hash_changes_with_any_customer_visible_file(own_templates):
    before = content_hash(own_templates, "birthday")
    other = content_hash(own_templates, "retirement")
    fi = own_templates / "birthday" / "fi.txt"
    fi.write_text(fi.read_text(encoding="utf-8").replace("Hei", "Moi"), encoding="utf-8")
    after_locale_edit = content_hash(own_templates, "birthday")
    assert after_locale_edit != before and content_hash(own_templates, "retirement") == other
    layout = own_templates / "layouts" / "base.html"
    layout.write_text(layout.read_text(encoding="utf-8").replace("#2f5d62", "#2f5d63"), encoding="utf-8")
    assert content_hash(own_templates, "retirement") != other  # the shared layout belongs to every template
    # Line endings do not matter (a Windows checkout hashes the same).
    lf = content_hash(own_templates, "birthday")
    fi.write_bytes(fi.read_bytes().replace(b"\n", b"\r\n"))
    assert content_hash(own_templates, "birthday") == lf


def test_edit_unapproves_and_approve_records_hash_person_and_time(own_templates):
    catalog = load_catalog(own_templates)
    path = own_templates / "graduation" / "et.html"
    path.write_text(path.read_text(encoding="utf-8").replace("Palju õnne", "Õnnitleme"), encoding="utf-8")
    status = catalog.status("graduation")
    assert not status.approved
    assert "changed since" in status.message() and "milestones approve graduation --by" in status.message()
    when = dt.datetime(2026, 11, 22, 12, 30, tzinfo=dt.UTC)
    catalog.approve("graduation", "Kadri Kask", at=when)
    reloaded = load_catalog(own_templates)
    assert reloaded.status("graduation").approved
    assert (reloaded.templates["graduation"].approved.by, reloaded.templates["graduation"].approved.at) == (
        "Kadri Kask", "2026-11-22T12:30:00Z")
    assert reloaded.templates["graduation"].approved.hash == content_hash(own_templates, "graduation")
    with pytest.raises(CatalogError, match="no template 'promo'"):
        reloaded.approve("promo", "X")
    with pytest.raises(CatalogError, match="--by"):
        reloaded.approve("graduation", "  ")


def test_malformed_catalog_is_a_clear_error(own_templates):
    (own_templates / "catalog.yaml").write_text("templates:\n  birthday: {event_type: birthday}\n", encoding="utf-8")
    with pytest.raises(CatalogError, match="birthday' lacks locales, owner"):
        load_catalog(own_templates)
    (own_templates / "catalog.yaml").unlink()
    gate = approval_gate(own_templates)
    assert "template catalog not found" in gate("birthday")


def _stage_inputs(settings, day: dt.date) -> Path:
    """A snapshot and decisions for three customers, as the earlier stages write them."""
    people = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "first_name": ["Aino", "Tõnu", "Emma", "Sven"],
        "last_name": ["Virtanen", "Mägi", "Brown", "Berg"],
        "email": ["a@example.com", "t@example.com", "e@example.com", "s@example.com"],
        "locale": ["fi-FI", "et", "en-GB", "sv-SE"],
        "timezone": ["Europe/Helsinki", "Europe/Tallinn", "Europe/London", "Europe/Stockholm"],
        "customer_since": ["2016-11-22"] * 4,
    })
    snapshot = storage.stage_dir(settings.data_dir, "snapshots", day) / "snapshot.parquet"
    storage.write_parquet(people, snapshot)
    decisions = pd.DataFrame({
        "customer_id": ["C1", "C2", "C3", "C4"],
        "event_type": ["birthday", "graduation", "birthday", "retirement"],
        "event_date": [pd.Timestamp(day)] * 4,
        "years": [50, 0, 37, 0], "milestone": [50, 0, 0, 0],
        "key": ["k1", "k2", "k3", "k4"], "decision": ["send"] * 4, "reason": [""] * 4,
    })
    storage.write_parquet(decisions, storage.stage_dir(settings.data_dir, "decisions", day) / "decisions.parquet")
    return snapshot


def test_unapproved_template_holds_back_its_event_type_only(settings, own_templates):
    day = dt.date(2026, 11, 22)
    settings = settings.replace(templates_dir=own_templates)
    snapshot = _stage_inputs(settings, day)
    path = own_templates / "birthday" / "en.subject.txt"
    path.write_text("Big news, {{ name }}!\n", encoding="utf-8")
    rendered = pipeline.render_stage(day, settings, snapshot=snapshot)
    messages = storage.read_parquet(Path(rendered["messages"]))
    assert sorted(messages["key"]) == ["k2", "k4"]
    assert rendered["not_approved"]["birthday"]["emails"] == 2
    assert "template 'birthday' changed since" in rendered["not_approved"]["birthday"]["reason"]
    assert rendered["missing_translations"] == {"retirement: sv-SE -> en": 1}
    summary = pipeline.summarise(day, {"rows": 4, "valid": 4, "quarantined": 0}, {"by_type": {}},
                                 {"skipped": {}}, rendered, {"transport": "outbox", "sent": 2}, settings)
    assert summary["skipped"] == {"template_not_approved": 2}
    assert "milestones approve birthday --by" in summary["templates_not_approved"]["birthday"]
    assert summary["missing_translations"] == {"retirement: sv-SE -> en": 1}
    record = json.loads(pipeline.run_record_path(settings, day).read_text(encoding="utf-8"))
    assert record["templates_not_approved"] == summary["templates_not_approved"]

    load_catalog(own_templates).approve("birthday", "Mari Tamm")
    again = pipeline.render_stage(day, settings, snapshot=snapshot)
    assert again["rendered"] == 4 and again["not_approved"] == {}


def test_render_failure_reason_reaches_the_run_summary(settings, own_templates):
    day = dt.date(2026, 11, 22)
    settings = settings.replace(templates_dir=own_templates)
    snapshot = _stage_inputs(settings, day)
    path = own_templates / "graduation" / "et.txt"
    path.write_text(path.read_text(encoding="utf-8") + "{{ customer.nickname }}\n", encoding="utf-8")
    load_catalog(own_templates).approve("graduation", "Kadri Kask")
    rendered = pipeline.render_stage(day, settings, snapshot=snapshot)
    assert rendered["rendered"] == 3
    assert [f["key"] for f in rendered["render_failed"]] == ["k2"]
    summary = pipeline.summarise(day, {"rows": 4, "valid": 4, "quarantined": 0}, {"by_type": {}},
                                 {"skipped": {}}, rendered, {"transport": "outbox"}, settings)
    assert summary["skipped"] == {"render_error": 1}
    (reason,) = summary["render_errors"]
    assert "graduation/et: undefined variable" in reason and "nickname" in reason


def test_cli_approve_records_the_approval(own_templates, monkeypatch, capsys):
    from milestones.cli import main

    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(own_templates))
    path = own_templates / "marriage" / "zh.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert not load_catalog(own_templates).status("marriage").approved
    assert main(["approve", "marriage", "--by", "Li Wei"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["marriage"]["by"] == "Li Wei" and out["marriage"]["hash"] == content_hash(own_templates, "marriage")
    assert load_catalog(own_templates).status("marriage").approved
    assert main(["approve", "nope", "--by", "Li Wei"]) == 2
    assert "no template 'nope'" in capsys.readouterr().err
