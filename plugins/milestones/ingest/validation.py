"""Validation of a CRM extract with Great Expectations: quarantine bad rows, gate bad files.

The work is split by concern, each importable from here as before:

- :mod:`milestones.ingest.rules`: the contract as data (:func:`build_rules`), one rule per
  check naming the column GX checks, the expectation and the reason a failing row gets;
- :mod:`milestones.ingest.dates` and :mod:`milestones.ingest.prepare`: the values that need
  parsing (dates, booleans, e-mail addresses, locales), parsed once, vectorised in Arrow,
  into helper columns GX checks (GX's own datetime ``between`` on strings maps rows one by
  one in Python, so bounds are always ``pd.Timestamp`` on ``datetime64[ns]`` columns);
- :mod:`milestones.ingest.gx_suite`: the GX suites, built once and run per chunk;
- :mod:`milestones.ingest.verdict`: the result and the file gate;
- :mod:`milestones.ingest.data_docs`: GX Data Docs for a validated extract.

This module streams an extract through them, reading the file twice and never whole
(:func:`milestones.ingest.stream.stream_mapped`): first its ``customer_id`` column alone,
for the whole-file facts (repeated and ambiguous ids, the row count), then its rows in
chunks of ``chunk_rows``, the next chunk read while GX checks the current one. GX sees
one pandas chunk at a time; valid rows and quarantined rows stream to Parquet. Memory
follows the chunk size and the ids, not the file size. GX is imported inside
:class:`Suite`, never at module import: importing it
costs seconds and would slow down DAG parsing.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milestones.ingest.data_docs import write_data_docs
from milestones.ingest.dates import parse_dates, parse_exact
from milestones.ingest.dates import years_from as _years_from
from milestones.ingest.errors import ExtractError
from milestones.ingest.extract import to_pandas, widen
from milestones.ingest.gx_suite import RESULT_FORMAT, Suite, batch_of, merge_results, suite_for
from milestones.ingest.identity import ambiguous_among, distinct_and_repeated
from milestones.ingest.prepare import Prepared, normalise, prepare, repeated_ids
from milestones.ingest.rules import (
    CATEGORY_COLUMNS,
    DATE_BOUNDS,
    MAX_AGE_YEARS,
    PLACEHOLDER_DATES,
    TEXT_LIMITS,
    Rule,
    build_rules,
)
from milestones.ingest.verdict import ValidationResult
from milestones.ingest.verdict import gate as _gate

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

#: Rows GX validates at once; peak memory grows with it, not with the file.
DEFAULT_CHUNK_ROWS = 1_000_000


def quarantine_rows(table: pa.Table, failures: dict[int, list[str]], first_row: int,
                    extract_name: str) -> pa.Table:
    """The failing rows' raw values, with the extract name, line number and every reason.

    The line number is the row as a human counts it in the file: header is line 1.
    """
    import pyarrow as pa

    positions = sorted(failures)
    rows = table.take(pa.array([p - first_row for p in positions], pa.int64()))
    front = pa.table({
        "extract": pa.array([extract_name] * len(positions), pa.large_string()),
        "row_number": pa.array([p + 2 for p in positions], pa.int64()),
        "reasons": pa.array(["; ".join(sorted(failures[p])) for p in positions], pa.large_string()),
    })
    # An extract column named like one of ours (``reasons``...) is kept under another name.
    names = [f"{n} (extract column)" if n in front.column_names else n for n in rows.column_names]
    return pa.Table.from_arrays([*front.columns, *rows.columns], names=[*front.column_names, *names])


def validate_table(
    table: pa.Table,
    *,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    source: pa.Table | None = None,
    errors: pa.ChunkedArray | None = None,
    **options: Any,
) -> ValidationResult:
    """Validate ``table`` chunk by chunk (:func:`validate_chunks`), handing each chunk's rows on.

    With an extract profile, ``table`` is the mapped extract, ``source`` the file's own rows
    (the quarantine keeps them) and ``errors`` the reasons of values the profile could not
    read (:class:`milestones.ingest.profiles.Mapped`).
    """
    def chunks():
        for first_row, chunk in _chunks(table, chunk_rows):
            yield (chunk, None if source is None else source.slice(first_row, chunk.num_rows),
                   None if errors is None else errors.slice(first_row, chunk.num_rows))

    return validate_chunks(table.column("customer_id"), chunks(), **options)


def validate_chunks(
    ids: pa.ChunkedArray,
    chunks: Iterator[tuple[pa.Table, pa.Table | None, pa.ChunkedArray | None]],
    *,
    as_of: dt.date,
    extract_name: str,
    on_valid: Callable[[pa.Table], None],
    on_quarantine: Callable[[pa.Table], None],
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    whole: tuple[pa.Array, pa.Array] | None = None,
) -> ValidationResult:
    """Validate an extract arriving in chunks, handing each chunk's valid and quarantined rows on.

    Then apply the file gate. ``ids``: every row's customer id, in file order (the
    duplicate and ambiguous-id rules need the whole column). ``chunks``: ``(table,
    source, errors)`` in file order, as :class:`milestones.ingest.stream.Stream` gives
    them; the next one is read while GX checks the current one. The callbacks receive
    Arrow tables of the same schema for every chunk (possibly empty). ``whole``: the ids
    repeated in the file and the ambiguous ones, when already computed from ``ids``
    (:func:`_whole_file_ids`). Chunks holding other
    than ``len(ids)`` rows in all (a file changed between two readings) raise
    :class:`ExtractError`.
    """
    import numpy as np

    as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])
    result = ValidationResult(valid=None, quarantine=None, rows=len(ids))
    per_chunk = []
    first_row = 0
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="validate") as pool, \
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="read") as reader:
        # Sorting every id takes a while: unless done already (beside GX's import), it
        # runs beside building the suite and the first chunk's other helper columns.
        known = pool.submit(_whole_file_ids, ids).result if whole is None else lambda: whole
        suite = suite_for(as_of)
        for chunk, source, errors in _read_ahead(chunks, reader):
            chunk = widen(chunk)  # a table built with pa.string() (validate_table's callers)
            if first_row + chunk.num_rows > len(ids):
                first_row += chunk.num_rows
                break
            prepared = prepare(chunk, lambda: known()[0], pool, first_row, as_of=as_of,
                               ambiguous=lambda: known()[1])
            failures, results = suite.run(prepared)
            if errors is not None:
                failures = with_profile_errors(failures, errors, first_row)
            per_chunk.append(results)
            result.quarantined += len(failures)
            result.reasons.update(r for rs in failures.values() for r in rs)
            keep = np.ones(chunk.num_rows, dtype=bool)
            keep[[p - first_row for p in failures]] = False
            on_valid(normalise(chunk, prepared, keep, pool))
            on_quarantine(quarantine_rows(chunk if source is None else source, failures, first_row, extract_name))
            first_row += chunk.num_rows
            del prepared
    if first_row != len(ids):
        raise ExtractError(f"{extract_name}: changed while it was read ({len(ids):,} rows at first, "
                           "then another count); deliver it again")
    result.gx_results = merge_results(per_chunk)
    return _gate(result, extract_name, previous_rows, max_invalid_share, max_row_drop_share)


def _whole_file_ids(ids: pa.ChunkedArray) -> tuple[pa.Array, pa.Array]:
    """The ids repeated in the file and the ids typed twice another way, from one sorting of them."""
    import pyarrow as pa

    distinct, repeated = distinct_and_repeated(ids)
    return repeated.cast(pa.large_string()), ambiguous_among(distinct).cast(pa.large_string())


def _ids_beside_the_suite(path: Path, profile, chunk_rows: int, as_of: dt.date):
    """``(stream, its whole-file ids)``: the ids read and sorted while GX is imported and the suite built.

    Arrow reads and sorts without holding the GIL, so on a second core the first reading
    of the file costs no time beside GX's import (about 2 s in a fresh process). What the
    reading thread imports is imported here first (two threads importing one package
    can deadlock on its import locks); a file that cannot be read raises its
    :class:`ExtractError` once the suite is built.
    """
    import csv  # noqa: F401 - for the reading thread

    import pyarrow.compute  # noqa: F401
    import pyarrow.csv  # noqa: F401

    from milestones.ingest.stream import stream_mapped

    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet  # noqa: F401

    def ids_first():
        stream = stream_mapped(path, profile, chunk_rows=chunk_rows)
        return stream, _whole_file_ids(stream.ids)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ids") as early:
        reading = early.submit(ids_first)
        suite_for(as_of)
        stream, whole = reading.result()
    return stream, whole


def _read_ahead(chunks: Iterator, reader: ThreadPoolExecutor) -> Iterator:
    """``chunks``, each next one read on ``reader`` while the caller works on the current one."""
    done = object()
    ahead = reader.submit(next, chunks, done)
    while (item := ahead.result()) is not done:
        ahead = reader.submit(next, chunks, done)
        yield item


def with_profile_errors(failures: dict[int, list[str]], errors: pa.ChunkedArray,
                        first_row: int) -> dict[int, list[str]]:
    """``failures`` plus the reasons of values an extract profile could not read.

    Such a value is missing in the mapped extract: its own reason replaces the
    ``<column>:missing`` a required column would otherwise also get.
    """
    import pyarrow.compute as pc

    rows = pc.indices_nonzero(pc.is_valid(errors))
    for row, text in zip(rows.to_pylist(), errors.take(rows).to_pylist(), strict=True):
        own = text.split("; ")
        columns = {reason.split(":", 1)[0] for reason in own}
        kept = [r for r in failures.get(first_row + row, []) if r not in {f"{c}:missing" for c in columns}]
        failures[first_row + row] = kept + own
    return failures


def _chunks(table: pa.Table, size: int) -> Iterator[tuple[int, pa.Table]]:
    if size < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {size}")
    for start in range(0, table.num_rows, size):
        yield start, table.slice(start, size)


def validate_frame(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    extract_name: str,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ValidationResult:
    """Split ``frame`` (strings) into valid rows and a quarantine with reasons, then gate the file."""
    import pyarrow as pa

    frame = frame.reset_index(drop=True)
    table = pa.Table.from_pandas(frame.astype("string[pyarrow]"), preserve_index=False)
    return _in_memory(table, as_of=as_of, extract_name=extract_name, previous_rows=previous_rows,
                      max_invalid_share=max_invalid_share, max_row_drop_share=max_row_drop_share,
                      chunk_rows=chunk_rows)


def _in_memory(table: pa.Table, **options: Any) -> ValidationResult:
    return _collected(functools.partial(validate_table, table, **options))


def _collected(validate: Callable[..., ValidationResult]) -> ValidationResult:
    """``validate(on_valid=..., on_quarantine=...)`` with the rows handed on kept as frames."""
    import pyarrow as pa

    valid: list[pa.Table] = []
    quarantine: list[pa.Table] = []
    result = validate(on_valid=valid.append, on_quarantine=quarantine.append)
    result.valid = to_pandas(pa.concat_tables(valid))
    result.quarantine = to_pandas(pa.concat_tables(quarantine))
    return result


class _ParquetSink:
    """Appends chunks to a Parquet file under a temporary name; :meth:`publish` renames it."""

    def __init__(self, path: Path):
        from milestones.core.storage import atomic_target

        self.path = path
        self.tmp = atomic_target(path)
        self.writer = None

    def __call__(self, chunk: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, _with_pandas_types(chunk.schema))
        self.writer.write_table(chunk.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def publish(self) -> Path:
        self.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


def _with_pandas_types(schema: pa.Schema) -> pa.Schema:
    """``schema`` with pandas metadata, so readers get the nullable dtypes of :func:`to_pandas`."""
    import pyarrow as pa

    meta = pa.Schema.from_pandas(to_pandas(schema.empty_table()), preserve_index=False).metadata
    return schema.with_metadata(meta)


def validate_extract(
    path: Path | str,
    *,
    as_of: dt.date | None = None,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out_dir: Path | str | None = None,
    profile=None,
    follow_symlinks: bool = False,
) -> ValidationResult:
    """Read and validate one extract file. Raises :class:`ExtractError` for an unreadable file.

    Without ``out_dir`` the valid rows and the quarantine are returned as
    frames. With it, they stream to ``out_dir/quarantine.parquet`` (always) and
    ``out_dir/snapshot.parquet`` (only when the gate passes; a failed gate
    leaves no snapshot), and the result carries counts only.

    ``profile`` (a :class:`milestones.ingest.profiles.Profile` or its name; default
    the contract itself) says how the file is read and mapped onto the contract.
    """
    from milestones.ingest.extract import snapshot_date_from_name
    from milestones.ingest.profiles import load

    path = Path(path)
    # A symbolic link is read only when asked (--follow-symlinks), and then as its target;
    # the link's name still names the extract and its snapshot date.
    from milestones.ingest import intake

    intake.check_regular_file(path, follow_symlinks=follow_symlinks)
    target = path.resolve() if follow_symlinks and path.is_symlink() else path
    as_of = as_of or snapshot_date_from_name(path) or dt.date.today()
    stream, whole = _ids_beside_the_suite(target, load(profile), chunk_rows, as_of)
    options = dict(as_of=as_of, extract_name=path.name, previous_rows=previous_rows,
                   max_invalid_share=max_invalid_share, max_row_drop_share=max_row_drop_share, whole=whole)
    if out_dir is None:
        result = _collected(functools.partial(validate_chunks, stream.ids, stream.chunks, **options))
        result.profile = stream.profile.name
        return result
    snapshot = _ParquetSink(Path(out_dir) / "snapshot.parquet")
    quarantine = _ParquetSink(Path(out_dir) / "quarantine.parquet")
    try:
        result = validate_chunks(stream.ids, stream.chunks, on_valid=snapshot, on_quarantine=quarantine, **options)
    except BaseException:
        snapshot.discard()
        quarantine.discard()
        raise
    quarantine.publish()
    result.profile = stream.profile.name
    if result.gate_passed:
        snapshot.publish()
    else:
        snapshot.discard()
        (Path(out_dir) / "snapshot.parquet").unlink(missing_ok=True)
    return result


__all__ = ["CATEGORY_COLUMNS", "DATE_BOUNDS", "DEFAULT_CHUNK_ROWS", "MAX_AGE_YEARS", "PLACEHOLDER_DATES",
           "RESULT_FORMAT", "TEXT_LIMITS", "ExtractError", "Prepared", "Rule", "Suite", "ValidationResult",
           "batch_of", "build_rules", "merge_results", "normalise", "parse_dates", "parse_exact", "prepare",
           "quarantine_rows", "repeated_ids", "validate_extract", "validate_chunks", "validate_frame", "validate_table",
           "with_profile_errors", "write_data_docs", "_gate", "_years_from"]
