"""The results page in a real browser (Debian's chromium): readable legends, labels that do not collide.

Data: 40 days of the benchmark's synthetic year at 3,000 customers (decisions, messages,
ledger with webhook outcomes, outcomes extract files), then ``milestones report``.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from milestones import cli

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [pytest.mark.e2e, pytest.mark.needs("chromium")]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    # Loaded by path under its own name: Airflow's plugin loader imports every .py file under
    # plugins/ by its bare stem, so once it has run, "report" is milestones' own report module.
    spec = importlib.util.spec_from_file_location("benchmarks_report", ROOT / "benchmarks" / "report.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses and pickling look the module up by name
    spec.loader.exec_module(bench)
    work = tmp_path_factory.mktemp("results")
    bench.generate(work, 3000, days=40)
    return work


def _boxes(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, """els => els.map(e => {
        const r = e.getBoundingClientRect(); const s = e.ownerSVGElement.getBoundingClientRect();
        return {text: e.textContent, left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                svgLeft: s.left, svgRight: s.right, svgTop: s.top, svgBottom: s.bottom}; })""")


def test_results_page_is_readable_in_chromium(results, monkeypatch, capsys):
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(results / "data"))
    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(results / "templates"))
    out = results / "out" / "results.csv"
    assert cli.main(["report", "--out", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["contacted"] > 0 and summary["uplift"]["lift"] is not None
    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            for width in (1280, 800):
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(out.with_suffix(".html").as_uri())
                assert page.locator("a", has_text="Download the results CSV").get_attribute("href") == "results.csv"
                # Legends: every label whole ("holdout", "unsubscribed"), inside its chart.
                legend = _boxes(page, "svg g[id^=legend] text")
                assert {"detected", "contacted", "holdout", "delivered", "opened", "clicked",
                        "unsubscribed"} <= {b["text"] for b in legend}
                for b in legend:
                    assert b["svgLeft"] - 0.5 <= b["left"] and b["right"] <= b["svgRight"] + 0.5, b
                # Axis labels of every chart: inside the chart, no two overlapping.
                svgs = page.locator("svg")
                for i in range(svgs.count()):
                    labels = svgs.nth(i).evaluate("""svg => [...svg.querySelectorAll('g[id^=xtick] text')]
                        .map(e => { const r = e.getBoundingClientRect(); const s = svg.getBoundingClientRect();
                          return {text: e.textContent, left: r.left, right: r.right, svgLeft: s.left,
                                  svgRight: s.right}; })""")
                    labels.sort(key=lambda b: b["left"])
                    for a, b in zip(labels, labels[1:], strict=False):
                        if a["text"].strip() and b["text"].strip():
                            assert a["right"] <= b["left"] + 0.5, (a, b)
                    for b in labels:
                        assert b["svgLeft"] - 0.5 <= b["left"] and b["right"] <= b["svgRight"] + 0.5, b
                # The lift chart names its groups and draws the interval bars.
                lift = page.locator("svg").first
                names = lift.evaluate("svg => [...svg.querySelectorAll('g[id^=ytick] text')].map(e => e.textContent)")
                assert "all" in names and "birthday" in names
                assert lift.locator("g[id^=LineCollection] path").count() >= 1
                page.close()
        finally:
            browser.close()
