"""Marketing without an engineer, in a real Airflow (``airflow standalone``) through Chromium.

Two named users of Airflow's simple auth manager log in through Airflow's own login page:
``jaan`` (viewer) sees the changes and the history but no button, and is refused (403)
when he posts anyway; ``mari`` (approver: role ``user``) approves with a note (recorded as
``mari``), approves a second version, rolls back to the first (which then waits for an
approval) and approves it again. The results page, precomputed from 40 days of the
benchmark's synthetic data (3,000 customers), is read at 1280 px: answers first, visible
without scrolling sideways, served in under 2 s.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

from tests.e2e.test_airflow_standalone import _free_port, _wait

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]
USERS = "admin:admin,mari:user,jaan:viewer"

pytestmark = pytest.mark.e2e


def _bench():
    spec = importlib.util.spec_from_file_location("benchmarks_report", ROOT / "benchmarks" / "report.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    return bench


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("marketing")
    _bench().generate(tmp, 3000, days=40)  # tmp/data: decisions, messages, ledger, outcomes
    # The shipped templates, without a checkout's own history (gitignored runtime state).
    shutil.copytree(ROOT / "templates", tmp / "own-templates", ignore=shutil.ignore_patterns("history"))
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": USERS,
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "MILESTONES_DATA_DIR": str(tmp / "data"),
        "MILESTONES_TEMPLATES_DIR": str(tmp / "own-templates"),
    }
    # The results are precomputed, as the outreach_delivery DAG's summarize_results task does.
    subprocess.run([str(bin_dir / "python"), "-c", "from milestones.airflow import tasks; "
                    "print(tasks.summarize_results())"], env=env, check=True, capture_output=True, timeout=600)
    log = tmp / "standalone.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    passwords = tmp / "airflow" / "simple_auth_manager_passwords.json.generated"

    def up() -> bool:
        try:
            with urllib.request.urlopen(f"{base}/api/v2/version", timeout=5) as resp:
                return resp.status == 200 and passwords.is_file() and len(json.loads(passwords.read_text())) == 3
        except (OSError, ValueError):
            return False

    try:
        _wait(up, 300, "the API server with three users", log)
        yield {"base": base, "passwords": json.loads(passwords.read_text()), "templates": tmp / "own-templates",
               "log": log}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.is_file(), "chromium missing: scripts/test-deps.sh installs it (apt-get install chromium)"
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        yield b
        b.close()


def login(browser, airflow, user: str, width: int = 1280):
    """A browser context logged in as ``user`` through Airflow's own login page."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.goto(f"{airflow['base']}/milestones/gallery/", wait_until="load")  # redirected to Airflow's login
    page.wait_for_selector("input[name=username]", timeout=60_000)
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", airflow["passwords"][user])
    page.click("button[type=submit]")
    page.wait_for_url("**/milestones/gallery/", timeout=60_000)
    return context, page


def post_status(page, path: str, form: dict[str, str]) -> int:
    """POST a form from the page itself (same origin), as a crafted request would: the HTTP status."""
    return page.evaluate("""async ([path, form]) => {
        const r = await fetch(path, {method: 'POST', body: new URLSearchParams(form)}); return r.status; }""",
                         [path, form])


def subject(templates: Path) -> str:
    return (templates / "graduation" / "en.subject.txt").read_text(encoding="utf-8")


def approval(templates: Path) -> dict:
    return yaml.safe_load((templates / "catalog.yaml").read_text(encoding="utf-8"))["templates"]["graduation"]["approved"]


def test_viewer_reads_approver_approves_and_rolls_back(airflow, browser):
    templates = airflow["templates"]
    viewer, page = login(browser, airflow, "jaan")
    try:
        # The gallery, seen once with every template approved, keeps those versions; then someone edits one.
        assert page.locator("section.template .ok").count() == 7
        (templates / "graduation" / "en.subject.txt").write_text("Well done, {{ name }}: you graduated!\n",
                                                                 encoding="utf-8")
        page.reload(wait_until="load")
        section = page.locator("section.template", has_text="graduation")
        assert "not approved" in section.inner_text() and "sha256" not in section.inner_text()
        assert page.locator("form.approve").count() == 0
        section.locator("a.history").first.click()
        page.wait_for_load_state("load")
        assert page.locator("#arm-base ins").first.inner_text().strip()  # the new words, marked
        assert page.locator("button").count() == 0
        assert "approving needs the approver role" in page.inner_text("body")
        assert post_status(page, "/milestones/templates/graduation/approve", {"variant": "base"}) == 403
        assert post_status(page, "/milestones/gallery/approve", {"template": "graduation"}) == 403
        assert approval(templates)["by"] != "jaan"
    finally:
        viewer.close()

    approver, page = login(browser, airflow, "mari")
    try:
        assert page.locator("form.approve").count() >= 1
        page.goto(f"{airflow['base']}/milestones/templates/graduation/", wait_until="load")
        page.fill("#arm-base form.approve input[name=note]", "subject in words people use")
        page.click("#arm-base form.approve button")
        page.wait_for_load_state("load")
        assert "graduation approved by mari" in page.inner_text("#result")
        first = approval(templates)
        assert first["by"] == "mari" and "subject in words" in page.inner_text("body")
        # A second version, approved too.
        (templates / "graduation" / "en.subject.txt").write_text("Congratulations, {{ name }}!\n", encoding="utf-8")
        page.goto(f"{airflow['base']}/milestones/templates/graduation/", wait_until="load")
        page.fill("#arm-base form.approve input[name=note]", "shorter")
        page.click("#arm-base form.approve button")
        page.wait_for_load_state("load")
        assert approval(templates)["hash"] != first["hash"]
        # Roll back to the first: its text is back, and it waits for an approval.
        page.click("#arm-base form.rollback button")
        page.wait_for_load_state("load")
        assert "needs an approval" in page.inner_text("#result")
        assert subject(templates) == "Well done, {{ name }}: you graduated!\n"
        assert "Not approved" in page.inner_text("#state-base")
        page.click("#arm-base form.approve button")
        page.wait_for_load_state("load")
        assert "Approved" in page.inner_text("#state-base") and approval(templates)["hash"] == first["hash"]
    finally:
        approver.close()


def test_results_page_at_1280_px(airflow, browser):
    context, page = login(browser, airflow, "jaan")
    try:
        started = time.perf_counter()
        answer = page.goto(f"{airflow['base']}/milestones/report/", wait_until="load")
        took = time.perf_counter() - started
        assert answer.status == 200 and took < 2.0, took
        answers = page.locator("#answers li")
        assert answers.count() >= 2 and "Birthday emails" in page.inner_text("#answers")
        for i in range(answers.count()):
            box = answers.nth(i).bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, box
        assert answers.first.bounding_box()["y"] < 900  # the answer is on the first screen
        assert "contacted_conversions" not in page.content() and "Held-out customers" in page.content()

        def sideways() -> int:
            return page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")

        assert sideways() <= 0
        page.evaluate("() => document.querySelectorAll('details').forEach(d => d.open = true)")
        assert sideways() <= 0  # details open: still no horizontal scroll
        # The over-time chart's x axis covers the 40 days of data, not years.
        ticks = page.evaluate("""() => [...document.querySelectorAll('svg')].map(s =>
            [...s.querySelectorAll('g[id^=xtick] text')].map(t => t.textContent)).filter(t => t.length)""")
        assert not any(str(year) in " ".join(sum(ticks, [])) for year in (2025, 2027, 2028, 2029))
        assert page.locator("a", has_text="Download the results CSV").count() == 1
        assert page.locator("form[action*=promote]").count() == 0  # a viewer
    finally:
        context.close()
