"""Results report: counts from decisions, ledger and webhook events; CSV and the UI page."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from fastapi.testclient import TestClient

from milestones import pipeline
from milestones.core.config import load_settings
from milestones.measure import report
from milestones.measure.feedback import Feedback


def test_report_counts_and_pages(tmp_path, monkeypatch, sample_current, sample_previous):
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path))
    settings = load_settings()
    summary = pipeline.run(sample_current, "2026-11-22", settings, previous=sample_previous,
                          at=dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC))
    sent = [p.stem for p in (tmp_path / "outbox").glob("*.eml")]
    feedback = Feedback(settings.ledger_database_url)
    feedback.ingest([{"event": "delivered", "key": k, "sg_event_id": f"d{k}", "email": "x@example.com"}
                     for k in sent[:10]]
                    + [{"event": "open", "key": k, "sg_event_id": f"o{k}"} for k in sent[:4]]
                    + [{"event": "click", "key": sent[0], "sg_event_id": "c0"},
                       {"event": "click", "key": sent[0], "sg_event_id": "c1"},  # two clicks, one email
                       {"event": "unsubscribe", "key": sent[1], "sg_event_id": "u1", "email": "y@example.com"}])
    rows = report.build(tmp_path, settings.ledger_database_url)
    total = {c: sum(r[c] for r in rows) for c in report.COUNTS}
    assert total["detected"] == sum(summary["events"].values())
    # A couple's one email contacts both of them.
    assert total["contacted"] == summary["emails_sent"] + summary["skipped"]["couple_shared_email"]
    assert summary["emails_sent"] == len(sent)
    assert total["holdout"] == summary["skipped"].get("holdout", 0)
    assert (total["delivered"], total["opened"], total["clicked"], total["unsubscribed"]) == (10, 4, 1, 1)
    assert {r["locale"] for r in rows} >= {"en", "fi", "et", "zh"}

    from tests.staff import staff_app

    client = TestClient(staff_app())
    page = client.get("/report/")
    assert page.status_code == 200 and "<svg" in page.text and "Milestones results" in page.text
    parsed = list(csv.DictReader(io.StringIO(client.get("/report/report.csv").text)))
    assert sum(int(r["contacted"]) for r in parsed) == total["contacted"]
    # Plain data, fit for CSV and XCom: JSON gives back the very same rows (no numpy
    # numbers, dates or tuples), and the CSV download holds the same values.
    assert json.loads(json.dumps(rows)) == rows
    # The download is what `milestones report` writes: held-out events under the A/B variant
    # their customer would have received ("base" here), as the uplift compares them.
    written = report.results(settings)["rows"]
    assert [{c: str(r[c]) for c in report.COLUMNS} for r in written] == [
        {c: r[c] for c in report.COLUMNS} for r in parsed]
