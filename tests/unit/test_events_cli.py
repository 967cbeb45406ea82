"""`milestones detect` on the bundled sample extracts: files, columns, summary, validation."""

from __future__ import annotations

import json

import pandas as pd

from milestones.cli import main
from milestones.ingest.validation import validate_extract


def run_detect(capsys, *args: str) -> dict:
    assert main(["detect", *args]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    return json.loads(last)


def test_detect_writes_csv_and_parquet_with_the_same_events(tmp_path, capsys, sample_current, sample_previous):
    common = ["--extract", str(sample_current), "--previous", str(sample_previous), "--as-of", "2026-11-22"]
    csv_summary = run_detect(capsys, *common, "--out", str(tmp_path / "ev.csv"))
    pq_summary = run_detect(capsys, *common, "--out", str(tmp_path / "ev.parquet"))
    csv = pd.read_csv(tmp_path / "ev.csv", dtype=str)
    pq = pd.read_parquet(tmp_path / "ev.parquet")
    for col in ("customer_id", "event_type", "event_date", "key", "milestone", "stale"):
        assert col in csv.columns and col in pq.columns
    assert sorted(csv["key"]) == sorted(pq["key"].astype(str))
    assert csv_summary["events"] == len(csv) == pq_summary["events"] > 0
    assert csv_summary["by_type"] == csv["event_type"].value_counts().sort_index().to_dict()
    assert csv["key"].is_unique
    # The extract was validated first: quarantined customers get no events.
    checked = validate_extract(sample_current, as_of="2026-11-22")
    assert csv_summary["quarantined"] == len(checked.quarantine)
    assert set(csv["customer_id"]) <= set(checked.valid["customer_id"])


def test_change_events_need_a_previous_snapshot(tmp_path, capsys, sample_current, sample_previous):
    base = ["--extract", str(sample_current), "--as-of", "2026-11-22"]
    run_detect(capsys, *base, "--previous", str(sample_previous), "--out", str(tmp_path / "with.csv"))
    run_detect(capsys, *base, "--out", str(tmp_path / "without.csv"))
    with_prev = pd.read_csv(tmp_path / "with.csv", dtype=str)
    without = pd.read_csv(tmp_path / "without.csv", dtype=str)
    assert (with_prev["source"] == "change").any()
    assert not (without["source"] == "change").any()


def test_window_adds_missed_days_once(tmp_path, capsys, sample_current):
    base = ["--extract", str(sample_current), "--as-of", "2026-11-22"]
    one = run_detect(capsys, *base, "--out", str(tmp_path / "one.csv"))
    week = run_detect(capsys, *base, "--days", "7", "--out", str(tmp_path / "week.csv"))
    today = set(pd.read_csv(tmp_path / "one.csv", dtype=str)["key"])
    seven = pd.read_csv(tmp_path / "week.csv", dtype=str)
    assert today <= set(seven["key"]) and seven["key"].is_unique
    assert week["events"] >= one["events"]
    assert set(seven["event_date"]) <= {f"2026-11-{d}" for d in range(16, 23)}


def test_bad_out_extension_is_refused(tmp_path, capsys, sample_current):
    code = main(["detect", "--extract", str(sample_current), "--as-of", "2026-11-22",
                 "--out", str(tmp_path / "ev.json")])
    assert code != 0
    assert ".csv or .parquet" in capsys.readouterr().err
