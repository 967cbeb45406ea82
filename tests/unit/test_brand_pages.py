"""The preference center, its error pages and an email's web version carry the brand (issue 24).

In process (Starlette's TestClient, the writer thread, SQLite in tmp_path).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from milestones.core import links

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
BRAND = ROOT / "templates" / "brands" / "example-bank.yaml"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from fastapi.testclient import TestClient

    from milestones.core.config import load_settings
    from milestones.public import create_app, pages

    mp = pytest.MonkeyPatch()
    mp.setenv("MILESTONES_LINK_SECRET", "v" * 40)
    mp.delenv("MILESTONES_LINK_SECRETS_OLD", raising=False)
    mp.setenv("MILESTONES_WRITER_PROCESS", "false")
    mp.setenv("MILESTONES_BRAND_FILE", str(BRAND))
    settings = load_settings(data_dir=tmp_path_factory.mktemp("brand-pages") / "data",
                             public_url="https://email.northstar-bank.example")
    with TestClient(create_app(settings), base_url="https://email.northstar-bank.example") as client:
        yield client, settings
    pages.use_brand(None, ROOT / "templates")  # the next app in this process starts neutral
    mp.undo()


def test_preference_and_error_pages_carry_the_bank(app):
    client, settings = app
    token = links.sign(links.load_keys(settings.data_dir), "C1", "ann@example.fi", "fi")
    for url, status, privacy in ((f"/preferences/{token}", 200, "Tietosuoja"), ("/u/not-a-token", 400, "Privacy")):
        page = client.get(url)
        assert page.status_code == status
        body = page.text
        assert "Milestones" not in body, url
        assert 'alt="Northstar Bank"' in body and "../assets/example-bank-logo.png" in body, url
        assert "Northstar Bank Plc (fictional example bank) · Esplanadi 1, 00100 Helsinki, Finland" in body, url
        assert f'<a href="https://www.northstar-bank.example/privacy">{privacy}</a>' in body, url
    css = client.get("/brand.css")
    assert css.status_code == 200 and "#0b4f6c" in css.text and "#eef3f6" in css.text
    assert client.get("/assets/example-bank-logo.png").status_code == 200


def test_the_web_version_is_the_email_as_rendered(app):
    from milestones.core import storage
    from milestones.pipeline import message_frame

    client, settings = app
    day = dt.date(2026, 11, 22)
    row = ("k-web-1", "C1", "birthday", "2026-11-22", "ann@example.fi", "en", "UTC", "birthday", "v1",
           "Happy birthday!", "<!DOCTYPE html><p>the email</p>", "text", "https://x/u/t", 0, "base", "")
    storage.write_parquet(message_frame([row]),
                          storage.stage_dir(storage.root(settings), "messages", day) / "messages.parquet")
    keys = links.load_keys(settings.data_dir)
    page = client.get(f"/v/{links.sign_view(keys, 'k-web-1', day)}?utm_source=x")
    assert page.status_code == 200 and page.text == "<!DOCTYPE html><p>the email</p>"
    assert page.headers["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in \
        page.headers["content-security-policy"]
    # Unknown key, a customer link in its place, an expired one: the friendly bad-link page.
    assert client.get(f"/v/{links.sign_view(keys, 'k-none', day)}").status_code == 400
    assert client.get(f"/v/{links.sign(keys, 'C1', 'ann@example.fi', 'en')}").status_code == 400
    old = dt.datetime.now(dt.UTC) - links.VIEW_LIFETIME - dt.timedelta(days=1)
    assert client.get(f"/v/{links.sign_view(keys, 'k-web-1', day, issued=old)}").status_code == 410
