"""A run that would send far more than usual stops before sending, until approved."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

from milestones import pipeline
from milestones.core.config import load_settings


def test_breaker_holds_then_approval_releases(tmp_path, sample_current, sample_previous):
    settings = load_settings(data_dir=tmp_path, breaker_min_sends=5, holdout_share=0.0)
    runs = tmp_path / "runs"
    runs.mkdir(parents=True)
    for day in ("2026-11-19", "2026-11-20", "2026-11-21"):  # a usual day: 4 birthdays
        (runs / f"{day}.json").write_text(json.dumps({"sends_by_type": {"birthday": 4}}))

    held = pipeline.run(sample_current, "2026-11-22", settings, previous=sample_previous,
                          at=dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC))
    assert "birthday" in held["circuit_breaker"] and "approve-run 2026-11-22" in held["circuit_breaker"]
    assert held["skipped"]["circuit_breaker"] > 0
    outbox = list((tmp_path / "outbox").glob("*.eml"))
    assert not any("X-Milestones-Event: birthday" in p.read_text() for p in outbox)
    assert held["emails_sent"] == len(outbox)  # the other event types went out

    milestones = str(Path(sys.executable).with_name("milestones"))
    ok = subprocess.run([milestones, "approve-run", "2026-11-22", "--by", "Maria (marketing)",
                         "--data-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    released = pipeline.run(sample_current, "2026-11-22", settings, previous=sample_previous,
                          at=dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC))
    assert "circuit_breaker" not in released and released["emails_sent"] == held["skipped"]["circuit_breaker"]
