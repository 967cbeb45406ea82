"""Outcomes extracts: what customers did (purchase, login, ...), validated and stored once.

An outcomes extract ``outcomes_YYYY-MM-DD.csv|parquet`` holds ``customer_id``,
``outcome`` (a name such as ``purchase``), ``occurred_at`` (ISO 8601 with an
offset) and an optional numeric ``value`` (contract: ``docs/contracts/outcomes_extract.md``).
It goes through the same machinery as the CRM extract: read as text
(:func:`milestones.ingest.extract.read_table`), checked by Great Expectations rules declared
as data (:func:`build_rules`, run by :class:`milestones.ingest.validation.Suite`), failing
rows quarantined with their line and reasons, the file gate, and Data Docs.

Valid rows are stored under ``DATA_DIR/outcomes/D/outcomes.parquet`` (under ``data_url``
when set, :func:`milestones.core.storage.root`) without
duplicates: one row per (customer_id, outcome, occurred_at) across every stored
extract; a re-load of the same file replaces its own partition.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milestones.core import storage
from milestones.ingest.errors import ExtractError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from milestones.core.config import Settings

FILENAME_PATTERN = re.compile(r"^outcomes_(\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
REQUIRED_COLUMNS = ("customer_id", "outcome", "occurred_at")
COLUMNS = (*REQUIRED_COLUMNS, "value")
#: The de-duplication key of a stored outcome.
KEY = ["customer_id", "outcome", "occurred_at"]
OUTCOME_NAME = r"^[a-z][a-z0-9_]{0,63}$"
#: ISO 8601 date and time with an explicit offset (Z or +hh:mm / +hhmm).
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$"
NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d{1,3})?$"
STAGE = "outcomes"


def outcomes_date(path: Path | str) -> dt.date | None:
    """``outcomes_2026-11-22.csv`` -> ``date(2026, 11, 22)``; None for any other name."""
    from milestones.ingest.extract import snapshot_date_from_name

    return snapshot_date_from_name(path, FILENAME_PATTERN)


def build_rules(day: dt.date) -> list:
    """The outcomes contract as GX expectations (reasons ``column:kind``)."""
    import pandas as pd

    from milestones.ingest.validation import Rule

    latest = pd.Timestamp(day) + pd.Timedelta(hours=36)  # the end of day D in every zone (UTC-12)
    return [
        *(Rule(f"{c}:missing", "ExpectColumnValuesToNotBeNull", {"column": c}) for c in REQUIRED_COLUMNS),
        # As in a customer extract: control characters (CR, LF, NUL, bidi), blank, over 64 characters.
        Rule("customer_id:*", "ExpectColumnValuesToBeNull", {"column": "_customer_id_problem"}),
        Rule("outcome:invalid_name", "ExpectColumnValuesToMatchRegex", {"column": "outcome", "regex": OUTCOME_NAME}),
        Rule("occurred_at:unparseable", "ExpectColumnValuesToBeNull", {"column": "_occurred_at_bad"}),
        Rule("occurred_at:in_future", "ExpectColumnValuesToBeBetween", {"column": "_occurred_at", "max_value": latest}),
        Rule("value:not_a_number", "ExpectColumnValuesToBeNull", {"column": "_value_bad"}),
    ]


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.large_string())])


def parse(table: pa.Table) -> dict[str, pa.ChunkedArray]:
    """Typed ``occurred_at`` (UTC) and ``value``, and the helper columns the rules check.

    A helper holds the offending raw text where a row fails and is null elsewhere.
    """
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from milestones.ingest.checks import keep_where, text_problems

    raw_time, raw_value = _column(table, "occurred_at"), _column(table, "value")
    shaped = pc.fill_null(pc.match_substring_regex(raw_time, TIMESTAMP), False)
    text = pd.Series(pc.if_else(shaped, raw_time, None).to_pandas(), dtype=object)
    when = pd.to_datetime(text, format="ISO8601", utc=True, errors="coerce")
    ts = pa.chunked_array([pa.array(when.dt.as_unit("ns"), pa.timestamp("ns", tz="UTC"))])
    bad_time = pc.and_(pc.is_valid(raw_time), pc.is_null(ts))
    numeric = pc.fill_null(pc.match_substring_regex(raw_value, NUMBER), False)
    values = pd.to_numeric(pd.Series(pc.if_else(numeric, raw_value, None).to_pandas(), dtype=object),
                           errors="coerce").astype("float64")
    finite = np.isfinite(values.to_numpy())
    value = pa.chunked_array([pa.array(values.where(finite), pa.float64(), from_pandas=True)])
    bad_value = pc.and_(pc.is_valid(raw_value), pc.invert(pa.chunked_array([pa.array(finite)])))
    return {
        "occurred_at:parsed": ts,
        "value:parsed": value,
        "_occurred_at_bad": keep_where(bad_time, raw_time),
        "_occurred_at": pc.cast(ts, pa.timestamp("ns")),
        "_value_bad": keep_where(bad_value, raw_value),
        "_customer_id_problem": text_problems(_column(table, "customer_id"), 64),
    }


def validate_outcomes(path: Path, day: dt.date, settings: Settings) -> dict[str, Any]:
    """Read, validate, quarantine and gate one outcomes extract; store its valid rows.

    Raises :class:`milestones.ingest.extract.ExtractError` for a file that cannot be read at all and
    :class:`milestones.ingest.errors.GateFailed` (after writing the quarantine and the summary)
    when the gate stops the file.
    """
    import numpy as np
    import pyarrow as pa

    from milestones.ingest.errors import GateFailed
    from milestones.ingest.extract import read_table
    from milestones.ingest.validation import (
        Prepared,
        Suite,
        ValidationResult,
        _chunks,
        _gate,
        merge_results,
        quarantine_rows,
        write_data_docs,
    )

    table = read_table(path, required=REQUIRED_COLUMNS)
    result = ValidationResult(valid=None, quarantine=None, rows=table.num_rows)
    suite = Suite(build_rules(day))
    valid, quarantined, per_chunk = [], [], []
    for first_row, chunk in _chunks(table, settings.validation_chunk_rows):
        helpers = parse(chunk)
        ready = {name: _column(chunk, name) for name in COLUMNS} | helpers
        failures, results = suite.run(Prepared(ready, [], first_row))
        per_chunk.append(results)
        result.quarantined += len(failures)
        result.reasons.update(r for rs in failures.values() for r in rs)
        keep = np.ones(chunk.num_rows, dtype=bool)
        keep[[p - first_row for p in failures]] = False
        mask = pa.array(keep)
        valid.append(pa.table({
            "customer_id": _column(chunk, "customer_id").filter(mask),
            "outcome": _column(chunk, "outcome").filter(mask),
            "occurred_at": helpers["occurred_at:parsed"].filter(mask),
            "value": helpers["value:parsed"].filter(mask),
        }))
        quarantined.append(quarantine_rows(chunk, failures, first_row, path.name))
    result.gx_results = merge_results(per_chunk)
    _gate(result, path.name, None, settings.max_invalid_share, settings.max_row_drop_share)
    out = storage.root(settings) / STAGE / str(day)
    storage.write_parquet(pa.concat_tables(quarantined).to_pandas(), out / "quarantine.parquet")
    with storage.local_dir(storage.root(settings) / "docs", fetch=True) as local_docs:
        docs = write_data_docs(result.gx_results, local_docs, path.name, suite_name="outcomes")
    summary = {"kind": "outcomes", "extract": path.name, "date": str(day), **result.summary(),
               "data_docs": Path(docs).relative_to(local_docs).as_posix(),
               "quarantine": str(Path(STAGE) / str(day) / "quarantine.parquet")}
    if not result.gate_passed:
        storage.remove(out / "outcomes.parquet")
        storage.write_json(summary, out / "validation.json")
        raise GateFailed(result.gate_message, summary)
    summary |= store(pa.concat_tables(valid).to_pandas(), day, settings)
    storage.write_json(summary, out / "validation.json")
    return summary


def store(frame, day: dt.date, settings: Settings) -> dict[str, Any]:
    """Write ``frame`` as day ``day``'s partition, keeping each (customer, outcome, time) once.

    Repeats inside the file count as ``duplicates``; outcomes another stored extract
    already holds count as ``already_stored``. Neither is lost: the stored row stands for them.
    """

    frame = frame.astype({"customer_id": "string", "outcome": "string"})
    unique = frame.drop_duplicates(KEY)
    others = [p for p in storage.day_files(storage.root(settings), STAGE, "outcomes.parquet")
              if p.parent.name != str(day)]
    if others:
        seen = storage.read_table(others, columns=KEY).to_pandas()
        seen = seen.astype({"customer_id": "string", "outcome": "string"})
        known = unique.merge(seen.drop_duplicates(), on=KEY, how="left", indicator=True)["_merge"] == "both"
        fresh = unique[~known.to_numpy()]
    else:
        fresh = unique
    out = storage.root(settings) / STAGE / str(day) / "outcomes.parquet"
    storage.write_parquet(fresh.reset_index(drop=True), out)
    return {"duplicates": len(frame) - len(unique), "already_stored": len(unique) - len(fresh),
            "stored": len(fresh), "outcomes": str(Path(STAGE) / str(day) / "outcomes.parquet")}


def load(path: Path | str, settings: Settings, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """``milestones outcomes load``: the date from the file name (else ``as_of``), then validate and store."""
    path = Path(path)
    day = outcomes_date(path) or as_of
    if day is None:
        raise ExtractError(f"{path.name}: no date in the file name (outcomes_YYYY-MM-DD.csv); give --as-of")
    return validate_outcomes(path, day, settings)


def read_all(data_dir: Path | str, outcome: str | None = None, columns: list[str] | None = None):
    """Every stored outcome (optionally of one name) under ``data_dir`` (a directory or an
    object-storage prefix, :func:`milestones.core.storage.root`), as one frame."""
    import pandas as pd
    import pyarrow.dataset as ds

    paths = storage.day_files(data_dir, STAGE, "outcomes.parquet")
    columns = columns or [*KEY, "value"]
    if not paths:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c == "value" else "string") for c in columns})
    flt = ds.field("outcome") == outcome if outcome else None
    return storage.read_table(paths, columns=columns, filter=flt).to_pandas()
