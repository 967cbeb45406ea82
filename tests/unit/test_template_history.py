"""Named approvers, template history, readable changes, rollback, A/B promotion and retirement."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from milestones.render import changes, history, promotion
from milestones.render.catalog import CatalogError, content_hash, load_catalog
from milestones.render.templatecheck import approve
from tests.staff import staff_app
from tests.unit.test_variants import add_variant

pytestmark = pytest.mark.unit
ORIGIN = {"Origin": "http://testserver"}


@pytest.fixture
def templates(own_templates, monkeypatch, tmp_path):
    import shutil

    # A checkout's own history (gitignored runtime state) is not part of the shipped templates.
    shutil.rmtree(own_templates / "history", ignore_errors=True)
    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(own_templates))
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    return own_templates


def edit_subject(templates, text: str, locale: str = "en", template: str = "graduation") -> None:
    (templates / template / f"{locale}.subject.txt").write_text(text + "\n", encoding="utf-8")


def test_a_viewer_sees_no_button_and_is_refused(templates):
    edit_subject(templates, "Congratulations on your graduation, {{ name }}")
    viewer = TestClient(staff_app("Jaan Viewer", approver=False))
    index = viewer.get("/gallery/").text
    assert "not approved (changed since" in index and "sha256:" not in index and "milestones approve" not in index
    assert 'action="approve"' not in index and "what changed, history" in index
    page = viewer.get("/templates/graduation/").text
    assert "<button" not in page and "approving needs the approver role" in page
    for action in ("approve", "rollback", "promote", "retire"):
        answer = viewer.post(f"/templates/graduation/{action}", data={"variant": "base"}, headers=ORIGIN)
        assert answer.status_code == 403, action
        assert "Jaan Viewer is not an approver" in answer.text
    assert viewer.post("/gallery/approve", data={"template": "graduation"}, headers=ORIGIN).status_code == 403
    assert not load_catalog(templates).status("graduation").approved


def test_approver_approves_with_a_note_and_the_history_names_them(templates):
    edit_subject(templates, "Congratulations on your graduation, {{ name }}")
    approver = TestClient(staff_app("Mari Tamm"))
    assert 'action="approve"' in approver.get("/gallery/").text
    # Cross-site form posts are refused even for an approver.
    assert approver.post("/templates/graduation/approve", data={"variant": "base"}).status_code == 403
    answer = approver.post("/templates/graduation/approve", data={"variant": "base", "note": "new subject"},
                           headers=ORIGIN)
    assert answer.status_code == 200 and "graduation approved by Mari Tamm" in answer.text
    status = load_catalog(templates).status("graduation")
    assert status.approved and status.approval.by == "Mari Tamm"
    entry = history.approvals(templates, "graduation")[0]  # newest first
    assert (entry.by, entry.note, entry.hash) == ("Mari Tamm", "new subject", status.current_hash)
    assert set(entry.versions) == {"en", "fi", "et", "zh"} and all(len(v) == 16 for v in entry.versions.values())
    kept = history.kept(templates, "graduation", entry.hash)
    assert (kept / "graduation" / "en.subject.txt").read_text(encoding="utf-8").startswith("Congratulations on")
    page = approver.get("/templates/graduation/").text
    assert "Mari Tamm" in page and "new subject" in page and history.short(entry.hash) in page


def test_changes_show_subject_preheader_and_text_per_language(templates):
    edit_subject(templates, "Congratulations on your graduation, {{ name }}")
    approve(templates, "graduation", "Mari Tamm", note="first")
    edit_subject(templates, "Well done on graduating, {{ name }}")
    text = templates / "graduation" / "fi.txt"
    text.write_text(text.read_text(encoding="utf-8") + "\nUusi rivi.\n", encoding="utf-8")
    base, found = changes.compare(templates, "graduation")
    assert base.note == "first"
    changed = {(c.locale, c.field) for c in found if c.changed}
    assert changed == {("en", "subject"), ("fi", "text")}
    subject = next(c for c in found if (c.locale, c.field) == ("en", "subject"))
    # Rendered for the sample customer: the name is filled in.
    assert subject.before == "Congratulations on your graduation, Emma" and subject.now == "Well done on graduating, Emma"
    assert {c.field for c in found} == {"subject", "preheader", "text"}
    assert next(c for c in found if (c.locale, c.field) == ("en", "preheader")).now  # the inbox preview line
    marked = changes.word_diff(subject.before, subject.now)
    assert marked == ("<del>Congratulations </del><ins>Well done </ins>on <del>your graduation, </del>"
                      "<ins>graduating, </ins>Emma")
    page = TestClient(staff_app()).get("/templates/graduation/").text
    assert marked in page and "Body text" in page and "Preheader" in page


def test_rollback_round_trip_needs_an_approval(templates):
    edit_subject(templates, "Version one, {{ name }}")
    first = approve(templates, "graduation", "Mari Tamm", note="one")
    edit_subject(templates, "Version two, {{ name }}")
    second = approve(templates, "graduation", "Kadri Kask", note="two")
    assert first.hash != second.hash
    app = TestClient(staff_app("Mari Tamm"))
    page = app.get("/templates/graduation/").text
    # A way back to version one (and to the shipped version the page kept); none to the current version.
    assert f'name="to" value="{first.hash}"' in page and f'name="to" value="{second.hash}"' not in page
    answer = app.post("/templates/graduation/rollback", data={"variant": "base", "to": first.hash}, headers=ORIGIN)
    assert answer.status_code == 200 and "needs an approval" in answer.text
    assert (templates / "graduation" / "en.subject.txt").read_text(encoding="utf-8") == "Version one, {{ name }}\n"
    catalog = load_catalog(templates)
    # Rolled back to an approved version, but not approved again: not sent until someone approves it.
    assert content_hash(templates, "graduation") == first.hash and not catalog.status("graduation").approved
    assert [e.action for e in history.entries(templates, "graduation")][-3:] == ["approve", "approve", "rollback"]
    again = app.post("/templates/graduation/approve", data={"variant": "base", "note": "back to one"},
                     headers=ORIGIN)
    assert again.status_code == 200
    assert load_catalog(templates).status("graduation").approved
    # And forward again, to version two.
    history.rollback(templates, "graduation", history.short(second.hash), "Mari Tamm")
    assert (templates / "graduation" / "en.subject.txt").read_text(encoding="utf-8") == "Version two, {{ name }}\n"
    assert not load_catalog(templates).status("graduation").approved
    with pytest.raises(CatalogError, match="no kept approved version"):
        history.rollback(templates, "graduation", "0123456789ab", "Mari Tamm")
    # The ledger's version of an email sent with version one names its approval.
    assert history.by_ledger_version(templates)[first_version(templates, first.hash)].by == "Mari Tamm"


def first_version(templates, content: str) -> str:
    (entry,) = [e for e in history.approvals(templates, "graduation") if e.hash == content][:1]
    return entry.versions["en"]


def test_promote_a_variant_and_roll_the_promotion_back(templates):
    add_variant(templates, "short", "{{ name }}, a short one")
    approve(templates, "birthday", "Mari Tamm", variant="short")
    before = load_catalog(templates).status("birthday").current_hash
    app = TestClient(staff_app("Mari Tamm"))
    assert 'class="promote"' in app.get("/templates/birthday/").text
    answer = app.post("/templates/birthday/promote", data={"variant": "short"}, headers=ORIGIN)
    assert answer.status_code == 200 and "is now the base" in answer.text
    catalog = load_catalog(templates)
    assert "short" not in catalog.entry("birthday").variants and catalog.status("birthday").approved
    assert (templates / "birthday" / "en.subject.txt").read_text(encoding="utf-8") == "{{ name }}, a short one\n"
    entries = history.entries(templates, "birthday")
    shipped = [e for e in entries if e.action == "approve" and e.variant == "base"]
    # The shipped base (approved before the history) was kept before the promotion, with its original approver.
    assert (entries[-1].action, entries[-1].by, entries[-1].detail) == ("promote", "Mari Tamm", "short")
    assert shipped and shipped[0].hash == before and shipped[0].by != "Mari Tamm"
    history.rollback(templates, "birthday", before, "Mari Tamm")  # reversible
    assert content_hash(templates, "birthday") == before


def test_retire_a_variant(templates):
    add_variant(templates, "loud", "{{ name }}!!! BIG DAY")
    answer = TestClient(staff_app("Mari Tamm")).post("/templates/birthday/retire", data={"variant": "loud"},
                                                      headers=ORIGIN)
    assert answer.status_code == 200 and "retired by Mari Tamm" in answer.text
    assert "loud" not in load_catalog(templates).entry("birthday").variants
    (entry,) = [e for e in history.entries(templates, "birthday") if e.action == "retire"]
    assert (entry.action, entry.variant, entry.by) == ("retire", "loud", "Mari Tamm")
    with pytest.raises(CatalogError):
        promotion.retire(templates, "birthday", "loud", "Mari Tamm")


def test_shipped_approvals_are_kept_when_first_seen_so_the_first_edit_has_a_diff(templates):
    viewer = TestClient(staff_app("Jaan Viewer", approver=False))
    assert viewer.get("/gallery/").status_code == 200  # the UI keeps the approved versions it sees
    (entry,) = history.approvals(templates, "graduation")
    shipped = load_catalog(templates).entry("graduation").approved
    assert (entry.by, entry.at, entry.hash) == (shipped.by, shipped.at, shipped.hash)
    edit_subject(templates, "Brand new subject, {{ name }}")
    page = viewer.get("/templates/graduation/").text
    assert "<ins>Brand new subject, Emma</ins>" in page and "<del>Congratulations on your graduation" in page
    assert history.keep_approved(templates) == 0  # nothing new to keep: the edit is not approved


def test_why_names_the_template_version_a_customer_got_and_its_approval(templates, tmp_path, capsys):
    import datetime as dt
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    from milestones.cli import main
    from milestones.deliver.ledger import Ledger

    edit_subject(templates, "Congratulations, {{ name }}")
    approve(templates, "graduation", "Mari Tamm", note="short subject")
    version = history.approvals(templates, "graduation")[0].versions["fi"]
    data = tmp_path / "data"
    (data / "decisions" / "2026-11-22").mkdir(parents=True)
    pq.write_table(pa.table({"customer_id": ["C1"], "event_type": ["graduation"],
                             "event_date": [dt.datetime(2026, 11, 22)], "key": ["k1"], "decision": ["send"],
                             "reason": [""]}), data / "decisions" / "2026-11-22" / "decisions.parquet")
    ledger = Ledger(f"sqlite:///{data / 'ledger.sqlite'}")
    ledger.register([{"key": "k1", "customer_id": "C1", "event_type": "graduation", "event_date": "2026-11-22",
                      "template_version": version}])
    assert main(["why", "C1", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"template version {version} (approved by Mari Tamm at " in out
    (decision,) = json.loads(out.strip().splitlines()[-1])["decisions"]
    assert decision["template_version"] == version and decision["template_approved"]["note"] == "short subject"
