from __future__ import annotations

import asyncio
import datetime as dt
import os

import pandas as pd

from milestones.airflow.triggers import InboxTrigger, claim_next
from milestones.core import storage


def test_atomic_parquet_roundtrip(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "ü"]})
    path = storage.write_parquet(frame, tmp_path / "s" / "f.parquet")
    assert storage.read_parquet(path).equals(frame)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]


def test_latest_snapshot_before(tmp_path):
    for day in ("2026-11-20", "2026-11-21", "2026-11-23"):
        storage.write_parquet(pd.DataFrame({"a": [1]}), storage.snapshot_path(tmp_path, day))
    storage.stage_dir(tmp_path, "snapshots", "2026-11-22")  # an empty (failed) day is skipped
    assert storage.latest_snapshot_before(tmp_path, "2026-11-23").parent.name == "2026-11-21"
    assert storage.latest_snapshot_before(tmp_path, dt.date(2026, 11, 20)) is None


def test_claim_waits_until_the_file_settles(tmp_path):
    inbox, received = tmp_path / "inbox", tmp_path / "received"
    inbox.mkdir()
    (inbox / "customers_2026-11-22.csv").write_text("a")
    (inbox / "notes.txt").write_text("ignored: not an extract name")
    settled: dict = {}
    assert claim_next(inbox, received, settled) is None  # first sight: maybe still copying
    claimed = claim_next(inbox, received, settled)
    assert claimed == received / "customers_2026-11-22.csv" and claimed.read_text() == "a"
    assert sorted(p.name for p in inbox.iterdir()) == ["notes.txt"]
    assert claim_next(inbox, received, settled) is None  # handed over exactly once


def test_growing_file_is_not_claimed(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    f = inbox / "customers_2026-11-22.csv"
    f.write_text("a")
    settled: dict = {}
    claim_next(inbox, tmp_path / "r", settled)
    f.write_text("ab")  # still being written
    assert claim_next(inbox, tmp_path / "r", settled) is None


def test_redelivered_name_never_overwrites(tmp_path):
    inbox, received = tmp_path / "inbox", tmp_path / "received"
    inbox.mkdir(), received.mkdir()
    (received / "customers_2026-11-22.csv").write_text("old")
    f = inbox / "customers_2026-11-22.csv"
    f.write_text("new")
    os.utime(f, (1_700_000_000, 1_700_000_000))
    settled: dict = {}
    claim_next(inbox, received, settled)
    claimed = claim_next(inbox, received, settled)
    assert claimed.read_text() == "new" and (received / "customers_2026-11-22.csv").read_text() == "old"
    # The copy keeps its name, so the ingest still reads the snapshot date from it.
    from milestones.pipeline import snapshot_day

    assert claimed.name == "customers_2026-11-22.csv" and snapshot_day(claimed).isoformat() == "2026-11-22"


def test_trigger_yields_the_claimed_path(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "customers_2026-11-22.parquet").write_bytes(b"PAR1")
    trigger = InboxTrigger(inbox=str(inbox), received=str(tmp_path / "received"), poke_interval=0.01)
    classpath, kwargs = trigger.serialize()
    assert classpath == "milestones.airflow.triggers.InboxTrigger" and InboxTrigger(**kwargs).inbox == str(inbox)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(asyncio.wait_for(first_event(), timeout=5))
    assert payload == {"path": str(tmp_path / "received" / "customers_2026-11-22.parquet")}


def test_a_gate_failure_fails_the_ingest_task_without_retry_and_is_kept(tmp_path, monkeypatch):
    """A file refused by the gate raises Airflow's no-retry failure (a bad file stays bad) and is
    recorded for the runs page; the other failures stay plain exceptions, which Airflow retries."""
    import json

    import pytest
    from airflow.sdk.exceptions import AirflowFailException

    from milestones.airflow import tasks

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "customers_2026-11-23.csv"
    bad.write_bytes("customer_id,first_name,email\nC1,Jos\u00e9,jose@example.com\n".encode("latin-1"))
    with pytest.raises(AirflowFailException, match="UTF-8") as failed:
        tasks.validate(str(bad), {"outlet_events": {}})
    assert "Jos" not in str(failed.value)  # the message names the line, never the value
    kept = json.loads((tmp_path / "data" / "ingest_failures" / f"{bad.name}.json").read_text())
    assert kept["kind"] == "customers" and kept["error"] == str(failed.value)
    outcomes = tmp_path / "outcomes_2026-11-23.csv"
    outcomes.write_bytes(b"\xff\xfe not a csv")
    with pytest.raises(AirflowFailException):
        tasks.load_outcomes(str(outcomes))
    # A passing fault inside the stage is not a gate failure: a plain exception, retried.
    def locked(*args, **kwargs):
        raise OSError("database is locked")

    monkeypatch.setattr(tasks.pipeline, "validate_stage", locked)
    good = tmp_path / "customers_2026-11-24.csv"
    good.write_text("customer_id\nC1\n")
    with pytest.raises(OSError, match="locked") as passing:
        tasks.validate(str(good), {"outlet_events": {}})
    assert not isinstance(passing.value, AirflowFailException)
    assert not (tmp_path / "data" / "ingest_failures" / f"{good.name}.json").exists()
