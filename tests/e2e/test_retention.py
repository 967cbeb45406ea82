"""Retention: older files and webhook rows go; re-runs and `why` for recent days still work, and no
email is sent twice because its files are gone (the ledger's keys outlive them)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from milestones.cli import main
from milestones.core.config import load_settings
from tests.conftest import SAMPLES

AS_OF = "2026-12-27"  # 35 days of extracts: 2026-11-22 on; emails, webhook rows and Data Docs: 1 day


def _cli(capsys, *args) -> dict:
    assert main(list(args)) == 0, capsys.readouterr().err[-2000:]
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_retention_keeps_reruns_and_why_working_and_never_sends_twice(tmp_path, capsys, monkeypatch):
    from milestones.measure.feedback import Feedback, webhook_events

    data = tmp_path / "data"
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(data))
    for name in ("HOLDOUT_SHARE", "RETAIN_MESSAGES_DAYS", "RETAIN_WEBHOOK_DAYS", "RETAIN_DOCS_DAYS"):
        monkeypatch.setenv(f"MILESTONES_{name}", "0" if name == "HOLDOUT_SHARE" else "1")
    oldest = tmp_path / "customers_2026-11-20.csv"
    oldest.write_bytes((SAMPLES / "customers_2026-11-21.csv").read_bytes())
    first = _cli(capsys, "run", "--extract", str(oldest), "--as-of", "2026-11-20", "--at", "2026-11-20T06:00:00Z")
    _cli(capsys, "run", "--extract", str(SAMPLES / "customers_2026-11-21.csv"), "--as-of", "2026-11-21", "--at", "2026-11-21T06:00:00Z")
    second = _cli(capsys, "run", "--extract", str(SAMPLES / "customers_2026-11-22.csv"), "--as-of", "2026-11-22", "--at", "2026-11-22T06:00:00Z")
    assert second["emails_sent"] > 0
    feedback = Feedback(load_settings().ledger_database_url)
    feedback.ingest([{"event": "delivered", "email": "customer1@example.com", "sg_event_id": "d1"}])
    emls = sorted((data / "outbox").glob("*.eml"))
    assert len(emls) >= first["emails_sent"] + second["emails_sent"]

    dry = _cli(capsys, "retention", "apply", "--dry-run", "--as-of", AS_OF)
    assert dry["dry_run"] and dry["removed"]["messages"]["files"] == len(emls) + 3  # + three messages files
    assert dry["removed"]["webhook"]["rows"] == {"webhook_events": 1}
    # 2026-11-20 goes; 2026-11-21 stays as the previous of 2026-11-22, the oldest day kept.
    assert dry["removed"]["extract"]["files"] == 3
    assert len(list((data / "outbox").glob("*.eml"))) == len(emls) and (data / "snapshots" / "2026-11-20").is_dir()

    done = _cli(capsys, "retention", "apply", "--as-of", AS_OF)
    assert done["removed"] == dry["removed"]
    assert not (data / "snapshots" / "2026-11-20").exists() and not list((data / "messages").iterdir())
    for day in ("2026-11-21", "2026-11-22"):
        assert (data / "snapshots" / day / "snapshot.parquet").is_file()
    assert list((data / "outbox").glob("*.eml")) == []
    assert not [p for p in (data / "docs").rglob("*.*ml") if "validations" in p.parts]
    assert not [p for p in (data / "docs").rglob("*.json") if "validations" in p.parts]
    with feedback.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(webhook_events)).scalar() == 0
    assert (data / "decisions" / "2026-11-22" / "decisions.parquet").is_file()  # why reads them for 400 days

    decided = _cli(capsys, "why", "C000000")
    assert [(d["date"], d["email_state"]) for d in decided["decisions"]] == [("2026-11-22", "accepted")]

    again = _cli(capsys, "run", "--extract", str(SAMPLES / "customers_2026-11-22.csv"), "--as-of", "2026-11-22", "--at", "2026-11-22T06:00:00Z")
    assert again["emails_sent"] == 0 and again["skipped"]["already_sent"] == second["emails_sent"]
    older = _cli(capsys, "run", "--extract", str(oldest), "--as-of", "2026-11-20", "--at", "2026-11-20T06:00:00Z")
    assert older["emails_sent"] == 0 and older["skipped"].get("already_sent", 0) == first["emails_sent"]
    assert list((data / "outbox").glob("*.eml")) == []
