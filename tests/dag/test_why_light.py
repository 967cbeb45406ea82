"""`milestones why` reads decision files and the ledger without pandas, GX or Airflow.

Run in a fresh interpreter (as a user starts the command), so ``sys.modules`` shows
what the command itself imported.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys

import pyarrow as pa
import pyarrow.parquet as pq

HEAVY = ("pandas", "great_expectations", "airflow", "scipy")

CODE = """
import contextlib, io, json, sys
from milestones.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(),
                  "heavy": sorted({m.split(".")[0] for m in sys.modules} & set(HEAVY))}))
""".replace("HEAVY", repr(HEAVY))


def _decisions(path, rows):
    path.parent.mkdir(parents=True)
    names = ("customer_id", "event_type", "event_date", "key", "decision", "reason")
    pq.write_table(pa.table({n: [r[i] for r in rows] for i, n in enumerate(names)},
                            schema=pa.schema([("customer_id", pa.string()), ("event_type", pa.large_string()),
                                              ("event_date", pa.timestamp("ms")), ("key", pa.large_string()),
                                              ("decision", pa.large_string()), ("reason", pa.large_string())])),
                   path)


def test_why_finds_decisions_in_date_order_without_heavy_imports(tmp_path):
    day = dt.datetime
    _decisions(tmp_path / "decisions" / "2026-11-22" / "decisions.parquet", [
        ("C2", "birthday", day(2026, 11, 22), "k3", "send", ""),
        ("C1", "marriage", day(2026, 11, 22), "k2", "skip", "holdout"),
    ])
    _decisions(tmp_path / "decisions" / "2026-11-21" / "decisions.parquet", [
        ("C1", "birthday", day(2026, 11, 21), "k1", "send", ""),
    ])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MILESTONES_"))}
    done = subprocess.run([sys.executable, "-c", CODE, "why", "C1", "--data-dir", str(tmp_path)],
                          capture_output=True, text=True, env=env, check=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["code"] == 0
    assert result["heavy"] == []
    lines = result["out"].strip().splitlines()
    assert lines[0].startswith("2026-11-21 birthday: send:")
    assert lines[1].startswith("2026-11-22 marriage: skip: in the holdout group")
    summary = json.loads(lines[-1])
    assert [(d["date"], d["key"], d["reason"], d["email_state"]) for d in summary["decisions"]] == [
        ("2026-11-21", "k1", None, None), ("2026-11-22", "k2", "holdout", None)]
