"""Review tools: the static gallery, the same gallery in the web app, and proofs."""

from __future__ import annotations

import email
import email.policy
import json
import re
import shutil
from pathlib import Path

import pytest

from milestones.render.catalog import load_catalog
from milestones.render.preview import variants_for, write_gallery

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
#: Every template x locale x sample variant (regular, milestone, first year).
EXPECTED = sum(len(e.locales) * len(variants_for(e.event_type)) for e in load_catalog(TEMPLATES).templates.values())


@pytest.fixture
def own_templates(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATES, target)
    return target


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    return out, write_gallery(TEMPLATES, out)


def test_gallery_has_every_template_locale_and_variant(gallery):
    out, summary = gallery
    assert summary["render_failed"] == 0 and summary["missing_translations"] == {}
    assert summary["not_approved"] == []
    emails = sorted(out.glob("*/*.email.html"))
    assert EXPECTED >= 7 * 4 and len(emails) == summary["emails"] == EXPECTED
    index = (out / "index.html").read_text(encoding="utf-8")
    for path in emails:
        viewer = path.with_name(path.name.replace(".email.html", ".html"))
        assert f'href="{viewer.relative_to(out).as_posix()}"' in index
        page = viewer.read_text(encoding="utf-8")
        assert f'src="{path.name}" width="600"' in page and f'src="{path.name}" width="320"' in page
        assert re.search(r'<span class="subject" id="subject">[^<]+</span>', page)
        text = re.search(r'<pre id="text">(.*?)</pre>', page, re.DOTALL).group(1)
        assert "/u/preview" in text and len(text) > 100
    assert (out / "assets" / "birthday.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_gallery_links_all_resolve_and_stay_local(gallery):
    out, _ = gallery
    for page in out.rglob("*.html"):
        for link in re.findall(r'(?:href|src)="([^"]+)"', page.read_text(encoding="utf-8")):
            if link.startswith(("https://milestones.example/u/", "https://milestones.example/preferences/",
                                "https://milestones.example/v/")):
                continue  # shown, never fetched
            assert "://" not in link, (page, link)
            assert (page.parent / link).resolve().is_file(), (page, link)


def test_gallery_reports_missing_translation_and_unapproved_template(own_templates, tmp_path):
    for part in own_templates.glob("graduation/et.*"):
        part.unlink()
    summary = write_gallery(own_templates, tmp_path / "g")
    assert summary["missing_translations"] == {"graduation": ["et"]}
    assert summary["not_approved"] == ["graduation"]  # its files changed
    index = (tmp_path / "g" / "index.html").read_text(encoding="utf-8")
    assert "Missing translation: et" in index and "has never been approved" not in index
    assert "changed since" in index
    fallback = (tmp_path / "g" / "graduation" / "et-regular.html").read_text(encoding="utf-8")
    assert "Missing translation: et falls back to en" in fallback
    assert "Congratulations on your graduation, Tõnu!" in fallback  # never a blank email


def test_cli_preview_prints_a_summary(tmp_path, capsys):
    from milestones.cli import main

    assert main(["preview", "--out", str(tmp_path / "p")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["emails"] == EXPECTED and Path(summary["index"]).is_file()


def test_web_gallery_serves_the_same_pages(own_templates, monkeypatch):
    from fastapi.testclient import TestClient

    from tests.staff import staff_app

    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(own_templates))
    client = TestClient(staff_app())
    index = client.get("/gallery/")
    assert index.status_code == 200 and "text/html" in index.headers["content-type"]
    assert 'href="birthday/fi-milestone-50.html"' in index.text
    viewer = client.get("/gallery/birthday/fi-milestone-50.html")
    assert "Onnea 50-vuotispäivänäsi, Aino!" in viewer.text
    mail = client.get("/gallery/birthday/fi-milestone-50.email.html")
    assert mail.status_code == 200 and 'src="../assets/birthday.png"' in mail.text
    image = client.get("/gallery/assets/birthday.png")
    assert image.headers["content-type"] == "image/png" and image.content[:4] == b"\x89PNG"
    assert client.get("/gallery/nope.html").status_code == 404
    assert client.get("/gallery", follow_redirects=False).status_code == 307
    # An edit shows on the next request (pages are rebuilt when a template file changes).
    path = own_templates / "birthday" / "fi.subject.txt"
    path.write_text(path.read_text(encoding="utf-8").replace("Onnea", "Lämpimät onnittelut"), encoding="utf-8")
    assert "Lämpimät onnittelut 50-vuotispäivänäsi" in client.get("/gallery/birthday/fi-milestone-50.html").text


def test_plugin_lists_the_gallery_in_the_nav():
    import milestones_plugin

    views = {v["name"]: v for v in milestones_plugin.MilestonesPlugin.external_views}
    assert views["Email templates"]["href"] == "/milestones/gallery/"
    assert views["Email templates"]["destination"] == "nav"


def test_proof_goes_to_the_outbox_marked_and_never_into_the_ledger(settings, monkeypatch, capsys):
    from milestones.cli import main

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(settings.data_dir))
    code = main(["proof", "--template", "wedding_anniversary", "--locale", "et-EE", "--to", "mari@example.com",
                 "--variant", "milestone-25"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and out["transport"] == "outbox" and out["state"] == "accepted" and out["approved"]
    assert out["to"] != "mari@example.com"  # masked in output
    (eml,) = (Path(settings.data_dir) / "outbox").glob("proof-*.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["Subject"] == "[Proof] Palju õnne 25. pulma-aastapäeva puhul, Tõnu!"
    assert parsed["To"] == "mari@example.com" and parsed["X-Milestones-Key"].startswith("proof-wedding_anniversary-et-")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "hõbepulma" in parsed.get_body(("plain",)).get_content()
    ledger = Path(settings.data_dir) / "ledger.sqlite"
    assert not ledger.exists()


@pytest.mark.parametrize("argv, message", [
    (["--template", "birthday", "--locale", "fi", "--to", "not-an-address"], "--to:"),
    (["--template", "promo", "--locale", "fi", "--to", "a@example.com"], "no template 'promo'"),
    (["--template", "birthday", "--locale", "fi", "--to", "a@example.com", "--variant", "x"], "--variant"),
])
def test_proof_rejects_bad_input_clearly(settings, monkeypatch, capsys, argv, message):
    from milestones.cli import main

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(settings.data_dir))
    assert main(["proof", *argv]) == 2
    assert message in capsys.readouterr().err


def test_proof_goes_through_sendgrid_when_the_connection_exists(settings, monkeypatch, capsys):
    """Our SendGrid transport (libcurl; the official client gives URL and headers) against a real HTTP server on 127.0.0.1."""
    import http.server
    import threading

    from milestones.cli import main

    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "auth": self.headers["Authorization"], "json": json.loads(body)})
            self.send_response(202)
            self.send_header("X-Message-Id", "sg-proof-1")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("MILESTONES_DATA_DIR", str(settings.data_dir))
        monkeypatch.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", f"http://:SG.test-key@127.0.0.1:{server.server_port}")
        monkeypatch.delenv("MILESTONES_PUBLIC_URL", raising=False)
        proof = ["proof", "--template", "birthday", "--locale", "zh-CN", "--to", "li@example.com"]
        # Placeholder links and images would reach a real inbox: refused before anything is sent.
        assert main(proof) == 2
        assert "MILESTONES_PUBLIC_URL" in capsys.readouterr().err and received == []
        monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://hello.shop-a.fi")
        assert main(proof) == 0
    finally:
        server.shutdown()
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["transport"] == "sendgrid" and out["state"] == "accepted"
    (request,) = received
    assert request["path"] == "/v3/mail/send" and request["auth"] == "Bearer SG.test-key"
    payload = request["json"]
    assert payload["subject"] == "[Proof] 李娜，祝您50岁生日快乐！"
    assert payload["personalizations"][0]["to"] == [{"email": "li@example.com"}]
    assert payload["personalizations"][0]["custom_args"]["key"].startswith("proof-birthday-zh-milestone-50-")
    assert payload["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert payload["headers"]["List-Unsubscribe"] == "<https://hello.shop-a.fi/u/proof>"
    html = next(c["value"] for c in payload["content"] if c["type"] == "text/html")
    assert 'src="https://hello.shop-a.fi/assets/birthday.png"' in html and "milestones.example" not in html
    assert not (Path(settings.data_dir) / "outbox").exists() or not any((Path(settings.data_dir) / "outbox").iterdir())
    assert not (Path(settings.data_dir) / "ledger.sqlite").exists()


def test_the_app_the_plugin_mounts_serves_the_gallery():
    from fastapi.testclient import TestClient

    import milestones_plugin
    from tests.staff import StaffUser

    (mounted,) = milestones_plugin.MilestonesPlugin.fastapi_apps
    assert mounted["url_prefix"] == "/milestones"
    app = mounted["app"]
    assert TestClient(app).get("/gallery/").status_code == 401  # Airflow's login first
    # Logged in (the dependency the plugin wires to Airflow's get_user, answered for the test):
    app.dependency_overrides[milestones_plugin._airflow_user] = StaffUser
    try:
        page = TestClient(app).get("/gallery/")
    finally:
        app.dependency_overrides.clear()
    assert page.status_code == 200 and "<h1>Email templates</h1>" in page.text
