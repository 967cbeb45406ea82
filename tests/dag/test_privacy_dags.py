"""The privacy DAGs: an erasure request file in the inbox is carried out and deleted; retention runs daily."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]


def test_erasure_request_in_the_inbox_and_daily_retention(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    from milestones.core import storage
    from milestones.core.config import load_settings
    from milestones.decide.preferences import Change, Preferences
    from milestones.privacy import registry

    data = tmp_path / "data"
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(data))
    settings = load_settings()
    Preferences(settings.ledger_database_url).apply("C1", Change(unsubscribed=True), "one_click",
                                                    email="ada@example.com")
    storage.write_parquet(pd.DataFrame({"customer_id": ["C1", "C2"], "email": ["ada@example.com", "b@example.com"]}),
                          storage.snapshot_path(data, "2026-11-01"))
    storage.write_parquet(pd.DataFrame({"customer_id": ["C2"], "email": ["b@example.com"]}),
                          storage.snapshot_path(data, "2026-11-20"))
    settings.inbox.mkdir(parents=True, exist_ok=True)
    request = settings.inbox / "erasure_requests_2026-11-22.csv"
    request.write_text("customer_id\nC1\n")

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    run = bag.dags["privacy_erasure"].test(logical_date=dt.datetime(2026, 11, 22, tzinfo=dt.UTC))
    assert run.state == "success"
    assert not request.exists()
    assert storage.read_parquet(storage.snapshot_path(data, "2026-11-01"))["customer_id"].tolist() == ["C2"]
    logged = registry.history(registry.engine_for(settings.ledger_database_url))
    assert [(e["customers"], e["source"]) for e in logged] == [(1, "inbox")]
    assert logged[0]["operator"].startswith("dag:privacy_erasure:")

    run = bag.dags["privacy_retention"].test(logical_date=dt.datetime(2026, 12, 31, tzinfo=dt.UTC))
    assert run.state == "success"
    # 35 days of extracts: the 1 November snapshot goes, the newest stays.
    assert not (data / "snapshots" / "2026-11-01").exists()
    assert (data / "snapshots" / "2026-11-20" / "snapshot.parquet").is_file()
