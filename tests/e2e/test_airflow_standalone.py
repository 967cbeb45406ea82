"""The real thing: ``airflow standalone`` with the project's DAGs and plugin.

Drops the two sample extracts into the inbox and waits for the event-driven
chain (inbox watcher -> ingest -> snapshot asset -> detection) to render the
day's emails, then triggers delivery and checks the outbox and the plugin page.
Slow (Airflow's own start-up dominates), so it is one test.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "plugins" / "milestones" / "samples"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The log lines that say what happened to the extracts and the tasks, whatever came after.
_STORY = ("claimed extract", "Trigger fired", "Created asset-triggered", "final_state=",
          "Task failed", "Marking run", "Traceback", "[error", "up_for_retry")


def _wait(predicate, timeout: float, what: str, log: Path):
    """Poll ``predicate`` until ``timeout``; on time-out, fail with the story of the run.

    Timeouts leave room for one retry of a task (the DAGs retry after a minute or two):
    a machine loaded several times over must not fail a run that Airflow recovers.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(2)
    text = log.read_text(errors="replace") if log.exists() else ""
    story = "\n".join(line[:400] for line in text.splitlines() if any(s in line for s in _STORY))
    pytest.fail(f"timed out waiting for {what}; what the tasks did:\n{story[-12000:]}\n"
                f"standalone log tail:\n{text[-3000:]}")


@pytest.fixture
def standalone(tmp_path):
    port = _free_port()
    bin_dir = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(_free_port()),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "MILESTONES_DATA_DIR": str(tmp_path / "data"),
        # A private copy: the test approves a template through the UI.
        "MILESTONES_TEMPLATES_DIR": str(tmp_path / "templates"),
    }
    shutil.copytree(ROOT / "templates", tmp_path / "templates")
    log = tmp_path / "standalone.log"
    (tmp_path / "data" / "inbox").mkdir(parents=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(bin_dir / "airflow"), "standalone"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield {"port": port, "env": env, "data": tmp_path / "data", "log": log}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def test_extract_landing_in_inbox_runs_the_chain(standalone):
    data, log, port = standalone["data"], standalone["log"], standalone["port"]

    base = f"http://127.0.0.1:{port}"
    passwords = Path(standalone["env"]["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"

    def token() -> str:
        """A JWT from Airflow's auth manager for the standalone admin (POST /auth/token)."""
        body = json.dumps({"username": "admin", "password": json.loads(passwords.read_text())["admin"]}).encode()
        request = urllib.request.Request(f"{base}/auth/token", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            return json.loads(resp.read())["access_token"]

    def status(path: str, bearer: str | None = None, **kw) -> tuple[int, str]:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        request = urllib.request.Request(base + path, headers={**headers, **kw.pop("headers", {})}, **kw)
        try:  # the results page draws its charts on first use (matplotlib): give it time on a busy machine
            with urllib.request.urlopen(request, timeout=120) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    def up() -> bool:
        try:
            return passwords.is_file() and status("/milestones/", token())[0] == 200
        except OSError:
            return False

    _wait(up, 300, "the API server with the milestones plugin", log)
    jwt = token()

    def page(path: str) -> str:
        code, text = status(path, jwt)
        assert code == 200, (path, code)
        return text

    shutil.copy(SAMPLES / "customers_2026-11-21.csv", data / "inbox")
    _wait(lambda: (data / "snapshots" / "2026-11-21" / "snapshot.parquet").is_file(), 480,
          "the first extract to be claimed and validated", log)
    shutil.copy(SAMPLES / "customers_2026-11-22.csv", data / "inbox")
    _wait(lambda: (data / "runs" / "2026-11-22.json").is_file(), 480,
          "detection and rendering of 2026-11-22 (asset-triggered)", log)
    assert sorted(p.name for p in (data / "received").iterdir()) == [
        "customers_2026-11-21.csv", "customers_2026-11-22.csv"]
    assert not list((data / "inbox").iterdir())

    conf = json.dumps({"date": "2026-11-22", "due_before": "2100-01-01T00:00:00+00:00",
                       "at": "2026-11-22T23:00:00+00:00"})  # the day replayed: handed over that evening
    subprocess.run(["airflow", "dags", "trigger", "outreach_delivery", "--conf", conf],
                   env=standalone["env"], check=True, capture_output=True, timeout=120)
    _wait(lambda: json.loads((data / "runs" / "2026-11-22.json").read_text()).get("emails_sent", 0) > 0,
          240, "outreach_delivery to send", log)
    record = json.loads((data / "runs" / "2026-11-22.json").read_text())
    assert record["emails_sent"] == len(list((data / "outbox").glob("*.eml")))
    assert "2026-11-22" in page("/milestones/")

    # Every plugin page and data endpoint needs Airflow's login, like Airflow's own API.
    for path in ("/milestones/", "/milestones/runs.json", "/milestones/gallery/", "/milestones/report/",
                 "/milestones/report/report.csv", "/milestones/report/uplift.csv"):
        assert status(path)[0] == 401, path
        assert status(path, "not-a-jwt")[0] in (401, 403), path
        assert status(path, jwt)[0] == 200, path
    runs = json.loads(page("/milestones/runs.json"))
    assert str(data) not in json.dumps(runs) and runs["ingests"]
    docs = runs["ingests"][0]["data_docs"]
    assert docs and status(f"/milestones/{docs}")[0] == 401 and "Great Expectations" in page(f"/milestones/{docs}")

    # An outcomes extract in the same inbox is routed to load_outcomes by its name.
    (data / "inbox" / "outcomes_2026-11-23.csv").write_text(
        "customer_id,outcome,occurred_at,value\nC000001,purchase,2026-11-23T10:00:00+02:00,25\n", encoding="utf-8")
    _wait(lambda: (data / "outcomes" / "2026-11-23" / "outcomes.parquet").is_file(), 480,
          "the outcomes extract to be claimed and loaded", log)
    assert "outcomes_2026-11-23.csv" in page("/milestones/")

    # Approval in the UI: the approver is the logged-in Airflow user.
    form = urllib.parse.urlencode({"template": "birthday", "variant": "base"}).encode()
    code, text = status("/milestones/gallery/approve", jwt, data=form, method="POST",
                        headers={"Origin": base, "Content-Type": "application/x-www-form-urlencoded"})
    assert code == 200 and "approved by admin" in text
    assert status("/milestones/gallery/approve", data=form, method="POST", headers={"Origin": base})[0] == 401
