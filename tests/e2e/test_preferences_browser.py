"""A customer's walk through the preference page in a real headless Chromium, in all four languages.

JavaScript is off for the walk (the page must work without it): change a kind of email,
pause, unsubscribe, resubscribe, each confirmed on the page and in the store.  axe-core
checks every page met on the way (JavaScript on, same URLs: a GET changes nothing) for
WCAG 2.1 A/AA violations.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from milestones.core import links
from milestones.core.config import load_settings
from milestones.decide.preferences import Preferences
from milestones.public.pages import texts
from tests.servers.public_app import public_server

pytestmark = pytest.mark.needs("chromium", "axe-core")  # tests/tools.py: fails naming the set-up command, runs last

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import os

    os.environ.setdefault("MILESTONES_LINK_SECRET", "b" * 40)
    settings = load_settings(data_dir=tmp_path_factory.mktemp("browser") / "data")
    with public_server(settings) as base:
        yield settings, base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    assert AXE.is_file(), "axe-core missing: npm ci"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def axe_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
    assert len(result["passes"]) >= 10  # axe really looked (labels, contrast, lang, ...)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes)" for v in result["violations"]]


@pytest.mark.parametrize("lang", ["en", "fi", "et", "zh"])
def test_walk_without_javascript_and_axe_finds_nothing(served, browser, lang):
    settings, base = served
    t = texts(lang)
    customer = f"W-{lang}"
    token = links.sign(links.load_keys(settings.data_dir), customer, f"{lang}@example.com", lang)
    store = Preferences(settings.ledger_database_url)
    walk = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 900})
    checker = browser.new_context(bypass_csp=True)  # axe is injected as a script; the app forbids scripts
    page, axe_page = walk.new_page(), checker.new_page()
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url))
    visited = []

    def confirm(text: str) -> None:
        status = page.get_by_role("status")
        assert status.inner_text().strip() == text
        visited.append(page.url)

    page.goto(f"{base}/u/{token}")
    assert page.locator("html").get_attribute("lang") == lang
    from milestones.core.brand import brand_of

    assert page.title() == f"{t['title']} · {brand_of(settings).name}"  # the page says whose it is
    visited.append(page.url)

    # 1. No more birthday emails.
    page.get_by_label(t["events"]["birthday"], exact=True).uncheck()
    page.get_by_role("button", name=t["save"]).click()
    confirm(t["saved"])
    assert store.get(customer).opted_out == frozenset({"birthday"})
    assert not page.get_by_label(t["events"]["birthday"], exact=True).is_checked()

    # 2. A 3-month break.
    page.get_by_label(t["pause_months"].format(n=3), exact=True).check()
    page.get_by_role("button", name=t["save"]).click()
    confirm(t["saved"])
    state = store.get(customer)
    assert state.paused_until is not None and state.opted_out == frozenset({"birthday"})
    assert page.get_by_label(t["pause_resume"], exact=True).count() == 1

    # 3. Unsubscribe from everything, 4. then come back.
    page.get_by_role("button", name=t["unsubscribe_button"]).click()
    confirm(t["unsubscribed_done"])
    assert store.get(customer).unsubscribed
    page.get_by_role("button", name=t["resubscribe_button"]).click()
    confirm(t["resubscribed_done"])
    assert not store.get(customer).unsubscribed
    assert [h["field"] for h in store.history(customer)] == ["opted_out", "paused_until", "unsubscribed",
                                                              "unsubscribed"]
    assert all(url.startswith(base) for url in seen), "the page reached outside the app"

    for url in [*dict.fromkeys(visited), f"{base}/preferences/{token[:-4]}?lang={lang}"]:
        axe_page.goto(url)
        assert axe_page.locator("html").get_attribute("lang") == lang
        assert axe_violations(axe_page) == [], url
    walk.close()
    checker.close()
