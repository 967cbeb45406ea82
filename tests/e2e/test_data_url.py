"""Stage files in object storage (setting ``data_url``) against a moto S3 server on 127.0.0.1.

The whole chain runs through the command line with ``MILESTONES_DATA_URL`` pointing at a
bucket: every stage file lands there and nothing of them under ``data_dir``, which keeps
only what is local by design (the SQLite ledger here, the outbox, the link secret).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd

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
                         env=env)
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
                       env=env)
    assert again["emails_sent"] == 0 and again["skipped"]["already_sent"] == summary["emails_sent"]
