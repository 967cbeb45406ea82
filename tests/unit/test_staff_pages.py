"""Staff pages: login required everywhere, runs page with failed ingests, Data Docs served, inbox routing."""

from __future__ import annotations

import json
import os

import pytest
from fastapi.testclient import TestClient

from milestones.airflow import tasks
from milestones.airflow.triggers import claim_next
from milestones.core import storage
from milestones.staff import create_app
from tests.staff import staff_app

pytestmark = pytest.mark.unit

ROUTES = ["/", "/runs.json", "/gallery/", "/gallery/index.html", "/report/", "/report/report.csv",
          "/report/uplift.csv", "/docs/index.html"]


@pytest.fixture
def data(tmp_path, monkeypatch):
    data = tmp_path / "data"
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(data))
    site = data / "docs" / "gx" / "uncommitted" / "data_docs" / "local_site"
    page = site / "validations" / "crm_extract" / "customers_2026-11-22.csv" / "x" / "customers_2026-11-22.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html>expectations</html>", encoding="utf-8")
    (site / "index.html").write_text("<html>index</html>", encoding="utf-8")
    storage.write_json({"extract": str(tmp_path / "inbox" / "customers_2026-11-22.csv"), "snapshot_date": "2026-11-22",
                        "rows": 100, "valid": 80, "quarantined": 20, "reasons": {"email:invalid": 15,
                                                                                "customer_id:missing": 5},
                        "gate_passed": False, "gate_message": "20 of 100 rows invalid", "data_docs": str(page),
                        "quarantine": str(data / "snapshots" / "2026-11-22" / "quarantine.parquet")},
                       data / "snapshots" / "2026-11-22" / "validation.json")
    storage.write_json({"as_of": "2026-11-21", "rows": 5, "skipped": {"holdout": 1},
                        "data_docs": str(page), "validation": {"extract": "/srv/secret/customers.csv"}},
                       data / "runs" / "2026-11-21.json")
    return data


def test_every_route_needs_a_login(data):
    anonymous = TestClient(create_app())
    for route in ROUTES:
        assert anonymous.get(route).status_code == 401, route
    for route in ("/openapi.json", "/redoc"):  # nothing served outside the login (FastAPI's own pages are off)
        assert anonymous.get(route).status_code in (401, 404), route
    # A browser asking for a page without a login is sent to the login page.
    redirecting = TestClient(create_app(login_url=lambda nxt: f"/auth/login?next={nxt}"), follow_redirects=False)
    answer = redirecting.get("/report/", headers={"accept": "text/html"})
    assert answer.status_code == 303 and answer.headers["location"] == "/auth/login?next=/report/"
    assert redirecting.get("/runs.json").status_code == 401
    # A current_user dependency that finds nobody (Airflow's raises 401 itself; an empty name is refused too).
    assert TestClient(create_app(current_user=lambda: None)).get("/").status_code == 401
    staff = TestClient(staff_app())
    for route in ROUTES:
        assert staff.get(route).status_code == 200, route


def test_runs_page_shows_failed_ingests_without_server_paths(data, tmp_path):
    staff = TestClient(staff_app())
    body = staff.get("/runs.json").json()
    text = json.dumps(body)
    assert str(tmp_path) not in text and "/srv/secret" not in text
    (ingest,) = body["ingests"]
    assert ingest["ok"] is False and ingest["quarantined"] == 20
    assert ingest["reasons"] == {"email:invalid": 15, "customer_id:missing": 5}
    assert body["runs"][0]["data_docs"].startswith("docs/gx/")
    page = staff.get("/").text
    assert str(tmp_path) not in page and "{" not in page.split("<body>")[1]  # tables, not Python dicts
    assert "FAILED: 20 of 100 rows invalid" in page and "<td>email:invalid</td><td>15</td>" in page
    link = ingest["data_docs"]
    assert f'href="{link}"' in page
    assert staff.get("/" + link).text == "<html>expectations</html>"
    assert staff.get("/docs/../../../../runs/2026-11-21.json").status_code == 404


def test_unreadable_extract_is_listed_as_a_failed_ingest(data, tmp_path):
    bad = tmp_path / "customers_2026-11-23.csv"
    bad.write_bytes(b"customer_id,first_name\n1,\xe4\n")
    with pytest.raises(Exception, match="not UTF-8|missing required"):
        tasks.validate(str(bad), {"outlet_events": {}})
    failed = [i for i in TestClient(staff_app()).get("/runs.json").json()["ingests"] if i["extract"] == bad.name]
    assert failed and failed[0]["ok"] is False and failed[0]["why"]


def test_inbox_claims_and_routes_outcomes_extracts(tmp_path):
    inbox, received = tmp_path / "inbox", tmp_path / "received"
    inbox.mkdir()
    for name in ("outcomes_2026-11-23.csv", "notes.csv"):
        (inbox / name).write_text("x\n", encoding="utf-8")
    settled: dict = {}
    assert claim_next(inbox, received, settled) is None  # first poll: size noted
    claimed = claim_next(inbox, received, settled)
    assert claimed == received / "outcomes_2026-11-23.csv" and os.listdir(inbox) == ["notes.csv"]
    assert tasks.route(str(claimed)) == "load_outcomes"
    assert tasks.route(str(received / "customers_2026-11-23.csv")) == "validate"
