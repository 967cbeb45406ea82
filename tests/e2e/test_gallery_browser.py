"""The gallery in a real browser (Debian's headless chromium): pages render, emails fit 320 and 600 px.

Served two ways, as reviewers see it: the static ``milestones preview`` output
(file://) and the web app the Airflow plugin mounts (uvicorn on 127.0.0.1).
"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

from milestones.render.catalog import load_catalog
from milestones.render.preview import variants_for, write_gallery

pytestmark = pytest.mark.needs("chromium")  # tests/tools.py: fails naming the set-up command, runs last

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
EXPECTED = sum(len(e.locales) * len(variants_for(e.event_type))
               for e in load_catalog(ROOT / "templates").templates.values())
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(scope="module")
def gallery(tmp_path_factory):
    out = tmp_path_factory.mktemp("gallery")
    write_gallery(ROOT / "templates", out)
    return out


def _no_outside_requests(page, seen: list[str]) -> None:
    """Record every request; the gallery must never leave the machine."""
    page.on("request", lambda req: seen.append(req.url))


def _local(url: str) -> bool:
    return url.startswith(("file://", "http://127.0.0.1", "about:", "data:"))


def test_every_email_fits_mobile_and_desktop_widths(browser, gallery):
    emails = sorted(gallery.glob("*/*.email.html"))
    assert len(emails) == EXPECTED
    for width in (320, 600):
        page = browser.new_page(viewport={"width": width, "height": 800})
        seen: list[str] = []
        _no_outside_requests(page, seen)
        for path in emails:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            facts = page.evaluate("""() => ({
                scroll: document.documentElement.scrollWidth,
                heading: document.querySelector('h1').innerText,
                headingSize: getComputedStyle(document.querySelector('h1')).fontSize,
                body: document.querySelector('.content').innerText,
                image: document.querySelector('img.hero').naturalWidth,
                imageShown: document.querySelector('img.hero').getBoundingClientRect().width,
                unsubscribe: document.querySelector('.footer a').getBoundingClientRect().height,
            })""")
            where = f"{path.relative_to(gallery)} at {width}px"
            assert facts["scroll"] <= width, (where, facts)  # no sideways scrolling
            assert facts["heading"].strip() and len(facts["body"].strip()) > 20, where
            assert facts["image"] == 1200 and 0 < facts["imageShown"] <= width, (where, facts)
            assert facts["unsubscribe"] > 0, where  # the unsubscribe link is visible
            # The media query is honoured: a smaller heading on phones.
            assert facts["headingSize"] == ("23px" if width == 320 else "28px"), (where, facts)
        assert seen and all(_local(u) for u in seen), [u for u in seen if not _local(u)]
        page.close()


def test_viewer_page_shows_both_widths_subject_and_text(browser, gallery, tmp_path):
    page = browser.new_page(viewport={"width": 1100, "height": 1000})
    page.goto((gallery / "index.html").as_uri())
    links = page.locator("section.template a")
    assert links.count() == EXPECTED
    page.click("text=fi · milestone-50")
    page.wait_for_load_state("load")
    assert page.locator("#subject").inner_text() == "Onnea 50-vuotispäivänäsi, Aino!"
    assert "Peru tilaus" in page.locator("#text").inner_text()
    assert len(page.frames) == 5  # the page and its four email frames: light and dark, desktop and mobile
    cards = []
    for frame in page.frames[1:]:
        frame.wait_for_load_state("load")
        assert frame.locator("h1").inner_text() == "Onnea 50-vuotispäivänäsi!"
        cards.append(frame.evaluate("() => getComputedStyle(document.querySelector('.card')).backgroundColor"))
    # Light frames show the white card, dark frames the email's own dark styles, whatever the browser's setting.
    assert cards == ["rgb(255, 255, 255)"] * 2 + ["rgb(31, 37, 38)"] * 2, cards
    widths = page.evaluate("() => [...document.querySelectorAll('iframe')].map(f => f.getBoundingClientRect().width)")
    assert [round(w) for w in widths] == [600 + 2, 320 + 2] * 2  # plus the 1 px border each side
    shot = page.screenshot(full_page=True)
    blank = browser.new_page(viewport={"width": 1100, "height": 1000})
    blank.goto("about:blank")
    empty = blank.screenshot(full_page=True)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 10 * len(empty), (len(shot), len(empty))
    (tmp_path / "viewer.png").write_bytes(shot)
    page.close()
    blank.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gallery_served_by_the_web_app(browser):
    import uvicorn

    from tests.staff import staff_app

    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(staff_app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started
        page = browser.new_page(viewport={"width": 1100, "height": 1000})
        page.goto(f"http://127.0.0.1:{port}/gallery")  # redirected to /gallery/
        assert page.url.endswith("/gallery/")
        assert page.locator("h1").inner_text() == "Email templates"
        assert page.locator("section.template").count() == 7
        assert page.locator("section.template .ok").count() == 7  # every shipped template approved
        page.click("text=zh · milestone-25")
        page.wait_for_load_state("load")
        assert page.locator("#subject").inner_text() == "李娜，祝您结婚25周年纪念日快乐！"
        frame = page.frames[1]
        frame.wait_for_load_state("load")
        assert frame.evaluate("() => document.querySelector('img.hero').naturalWidth") == 1200  # drawn at 2x (issue 24), shown at most 600 px
        assert len(page.screenshot()) > 20_000
        page.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
