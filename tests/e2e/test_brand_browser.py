"""The bundled run with the example brand, as a bank's customer sees it (issue 24).

``make run``'s pipeline (the bundled sample, the fictional Northstar Bank) writes the
outbox; every email is then checked as it was sent: SpamAssassin at most 1.0 with the
bank's headers, no "Milestones" anywhere the customer reads, every link but preferences
and unsubscribe tagged, the Message-ID on the bank's domain, no customer id in a header,
``<meta charset>`` within the first 1,024 bytes. Chromium (headless, Debian's) opens a
few of them at 320 and 600 px, light and dark, with the images the public app serves:
axe-core finds no WCAG 2.1 A/AA violation, and the screenshots go to the test's directory
(``MILESTONES_UPDATE_ARTEFACTS=1`` keeps them in ``tests/artefacts/emails/brand/``).
The "view in your browser" link of a real email, opened through ``milestones serve``,
shows that email.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import os
import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from milestones.core.config import load_settings
from tests.e2e.email_modes import measure
from tests.e2e.spam import SPAM_LIMIT, TRICKS, spam_scores
from tests.owners import owners
from tests.servers.public_app import public_server

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "plugins" / "milestones" / "samples"
BRAND = ROOT / "templates" / "brands" / "example-bank.yaml"
ASSETS = ROOT / "templates" / "assets"
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARTEFACTS = ROOT / "tests" / "artefacts" / "emails" / "brand"
#: (event, language) of the emails shot (the test machine has no CJK font: no zh).
SHOTS = [("birthday", "en"), ("wedding_anniversary", "fi"), ("retirement", "et")]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def bundled(tmp_path_factory):
    """The bundled sample through every stage with the example brand, as `make run` does."""
    from milestones import pipeline

    os.environ.setdefault("MILESTONES_LINK_SECRET", "e" * 40)
    data = tmp_path_factory.mktemp("brand") / "data"
    os.environ["MILESTONES_BRAND_FILE"] = str(BRAND)
    try:
        settings = load_settings(data_dir=data, public_url="http://127.0.0.1:1")  # replaced per test below
    finally:
        del os.environ["MILESTONES_BRAND_FILE"]
    with public_server(settings) as base:
        settings = settings.replace(public_url=base)
        pipeline.run(SAMPLES / "customers_2026-11-22.csv", "2026-11-22", settings,
                     previous=SAMPLES / "customers_2026-11-21.csv",
                     at=dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC))  # as `make run` (AT)
        mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                 for p in sorted((data / "outbox").glob("*.eml"))]
        yield settings, base, mails


def _html(mail) -> str:
    return mail.get_body(("html",)).get_content()


def test_every_email_carries_the_bank_and_none_says_milestones(bundled):
    settings, base, mails = bundled
    owner = owners(settings.data_dir)
    assert len(mails) > 100
    for mail in mails:
        html, text = _html(mail), mail.get_body(("plain",)).get_content()
        visible = re.sub(r"<[^>]+>", " ", re.sub(r"<(style|title)[^>]*>.*?</\1>", " ", html, flags=re.S))
        for part in (str(mail["Subject"]), str(mail["From"]), visible, text):
            assert "Milestones" not in part, mail["X-Milestones-Key"]
        assert str(mail["From"]) == "Northstar Bank <hello@northstar-bank.example>"
        assert "Northstar Bank Plc (fictional example bank)" in visible and "00100 Helsinki" in text
        # Headers of a real sender, and nobody's customer id in them.
        key = str(mail["X-Milestones-Key"])
        assert mail["Message-ID"] == f"<{key}@northstar-bank.example>"
        head = mail.as_bytes().split(b"\n\n", 1)[0]
        assert owner[key].encode() not in head, key
        assert html.encode().find(b'<meta charset="utf-8">') < 1024 - 22
        # Links: every one but preferences and unsubscribe tagged; nothing personal in any.
        hrefs = re.findall(r'href="([^"]+)"', html)
        for href in (h.replace("&amp;", "&") for h in hrefs):
            if href.startswith((f"{base}/u/", f"{base}/preferences/")):
                assert "utm_" not in href
                continue
            q = parse_qs(urlsplit(href).query)
            assert q["utm_medium"] == ["email"] and q["utm_campaign"] == [str(mail["X-Milestones-Event"])], href
            assert q["utm_source"] == ["northstar-lifecycle"] and q["utm_content"] == ["base"], href
            assert "@" not in href and owner[key] not in href, href


def test_spamassassin_scores_the_branded_emails_at_most_one(bundled):
    _, _, mails = bundled
    scores = spam_scores([m.as_bytes() for m in mails])
    assert max(score for score, _ in scores) <= SPAM_LIMIT, sorted(scores)[-3:]
    assert not any(TRICKS.search(rules) for _, rules in scores)


def test_view_in_browser_opens_the_email_as_sent(bundled):
    import urllib.request

    _, base, mails = bundled
    mail = mails[0]
    html = _html(mail)
    view = next(h.replace("&amp;", "&") for h in re.findall(r'href="([^"]+)"', html) if h.startswith(f"{base}/v/"))
    with urllib.request.urlopen(view, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        page = response.read().decode()
        assert response.headers["Referrer-Policy"] == "no-referrer"
        assert "script-src" not in response.headers["Content-Security-Policy"]
    assert page == html
    broken = view.split("?")[0][:-3] + "xyz"
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(broken, timeout=30)  # noqa: S310
    assert err.value.code == 400


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    assert AXE.is_file(), "axe-core missing: bash scripts/test-deps.sh (npm ci)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                               args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


def test_screenshots_light_and_dark_at_320_and_600_and_axe(bundled, browser, tmp_path):
    _, base, mails = bundled
    update = os.environ.get("MILESTONES_UPDATE_ARTEFACTS") == "1"
    chosen = {}
    for mail in mails:
        lang = re.search(r'<html lang="([a-z]+)"', _html(mail)).group(1)
        chosen.setdefault((str(mail["X-Milestones-Event"]), lang), mail)
    for event, lang in SHOTS:
        (tmp_path / f"{event}-{lang}.html").write_text(_html(chosen[event, lang]), encoding="utf-8")
    shots = {}
    for mode in ("light", "dark"):
        for width in (320, 600):
            page = browser.new_page(viewport={"width": width, "height": 900}, color_scheme=mode)
            for event, lang in SHOTS:
                page.goto((tmp_path / f"{event}-{lang}.html").as_uri())
                page.wait_for_load_state("load")
                facts = measure(page)
                where = (event, lang, mode, width)
                assert facts["loaded"] == facts["images"] == 2, (where, facts)  # the logo and the hero
                assert facts["scroll"] <= width, where  # no sideways scrolling
                low = [t for t in facts["texts"] if t["ratio"] < 4.5]
                assert not low, (where, low)
                assert (facts["cardLuminance"] < 0.05) == (mode == "dark"), where
                if width == 600:
                    page.add_script_tag(path=str(AXE))
                    result = page.evaluate(
                        "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
                    assert [v["id"] for v in result["violations"]] == [], (where, result["violations"])
                shot = page.screenshot(full_page=True)
                name = f"{event}-{lang}-{mode}-{width}.png"
                (tmp_path / name).write_bytes(shot)
                if update:
                    ARTEFACTS.mkdir(parents=True, exist_ok=True)
                    (ARTEFACTS / name).write_bytes(shot)
                shots[name] = shot
            page.close()
    assert len(set(shots.values())) == len(shots) == len(SHOTS) * 4
