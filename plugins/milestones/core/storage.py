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

**Object storage.** With the setting ``data_url`` (``s3://bucket/prefix/``,
``gs://...``) the stage files (snapshots, quarantine, validation summaries, events,
decisions, messages, run records, approvals, Data Docs, stored outcomes and the daily
preferences export) live there instead, through
Airflow's :class:`~airflow.sdk.ObjectStoragePath` with the credentials of the
``data_conn_id`` connection; the ledger stays in its database, the outbox, received
extracts and secrets under ``data_dir``. Every function here takes either a local
:class:`~pathlib.Path` or an ``ObjectStoragePath`` (:func:`locate` turns the strings
passed through XCom back into one); an object is written whole by one PUT, so readers
never see half of it either.  ``root(settings)`` is where the stage files of a
deployment live.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from milestones.core.config import Settings

STAGES = ("snapshots", "events", "decisions", "messages")
LOCAL_SCHEMES = ("file", "local")


def root(settings: Settings) -> Path:
    """Where the stage files live: ``data_url`` (object storage) if set, else ``data_dir``."""
    if settings.data_url:
        return locate(settings.data_url, settings.data_conn_id)
    return Path(settings.data_dir)


def locate(where: Any, conn_id: str | None = None) -> Path:
    """A path as given: ``s3://...`` (the connection may be in the URL, as ``str()`` of an
    ObjectStoragePath writes it) becomes an ObjectStoragePath, anything else a Path."""
    if is_remote(where):
        return where
    text = os.fspath(where) if not isinstance(where, str) else where
    if "://" not in text:
        return Path(text)
    scheme = text.split("://", 1)[0]
    if scheme in LOCAL_SCHEMES:
        return Path(text.split("://", 1)[1])
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(text, conn_id=conn_id or None) if conn_id and "@" not in text.split("/")[2] \
        else ObjectStoragePath(text)


def is_remote(path: Any) -> bool:
    """True for an object-storage path (an ObjectStoragePath that is not a local file)."""
    return getattr(path, "protocol", None) not in (None, "", *LOCAL_SCHEMES)


def stage_dir(data_dir: Path | str, stage: str, day: dt.date | str) -> Path:
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")
    path = locate(data_dir) / stage / str(day)
    if not is_remote(path):  # object stores have no directories
        path.mkdir(parents=True, exist_ok=True)
    return path


def snapshot_path(data_dir: Path | str, day: dt.date | str) -> Path:
    return stage_dir(data_dir, "snapshots", day) / "snapshot.parquet"


def latest_snapshot_before(data_dir: Path | str, day: dt.date | str) -> Path | None:
    """The newest validated snapshot strictly older than ``day``, if any."""
    root = locate(data_dir) / "snapshots"
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


def replace_from_temp(path: Path | str, write) -> Path:
    """Call ``write(tmp)`` for a temporary name beside ``path``, then rename it onto ``path``.

    If writing fails (a full disk, a read-only directory...), the temporary file is
    removed: nothing half-written is left behind, and ``path`` keeps its old content.
    """
    path = Path(path)
    tmp = atomic_target(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_parquet(frame: pd.DataFrame, path: Path | str) -> Path:
    path = locate(path)
    if is_remote(path):
        with path.open("wb") as fh:
            frame.to_parquet(fh, index=False)
        return path
    return replace_from_temp(path, lambda tmp: frame.to_parquet(tmp, index=False))


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pd.DataFrame:
    """The frame stored at ``path``; with ``columns``, only those of them the file has."""
    import pandas as pd

    path = locate(path)
    if is_remote(path):
        import io

        path = io.BytesIO(path.read_bytes())  # one GET; Parquet readers seek around
    if columns is not None:
        import pyarrow.parquet as pq

        present = set(pq.read_schema(path).names)
        columns = [c for c in columns if c in present]
    return pd.read_parquet(path, columns=columns)


def parquet_records(path: Path | str, column: str, value: Any) -> list[dict[str, Any]]:
    """The rows of a Parquet file whose ``column`` equals ``value``, as dicts, without pandas
    (a command that reads a few rows, such as ``milestones why``, need not import it)."""
    import pyarrow.parquet as pq

    # Not pq.read_table (its dataset layer imports pandas), nor a compute filter (turning
    # ``value`` into an Arrow scalar asks whether it is a pandas object, importing pandas).
    # Opened as parquet_rows opens it: local files and object storage alike.
    with locate(path).open("rb") as fh:
        table = pq.ParquetFile(fh).read()
    return [table.slice(i, 1).to_pylist()[0] for i, cell in enumerate(table[column].to_pylist()) if cell == value]


def parquet_rows(path: Path | str) -> int:
    """Rows of a Parquet file, from its footer."""
    import pyarrow.parquet as pq

    path = locate(path)
    with path.open("rb") as fh:
        return pq.ParquetFile(fh).metadata.num_rows


def day_files(where: Path | str, stage: str, name: str, since: dt.date | None = None,
              until: dt.date | None = None) -> list[Path]:
    """``where/stage/D/name`` of every day ``D`` in ``[since, until]`` that has one, oldest first."""
    base = locate(where) / stage
    if not base.is_dir():
        return []
    days = sorted(p.name for p in base.iterdir())
    paths = [base / day / name for day in days if not ((since and day < str(since)) or (until and day > str(until)))]
    return [p for p in paths if p.is_file()]


def read_table(paths: list[Path], columns: list[str] | None = None, schema=None, filter=None):  # noqa: A002
    """The Parquet files ``paths`` (all local or all in one store) as one Arrow table."""
    import pyarrow.dataset as ds

    paths = [locate(p) for p in paths]
    if paths and is_remote(paths[0]):  # Arrow reads through the store's fsspec filesystem
        dataset = ds.dataset([p.path for p in paths], format="parquet", schema=schema, filesystem=paths[0].fs)
    else:
        dataset = ds.dataset([str(p) for p in paths], format="parquet", schema=schema)
    return dataset.to_table(columns=columns, filter=filter)


def write_json(data: Any, path: Path | str) -> Path:
    return write_text(json.dumps(data, indent=2, sort_keys=True, default=str), path)


def write_text(text: str, path: Path | str) -> Path:
    path = locate(path)
    if is_remote(path):
        path.write_text(text, encoding="utf-8")
        return path
    return replace_from_temp(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def read_json(path: Path | str) -> Any:
    return json.loads(locate(path).read_text(encoding="utf-8"))


@contextlib.contextmanager
def local_dir(target: Path | str, *, fetch: bool = False) -> Iterator[Path]:
    """A local directory standing in for ``target``, for writers that need one (Parquet
    sinks, GX Data Docs). Local: ``target`` itself. Remote: a temporary directory (filled
    with ``target``'s files first when ``fetch``) whose files are uploaded on success."""
    target = locate(target)
    if not is_remote(target):
        target.mkdir(parents=True, exist_ok=True)
        yield target
        return
    import tempfile

    with tempfile.TemporaryDirectory(prefix="milestones-stage-") as tmp:
        local = Path(tmp)
        if fetch and target.is_dir():
            target.fs.get(target.path.rstrip("/") + "/", str(local), recursive=True)
        before = {p: p.stat().st_mtime_ns for p in local.rglob("*") if p.is_file()}
        yield local
        for path in sorted(local.rglob("*")):
            if path.is_file() and before.get(path) != path.stat().st_mtime_ns:
                (target / path.relative_to(local).as_posix()).write_bytes(path.read_bytes())


def remove(path: Path | str) -> None:
    """Delete a stage file if it exists."""
    path = locate(path)
    if path.is_file():
        path.unlink()
