"""A/B variants: catalog, stable split, approval of each variant on its own (refused when broken), gallery."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from milestones import cli
from milestones.render import variants
from milestones.render.catalog import approval_gate, content_hash, load_catalog
from milestones.render.rendering import Renderer
from tests.staff import staff_app

pytestmark = pytest.mark.unit


def add_variant(templates, name="short", subject="{{ name }}, a little something for your day", share=0.5):
    folder = templates / "birthday" / "variants" / name
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text(subject + "\n", encoding="utf-8")
    path = templates / "catalog.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["templates"]["birthday"].setdefault("variants", {})[name] = {"share": share, "description": "test"}
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def test_split_is_stable_and_follows_the_shares():
    ids = [f"C{i:06d}" for i in range(20000)]
    first = variants.split(ids, "birthday", [("short", 0.3)], "salt-1")
    assert (first == variants.split(ids, "birthday", [("short", 0.3)], "salt-1")).all()
    assert abs((first == "short").mean() - 0.3) < 0.015
    other = variants.split(ids, "birthday", [("short", 0.3)], "salt-2")
    assert 0.3 < (first != other).mean() < 0.6  # another salt draws new groups
    assert (variants.split(ids[:5], "birthday", [], "s") == "base").all()


def test_each_variant_is_approved_on_its_own(own_templates, capsys):
    base_hash = content_hash(own_templates, "birthday")
    add_variant(own_templates)
    catalog = load_catalog(own_templates)
    assert content_hash(own_templates, "birthday") == base_hash  # variant files are not the base's
    assert catalog.templates["birthday"].variants["short"].share == 0.5
    gate = approval_gate(own_templates)
    assert "never been approved" in gate("birthday", "short")
    assert "--variant short" in gate("birthday", "short")
    code = _approve(own_templates, ["birthday", "--variant", "short", "--by", "Mari Tamm"])
    assert code == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert last["birthday/short"]["by"] == "Mari Tamm"
    assert approval_gate(own_templates)("birthday", "short") is None
    renderer = Renderer(own_templates)
    from milestones.render.preview import sample_context

    context = sample_context("birthday", "en", 37, 0)
    assert renderer.render("birthday", "en", context, variant="short").subject == \
        "Emma, a little something for your day"
    assert renderer.render("birthday", "en", context).subject != "Emma, a little something for your day"
    # The variant's other parts, and its other languages, come from the base template.
    assert renderer.render("birthday", "fi", context, variant="short").subject == \
        renderer.render("birthday", "fi", context).subject
    # Editing the variant makes it unapproved again, and only it.
    (own_templates / "birthday" / "variants" / "short" / "en.subject.txt").write_text("Hi {{ name }}\n")
    gate = approval_gate(own_templates)
    assert "changed since Mari Tamm approved it" in gate("birthday", "short")
    assert gate("birthday") == approval_gate(own_templates)("birthday")


def _approve(templates, argv):
    import os

    old = os.environ.get("MILESTONES_TEMPLATES_DIR")
    os.environ["MILESTONES_TEMPLATES_DIR"] = str(templates)
    try:
        return cli.main(["approve", *argv])
    finally:
        if old is None:
            del os.environ["MILESTONES_TEMPLATES_DIR"]
        else:
            os.environ["MILESTONES_TEMPLATES_DIR"] = old


def test_a_template_that_fails_to_render_cannot_be_approved(own_templates, capsys, monkeypatch):
    add_variant(own_templates, name="typo", subject="Happy birthday, {{ nmae }}!")
    assert _approve(own_templates, ["birthday", "--variant", "typo", "--by", "Mari Tamm"]) == cli.EXIT_USAGE
    err = capsys.readouterr().err
    assert "cannot be approved" in err and "undefined" in err and "nmae" in err
    assert load_catalog(own_templates).templates["birthday"].variants["typo"].approved is None
    # The base template with a broken locale is refused too (CLI and UI).
    (own_templates / "retirement" / "fi.subject.txt").write_text("{{ customer.nope.deeper }}\n", encoding="utf-8")
    assert _approve(own_templates, ["retirement", "--by", "Mari Tamm"]) == cli.EXIT_USAGE
    assert "retirement" in capsys.readouterr().err

    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(own_templates))
    client = TestClient(staff_app("ada"))
    same = {"origin": "http://testserver"}
    refused = client.post("/gallery/approve", data={"template": "birthday", "variant": "typo"}, headers=same)
    assert refused.status_code == 409 and "nmae" in refused.text
    assert load_catalog(own_templates).templates["birthday"].variants["typo"].approved is None


def test_gallery_shows_and_approves_every_variant(own_templates, monkeypatch):
    add_variant(own_templates)
    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(own_templates))
    client = TestClient(staff_app("ada"))
    index = client.get("/gallery/").text
    assert "birthday · variant short (50%)" in index
    assert 'href="birthday/en-regular-ab-short.html"' in index
    assert 'name="variant" value="short"' in index  # an Approve button for the unapproved variant
    viewer = client.get("/gallery/birthday/en-regular-ab-short.html")
    assert viewer.status_code == 200 and "A/B variant short" in viewer.text
    assert "Emma, a little something for your day" in viewer.text  # the variant's subject
    assert client.get("/gallery/birthday/en-regular-ab-short.email.html").status_code == 200
    form = {"template": "birthday", "variant": "short"}
    assert client.post("/gallery/approve", data=form, headers={"origin": "https://evil.example"}).status_code == 403
    done = client.post("/gallery/approve", data=form, headers={"origin": "http://testserver"})
    assert done.status_code == 200 and "approved by ada" in done.text
    approval = load_catalog(own_templates).templates["birthday"].variants["short"].approved
    assert approval.by == "ada"  # the logged-in user, not free text
    assert 'name="variant" value="short"' not in client.get("/gallery/").text


def test_render_stage_assigns_variants_and_uplift_reports_them(own_templates):
    add_variant(own_templates)
    load_catalog(own_templates).approve("birthday", "t", variant="short")
    import pandas as pd

    from milestones.core.config import load_settings

    settings = load_settings(templates_dir=own_templates)
    frame = pd.DataFrame({"customer_id": [f"C{i}" for i in range(400)], "event_type": "birthday"})
    arms = variants.assigner(settings)(frame)
    assert set(arms) == {"base", "short"} and abs((arms == "short").mean() - 0.5) < 0.1
    other = variants.assigner(settings)(frame.assign(event_type="retirement"))
    assert (other == "base").all()
    from milestones.measure import uplift

    rows = uplift.table(pd.DataFrame({"event_type": "birthday", "locale": "en", "variant": arms,
                                      "group": np.where(np.arange(400) % 10 == 0, "holdout", "contacted"),
                                      "converted": np.arange(400) % 3 == 0, "value": 1.0}), by="variant")
    assert [r["group"] for r in rows] == ["birthday/base", "birthday/short", "all"]
