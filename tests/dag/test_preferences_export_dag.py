"""The daily preferences_export DAG writes the CRM file and publishes it as an asset."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_daily_export_publishes_the_file(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from milestones.core.config import load_settings
    from milestones.decide.preferences import Change, Preferences

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    store = Preferences(load_settings().ledger_database_url)
    store.apply("C1", Change(unsubscribed=True), "one_click", email="ada@example.com")
    store.apply("=HYPERLINK(1)", Change(opted_out=frozenset({"birthday"})), "crm_import")

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["preferences_export"]
    run = dag.test(logical_date=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert run.state == "success"
    ti = next(t for t in run.get_task_instances() if t.task_id == "export")
    assert ti.state == "success"
    files = sorted((tmp_path / "data" / "exports" / "preferences").glob("preferences_*.csv"))
    assert len(files) == 1
    with open(files[0], encoding="utf-8", newline="") as fh:
        rows = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert rows["C1"]["unsubscribed"] == "true" and rows["C1"]["updated_by"] == "one_click"
    assert rows["'=HYPERLINK(1)"]["opted_out_types"] == "birthday"  # formula-safe cell
