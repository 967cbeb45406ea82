"""Where each stage keeps its files under the data directory, and how they are written.

Layout (``D`` is the date a stage ran for, ``YYYY-MM-DD``)::

    DATA_DIR/inbox/                      new extracts land here
    DATA_DIR/received/                   extracts claimed by the ingest trigger
    DATA_DIR/snapshots/D/snapshot.parquet   validated rows of the extract dated D
    DATA_DIR/snapshots/D/quarantine.parquet rows that failed, with reasons
    DATA_DIR/snapshots/D/validation.json    the validation summary
    DATA_DIR/events/D/events.parquet      life events falling on D
    DATA_DIR/decisions/D/decisions.parquet   one send/skip decision per event
    DATA_DIR/messages/D/messages.parquet  rendered emails (subject, html, text)
    DATA_DIR/runs/D.json                  the run summary
    DATA_DIR/outbox/*.eml                 file transport output
    DATA_DIR/ledger.sqlite                the send ledger

Files are written to a temporary name and renamed, so a reader never sees a
half-written Parquet file and a re-run of a stage replaces its output whole.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

STAGES = ("snapshots", "events", "decisions", "messages")


def stage_dir(data_dir: Path | str, stage: str, day: dt.date | str) -> Path:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    path = Path(data_dir) / stage / str(day)
    path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_path(data_dir: Path | str, day: dt.date | str) -> Path:
    return stage_dir(data_dir, "snapshots", day) / "snapshot.parquet"


def latest_snapshot_before(data_dir: Path | str, day: dt.date | str) -> Path | None:
    """The newest validated snapshot strictly older than ``day``, if any."""
    root = Path(data_dir) / "snapshots"
    if not root.is_dir():
        return None
    older = sorted(p.name for p in root.iterdir() if p.name < str(day))
    for name in reversed(older):
        candidate = root / name / "snapshot.parquet"
        if candidate.is_file():
            return candidate
    return None


def atomic_target(path: Path) -> Path:
    """A temporary name beside ``path`` (per process) to write to, then ``os.replace`` onto ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_parquet(frame: pd.DataFrame, path: Path | str) -> Path:
    path = Path(path)
    tmp = atomic_target(path)
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)
    return path


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pd.DataFrame:
    """The frame stored at ``path``; with ``columns``, only those of them the file has."""
    import pandas as pd

    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    return pd.read_parquet(path, columns=columns)


def write_json(data: Any, path: Path | str) -> Path:
    path = Path(path)
    tmp = atomic_target(path)
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)
    return path
