"""Outcomes extracts: validation reasons, the gate, de-duplication across loads, the CLI."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from milestones import cli
from milestones.core.config import load_settings
from milestones.measure import outcomes

pytestmark = pytest.mark.unit

GOOD = """customer_id,outcome,occurred_at,value
C1,purchase,2026-11-23T10:15:00+02:00,49.90
C2,purchase,2026-11-23T08:00:00Z,
C2,purchase,2026-11-23T08:00:00Z,
C3,login,2026-11-22 23:59+0200,
C4,Purchase!,2026-11-23T10:15:00+02:00,1
C5,purchase,2026-11-23T10:15:00,3
C6,purchase,2026-11-23T10:15:00Z,abc
,purchase,2026-11-23T10:15:00Z,1
C7,purchase,2030-01-01T00:00:00Z,1
C8,purchase,2026-11-23T10:15:00Z,inf
"""


def test_load_quarantines_with_reasons_and_stores_each_outcome_once(tmp_path, capsys):
    settings = load_settings(data_dir=tmp_path / "data", max_invalid_share=0.9)
    first = tmp_path / "outcomes_2026-11-23.csv"
    first.write_text(GOOD, encoding="utf-8")
    summary = outcomes.load(first, settings)
    assert (summary["rows"], summary["valid"], summary["quarantined"]) == (10, 4, 6)
    assert summary["reasons"] == {"customer_id:missing": 1, "occurred_at:in_future": 1,
                                  "occurred_at:unparseable": 1, "outcome:invalid_name": 1,
                                  "value:not_a_number": 2}
    assert summary["duplicates"] == 1 and summary["stored"] == 3
    quarantine = pd.read_parquet(tmp_path / "data" / summary["quarantine"])
    assert quarantine["row_number"].tolist() == [6, 7, 8, 9, 10, 11]
    assert (tmp_path / "data" / "docs" / summary["data_docs"]).is_file()
    stored = pd.read_parquet(tmp_path / "data" / summary["outcomes"]).set_index("customer_id")
    assert str(stored.loc["C1", "occurred_at"]) == "2026-11-23 08:15:00+00:00"
    assert stored.loc["C1", "value"] == pytest.approx(49.9)
    assert str(stored.loc["C3", "occurred_at"]) == "2026-11-22 21:59:00+00:00"

    # The next day's extract repeats C1's purchase (same instant, other offset): stored once.
    second = tmp_path / "outcomes_2026-11-24.parquet"
    pd.DataFrame({"customer_id": ["C1", "C9"], "outcome": ["purchase", "purchase"],
                  "occurred_at": ["2026-11-23T11:15:00+03:00", "2026-11-24T09:00:00+00:00"],
                  "value": ["49.90", "5"]}).to_parquet(second)
    assert cli.main(["outcomes", "load", str(second), "--data-dir", str(tmp_path / "data")]) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (last["rows"], last["valid"], last["quarantined"], last["already_stored"], last["stored"]) == (2, 2, 0, 1, 1)
    every = outcomes.read_all(tmp_path / "data", "purchase")
    assert sorted(every["customer_id"]) == ["C1", "C2", "C9"]


def test_gate_and_unreadable_files_exit_non_zero(tmp_path, capsys):
    bad = tmp_path / "outcomes_2026-11-23.csv"
    bad.write_text("customer_id,outcome,occurred_at\nC1,purchase,yesterday\nC2,purchase,2026-11-23T08:00Z\n",
                   encoding="utf-8")
    data = str(tmp_path / "data")
    assert cli.main(["outcomes", "load", str(bad), "--data-dir", data]) == cli.EXIT_GATE
    out = capsys.readouterr()
    assert "1 of 2 rows invalid" in out.err
    assert not (tmp_path / "data" / "outcomes" / "2026-11-23" / "outcomes.parquet").exists()
    missing = tmp_path / "outcomes_2026-11-25.csv"
    missing.write_text("customer_id,occurred_at\nC1,2026-11-23T08:00Z\n", encoding="utf-8")
    assert cli.main(["outcomes", "load", str(missing), "--data-dir", data]) == cli.EXIT_GATE  # a file-gate failure
    assert "missing required column(s): outcome" in capsys.readouterr().err
