"""Stage files in object storage (setting ``data_url``) against a moto S3 server on 127.0.0.1.

The whole chain runs through the command line with ``MILESTONES_DATA_URL`` pointing at a
bucket: every stage file lands there and nothing of them under ``data_dir``, which keeps
only what is local by design (the SQLite ledger here, the outbox, the link secret). The
results side reads the same bucket: outcomes are stored there, and the report, the uplift
and the preferences export see exactly what they see with the same files under ``data_dir``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tests.e2e.test_object_storage_inbox import BUCKET, s3  # noqa: F401 (fixture)

MILESTONES = str(Path(sys.executable).with_name("milestones"))
SAMPLES = Path(__file__).resolve().parents[2] / "plugins" / "milestones" / "samples"


def milestones(*args: str, env: dict[str, str]) -> dict:
    done = subprocess.run([MILESTONES, *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_stage_files_live_in_the_bucket(s3, tmp_path):  # noqa: F811 (fixture)
    prefix = f"{BUCKET}/stages"
    data_dir = tmp_path / "data"
    env = {**os.environ, "MILESTONES_DATA_URL": f"s3://{prefix}/", "MILESTONES_DATA_DIR": str(data_dir)}
    summary = milestones("run", "--extract", str(SAMPLES / "customers_2026-11-22.csv"),
                         "--previous", str(SAMPLES / "customers_2026-11-21.csv"), "--as-of", "2026-11-22",
                         "--at", "2026-11-22T06:00:00Z", env=env)
    assert summary["emails_sent"] > 0 and summary["data_docs"].startswith("s3://")

    s3.invalidate_cache()
    stored = {key.removeprefix(prefix + "/") for key in s3.find(prefix)}
    for day in ("2026-11-21", "2026-11-22"):
        assert {f"snapshots/{day}/snapshot.parquet", f"snapshots/{day}/quarantine.parquet",
                f"snapshots/{day}/validation.json"} <= stored
    assert {"events/2026-11-22/events.parquet", "decisions/2026-11-22/decisions.parquet",
            "messages/2026-11-22/messages.parquet", "runs/2026-11-22.json"} <= stored
    assert "docs/gx/uncommitted/data_docs/local_site/index.html" in stored
    # Data Docs of both extracts: the site index kept the earlier one.
    index = s3.cat(f"{prefix}/docs/gx/uncommitted/data_docs/local_site/index.html").decode()
    assert "customers_2026-11-21.csv" in index and "customers_2026-11-22.csv" in index
    record = json.loads(s3.cat(f"{prefix}/runs/2026-11-22.json"))
    assert record["emails_sent"] == summary["emails_sent"]
    local = {p.relative_to(data_dir).parts[0] for p in data_dir.rglob("*") if p.is_file()}
    assert local <= {"ledger.sqlite", "outbox", "secrets", "received"}, local

    # Other commands read the same bucket: the decisions behind a customer, the report.
    messages = pd.read_parquet(io.BytesIO(s3.cat(f"{prefix}/messages/2026-11-22/messages.parquet")))
    customer = messages["customer_id"].iloc[0]
    why = milestones("why", customer, "--as-of", "2026-11-22", env=env)
    assert why["customer_id"] == customer and why["decisions"]
    again = milestones("run", "--extract", str(SAMPLES / "customers_2026-11-22.csv"), "--as-of", "2026-11-22",
                       "--at", "2026-11-22T06:00:00Z", env=env)
    assert again["emails_sent"] == 0 and again["skipped"]["already_sent"] == summary["emails_sent"]
    _results_read_the_bucket_as_they_read_data_dir(s3, prefix, data_dir, env, tmp_path)


def _outcomes_extract(decisions: pd.DataFrame, path: Path) -> Path:
    """Purchases of every other decided customer, the day after the run (contacted and held out alike)."""
    buyers = sorted(decisions["customer_id"].astype(str).unique())[::2]
    pd.DataFrame({"customer_id": buyers, "outcome": "purchase", "occurred_at": "2026-11-23T10:00:00Z",
                  "value": "12.5"}).to_csv(path, index=False)
    return path


def _results(env: dict[str, str], out: Path) -> tuple[dict, str, str, dict]:
    out.mkdir()
    report = milestones("report", "--out", str(out / "report.csv"), env=env)
    uplift = milestones("uplift", "--out", str(out / "uplift.csv"), env=env)
    return report, (out / "report.csv").read_text(), (out / "uplift.csv").read_text(), uplift


def _results_read_the_bucket_as_they_read_data_dir(s3, prefix: str, data_dir: Path, env: dict[str, str],  # noqa: F811
                                                   tmp_path: Path) -> None:
    s3.invalidate_cache()
    decisions = pd.read_parquet(io.BytesIO(s3.cat(f"{prefix}/decisions/2026-11-22/decisions.parquet")))
    extract = _outcomes_extract(decisions, tmp_path / "outcomes_2026-11-23.csv")
    loaded = milestones("outcomes", "load", str(extract), env=env)
    assert loaded["stored"] == len(pd.read_csv(extract)) > 0
    again = milestones("outcomes", "load", str(extract), env=env)  # its own partition replaced, not doubled
    assert again["stored"] == loaded["stored"]
    exported = milestones("preferences", "export", "--out", f"s3://{prefix}/exports/preferences.csv", env=env)

    s3.invalidate_cache()
    stored = {key.removeprefix(prefix + "/") for key in s3.find(prefix)}
    assert {"outcomes/2026-11-23/outcomes.parquet", "outcomes/2026-11-23/quarantine.parquet",
            "outcomes/2026-11-23/validation.json", "exports/preferences.csv"} <= stored
    assert pq.read_metadata(io.BytesIO(s3.cat(f"{prefix}/outcomes/2026-11-23/outcomes.parquet"))).num_rows == \
        loaded["stored"]
    assert f"docs/{loaded['data_docs']}" in stored
    local = {p.relative_to(data_dir).parts[0] for p in data_dir.rglob("*") if p.is_file()}
    assert local <= {"ledger.sqlite", "outbox", "secrets", "received"}, local
    by_url = _results(env, tmp_path / "by_url")

    # The same files under data_dir, with the same ledger, and no data_url.
    for key in s3.find(prefix):
        target = data_dir / key.removeprefix(prefix + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.cat(key))
    local_env = {k: v for k, v in env.items() if k != "MILESTONES_DATA_URL"}
    by_dir = _results(local_env, tmp_path / "by_dir")
    exported_dir = milestones("preferences", "export", "--out", str(tmp_path / "preferences.csv"), env=local_env)

    report, report_csv, uplift_csv, uplift = by_url
    assert report["rows"] > 0 and report["contacted"] > 0, report
    assert uplift["all"]["contacted_conversions"] + uplift["all"]["holdout_conversions"] > 0, uplift
    assert (report_csv, uplift_csv) == by_dir[1:3]
    assert {k: v for k, v in report.items() if k not in ("out", "html")} == \
        {k: v for k, v in by_dir[0].items() if k not in ("out", "html")}
    assert s3.cat(f"{prefix}/exports/preferences.csv") == (tmp_path / "preferences.csv").read_bytes()
    assert exported["customers"] == exported_dir["customers"]
