"""Every email in Chromium light, dark and with images blocked: readable everywhere (contrast >= 4.5:1).

Chromium (Debian's, headless) loads the gallery's emails from a server on
127.0.0.1; dark mode is the browser's ``prefers-color-scheme: dark`` (as Apple
Mail and Outlook for Mac apply it); images are blocked by aborting every image
request, so the alt text shows on the banner's background colour.

Screenshots of two emails in every mode at 320 and 600 px are written to the
test's directory; with ``MILESTONES_UPDATE_ARTEFACTS=1`` they replace the ones
kept in ``tests/artefacts/emails/after/`` (``before/`` holds the layout this
replaced, taken the same way).
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

from milestones.core.brand import load_brand
from milestones.render.catalog import load_catalog
from milestones.render.preview import cases, write_gallery
from tests.e2e.email_modes import MODES, WIDTHS, measure, new_page, show

pytestmark = pytest.mark.needs("chromium")  # tests/tools.py: fails naming the set-up command, runs last

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARTEFACTS = ROOT / "tests" / "artefacts" / "emails" / "after"
SHOTS = ["birthday/en-milestone-50", "new_child/fi-regular"]  # (the test set-up has no CJK font)
MIN_CONTRAST = 4.5
EXPECTED = len(cases(load_catalog(ROOT / "templates")))


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The gallery written by ``milestones preview``, served on a free port of 127.0.0.1."""
    out = tmp_path_factory.mktemp("gallery")
    write_gallery(ROOT / "templates", out, brand=load_brand(ROOT / "templates" / "brands" / "example-bank.yaml",
                                                            templates_dir=ROOT / "templates"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield out, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join(timeout=10)
    server.server_close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                               args=["--headless", "--no-sandbox", "--disable-gpu"])
        yield b
        b.close()


@pytest.mark.parametrize("mode", MODES)
def test_every_email_is_readable(browser, served, mode):
    gallery, base = served
    emails = sorted(p.relative_to(gallery).as_posix() for p in gallery.glob("*/*.email.html"))
    assert len(emails) == EXPECTED
    page = new_page(browser, mode, 600)
    for rel in emails:
        facts = measure(show(page, f"{base}/{rel}"))
        where = f"{rel} {mode}"
        low = [t for t in facts["texts"] if t["ratio"] < MIN_CONTRAST]
        assert facts["texts"] and not low, (where, low)
        if mode == "images-blocked":
            # The logo's alt text (the bank's name) is shown, readable; the hero is decorative (alt="").
            assert facts["loaded"] == 0 and len(facts["alts"]) == facts["images"] == 2, (where, facts)
            logo, hero = facts["alts"]
            assert logo["text"] == "Northstar Bank" and logo["ratio"] >= MIN_CONTRAST, (where, logo)
            assert hero["text"] == "", (where, hero)
        else:
            assert facts["loaded"] == facts["images"] == 2, (where, facts)
        # The email's own dark styles apply in dark mode (a dark card), and only there.
        if mode == "dark":
            assert facts["cardLuminance"] < 0.05, (where, facts["cardLuminance"])
        else:
            assert facts["cardLuminance"] > 0.9, (where, facts["cardLuminance"])
    page.close()


def test_screenshots_light_dark_and_images_blocked(browser, served, tmp_path):
    _, base = served
    update = os.environ.get("MILESTONES_UPDATE_ARTEFACTS") == "1"
    pages = {(mode, width): new_page(browser, mode, width) for mode in MODES for width in WIDTHS}
    blank = {width: show(pages["light", width], "about:blank").screenshot(full_page=True) for width in WIDTHS}
    for slug in SHOTS:
        shots = {}
        for mode in MODES:
            for width in WIDTHS:
                page = show(pages[mode, width], f"{base}/{slug}.email.html")
                assert measure(page)["scroll"] <= width, (slug, mode, width)  # no sideways scrolling
                shot = page.screenshot(full_page=True)
                assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 3 * len(blank[width]), (slug, mode, width, len(shot), len(blank[width]))
                name = f"{slug.replace('/', '-')}-{mode}-{width}.png"
                (tmp_path / name).write_bytes(shot)
                if update:
                    ARTEFACTS.mkdir(parents=True, exist_ok=True)
                    (ARTEFACTS / name).write_bytes(shot)
                shots[mode, width] = shot
        for width in WIDTHS:  # each mode looks different
            assert len({shots[mode, width] for mode in MODES}) == len(MODES), (slug, width)
    for page in pages.values():
        page.close()
