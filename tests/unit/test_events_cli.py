"""`milestones detect` on the bundled sample extracts: files, columns, summary, validation."""

from __future__ import annotations

import contextlib
import io
import json

import pandas as pd
import pytest

from milestones.cli import main
from milestones.ingest.validation import validate_extract
from tests.conftest import SAMPLES

CURRENT, PREVIOUS = SAMPLES / "customers_2026-11-22.csv", SAMPLES / "customers_2026-11-21.csv"


def run_detect(*args: str) -> dict:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["detect", *args]) == 0
    return json.loads(out.getvalue().strip().splitlines()[-1])


@pytest.fixture(scope="module")
def detected(tmp_path_factory):
    """Each distinct `detect` command once (each validates the extracts with GX): {name: (summary, out file)}.

    Several tests read the same run; none of them writes to its file.
    """
    out = tmp_path_factory.mktemp("detect")
    base = ["--extract", str(CURRENT), "--as-of", "2026-11-22"]
    runs = {"with_previous.csv": [*base, "--previous", str(PREVIOUS)],
            "with_previous.parquet": [*base, "--previous", str(PREVIOUS)],
            "one_day.csv": base,
            "week.csv": [*base, "--days", "7"]}
    return {name: (run_detect(*args, "--out", str(out / name)), out / name) for name, args in runs.items()}


def test_detect_writes_csv_and_parquet_with_the_same_events(detected):
    csv_summary, csv_path = detected["with_previous.csv"]
    pq_summary, pq_path = detected["with_previous.parquet"]
    csv = pd.read_csv(csv_path, dtype=str)
    pq = pd.read_parquet(pq_path)
    for col in ("customer_id", "event_type", "event_date", "key", "milestone", "stale"):
        assert col in csv.columns and col in pq.columns
    assert sorted(csv["key"]) == sorted(pq["key"].astype(str))
    assert csv_summary["events"] == len(csv) == pq_summary["events"] > 0
    assert csv_summary["by_type"] == csv["event_type"].value_counts().sort_index().to_dict()
    assert csv["key"].is_unique
    # The extract was validated first: quarantined customers get no events.
    checked = validate_extract(CURRENT, as_of="2026-11-22")
    assert csv_summary["quarantined"] == len(checked.quarantine)
    assert set(csv["customer_id"]) <= set(checked.valid["customer_id"])


def test_change_events_need_a_previous_snapshot(detected):
    with_prev = pd.read_csv(detected["with_previous.csv"][1], dtype=str)
    without = pd.read_csv(detected["one_day.csv"][1], dtype=str)
    assert (with_prev["source"] == "change").any()
    assert not (without["source"] == "change").any()


def test_window_adds_missed_days_once(detected):
    one, one_path = detected["one_day.csv"]
    week, week_path = detected["week.csv"]
    today = set(pd.read_csv(one_path, dtype=str)["key"])
    seven = pd.read_csv(week_path, dtype=str)
    assert today <= set(seven["key"]) and seven["key"].is_unique
    assert week["events"] >= one["events"]
    assert set(seven["event_date"]) <= {f"2026-11-{d}" for d in range(16, 23)}


def test_bad_out_extension_is_refused(tmp_path, capsys, sample_current):
    code = main(["detect", "--extract", str(sample_current), "--as-of", "2026-11-22",
                 "--out", str(tmp_path / "ev.json")])
    assert code != 0
    assert ".csv or .parquet" in capsys.readouterr().err
