"""Reading CRM extracts (CSV or Parquet) into a frame of strings, failing closed.

Every cell is read as text so that validation, not the reader, decides what is
wrong with it: ``"1970-13-01"`` must reach the suite to be quarantined with a
reason, not be silently coerced away by a parser.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from milestones.core.contract import FILENAME_PATTERN, REQUIRED_COLUMNS
from milestones.ingest.errors import ExtractError  # noqa: F401 - re-exported: callers catch it here

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


def snapshot_date_from_name(path: Path | str, pattern=FILENAME_PATTERN) -> dt.date | None:
    """``customers_2026-11-22.csv`` -> ``date(2026, 11, 22)``; ``None`` if not in that form (``pattern``)."""
    match = pattern.match(Path(path).name)
    if not match:
        return None
    try:
        return dt.date.fromisoformat(match.group("date" if "date" in pattern.groupindex else 1))
    except ValueError:
        return None


def read_header(path: Path | str, *, encoding: str = "utf-8", csv_options: dict | None = None,
                strip: bool = True) -> list[str]:
    """The column names of an extract, read before any row (a Parquet file's schema); stripped unless not ``strip``.

    Only a regular file is opened (a FIFO would block, a link could point anywhere).
    """
    import csv

    from milestones.ingest import intake

    path = Path(path)
    intake.check_regular_file(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(path).names
        except Exception as exc:  # pyarrow raises many types for a broken file
            # Only the kind: the exception's text may quote the file's content.
            raise ExtractError(f"{path.name}: unreadable as parquet ({type(exc).__name__})") from None
        return [name.strip() for name in names] if strip else list(names)
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        try:
            names = next(csv.reader([fh.readline()], **dialect(csv_options)))
            return [name.strip() for name in names] if strip else names
        except (UnicodeError, StopIteration, csv.Error):
            return []


def dialect(csv_options: dict | None) -> dict:
    """Arrow ``ParseOptions`` keywords (an extract profile's) as Python ``csv`` dialect keywords."""
    options = csv_options or {}
    return {"delimiter": options.get("delimiter", ","), "quotechar": options.get("quote_char", '"'),
            "doublequote": options.get("double_quote", True), "escapechar": options.get("escape_char") or None}


def _read_csv(path: Path, header: list[str], encoding: str = "utf-8", csv_options: dict | None = None,
              columns: list[str] | None = None, stream: bool = False):
    """Every column as a string (empty cell -> missing), RFC 4180 quoting, BOM or not.

    Arrow's reader is multithreaded and checks UTF-8 as it converts. A declared other
    ``encoding`` (an extract profile's) is decoded instead, and ``csv_options`` (Arrow
    ``ParseOptions``: delimiter, quote_char, ...) change the dialect. ``header`` and
    ``columns`` (only these) are names as the file writes them, spaces included: Arrow
    matches them exactly, and a column it does not match would have its type inferred
    (``007`` read as ``7``). ``stream``: Arrow's streaming reader, one
    record batch per block, instead of the whole table. Errors are named by
    :func:`_failing_closed`.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from milestones.ingest import intake

    options = dict(
        # Blocks of 16 MB: few, large Arrow chunks per column (every later kernel
        # pays per chunk), still several blocks for the reader's threads.
        read_options=pcsv.ReadOptions(block_size=intake.MAX_FIELD_BYTES, encoding=encoding),
        # Quoted fields may hold newlines (addresses, names pasted from mail).
        parse_options=pcsv.ParseOptions(newlines_in_values=True, **(csv_options or {})),
        convert_options=pcsv.ConvertOptions(
            column_types={name: pa.large_string() for name in header},
            strings_can_be_null=True,
            null_values=[""],
            include_columns=columns or [],
        ),
    )
    return pcsv.open_csv(path, **options) if stream else pcsv.read_csv(path, **options)


def _blank_as_missing(table):
    """Parquet writers store empty cells as ``""``: empty means missing there as in CSV."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column in enumerate(table.columns):
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            table = table.set_column(i, table.field(i), pc.if_else(empty, pa.scalar(None, column.type), column))
    return table


def _opened(path: Path | str, follow_symlinks: bool) -> tuple[Path, str]:
    """``path`` and its suffix once it is known to be a non-empty regular file of a type we read."""
    from milestones.ingest import intake

    path = Path(path)
    info = intake.check_regular_file(path, follow_symlinks=follow_symlinks)
    if info.st_size == 0:
        raise ExtractError(f"{path.name}: empty file")
    suffix = path.suffix.lower()
    if suffix not in {".parquet", ".csv", ".txt"}:
        raise ExtractError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .parquet)")
    return path, suffix


def _checked_header(path: Path, suffix: str, encoding: str, csv_options: dict | None) -> list[str]:
    """The header's names as the file writes them, checked (repeated or too many names), after the
    encoding's first bytes."""
    from milestones.ingest import intake

    if suffix != ".parquet" and encoding == "utf-8":
        intake.check_encoding(path)
    header = read_header(path, encoding=encoding, csv_options=csv_options, strip=False)
    intake.check_header(header, path.name)  # compares the names stripped
    return header


@contextmanager
def _failing_closed(path: Path, suffix: str, encoding: str = "utf-8", csv_options: dict | None = None):
    """Turn whatever a reader raises into one :class:`ExtractError` naming a line or a byte, never a cell.

    Arrow's own messages are never shown: they quote the row. On a decoding error the
    file is scanned once more to name the offending byte, on a structural error (a ragged
    row, a stray quote, a huge field) to name the line.
    """
    import pyarrow as pa

    from milestones.ingest import intake

    try:
        yield
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError(f"{path.name}: unreadable ({exc.strerror or type(exc).__name__})") from None
    except pa.ArrowInvalid as exc:
        if suffix == ".parquet":
            raise ExtractError(f"{path.name}: unreadable as parquet ({type(exc).__name__})") from None
        if "utf8" in str(exc).lower() and encoding == "utf-8":
            intake.check_utf8(path)  # raises with the offset of the first bad byte
        problem = intake.locate_csv_problem(path, encoding, dialect(csv_options))
        raise ExtractError(f"{path.name}: unreadable as CSV: {problem}") from None
    except Exception as exc:  # pyarrow raises many types for a broken file
        if "utf8" in str(exc).lower() and suffix != ".parquet":
            intake.check_utf8(path)  # raises with the offset of the first bad byte
        # The exception's text may quote data: only its kind is shown.
        raise ExtractError(f"{path.name}: unreadable as {suffix.lstrip('.')} ({type(exc).__name__})") from None


def _as_text(table, text, suffix: str):
    """One string type throughout, names stripped; Parquet's empty cells missing.

    Parquet may carry dates, booleans, ints: they become their text. Large strings are
    what pandas' Arrow-backed strings hold, so conversion copies nothing. The CSV reader
    has checked UTF-8 while converting.
    """
    import pyarrow as pa

    table = table.rename_columns([name.strip() for name in table.column_names])
    table = table.cast(pa.schema([(name, text) for name in table.column_names]))
    return _blank_as_missing(table) if suffix == ".parquet" else table


def read_table(path: Path | str, *, encoding: str = "utf-8", csv_options: dict | None = None,
               required: tuple[str, ...] = REQUIRED_COLUMNS, follow_symlinks: bool = False,
               columns: list[str] | None = None):
    """Read an extract into an Arrow table of strings (empty cell -> null), column names stripped.

    Raises :class:`ExtractError` for a file that cannot be accepted at all:
    missing, a symlink (unless ``follow_symlinks``) or not a regular file,
    unreadable, not UTF-8, empty, malformed, with repeated column names, or
    missing a required column (``required``: the CRM contract's by default).
    An extract profile passes its declared ``encoding`` and CSV dialect
    (``csv_options``), and checks its own columns (``required=()``). No message quotes a cell.

    ``columns``: only these (stripped names; the file is still read, and checked, whole).
    To validate a large extract without holding it, :func:`read_chunks` hands it over in chunks.
    """
    import pyarrow as pa

    path, suffix = _opened(path, follow_symlinks)
    with _failing_closed(path, suffix, encoding, csv_options):
        header = _checked_header(path, suffix, encoding, csv_options)
        wanted = None if columns is None else [name for name in header if name.strip() in columns]
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=wanted)
        else:
            table = _read_csv(path, header, encoding, csv_options, wanted)
        table = _as_text(table, pa.large_string(), suffix)
    if table.num_rows == 0:
        raise ExtractError(f"{path.name}: no data rows")
    missing = [c for c in required if c not in {name.strip() for name in header}]
    if missing:
        raise ExtractError(f"{path.name}: missing required column(s): {', '.join(missing)}")
    return table


def read_chunks(path: Path | str, rows: int, *, encoding: str = "utf-8", csv_options: dict | None = None,
                follow_symlinks: bool = False) -> Iterator:
    """The extract as Arrow tables of ``rows`` rows each (the last one shorter), in file order.

    The same strings and the same errors as :func:`read_table` (an error may come after
    some chunks: whoever consumes them must be ready to throw their work away), read with
    Arrow's streaming readers: memory holds a chunk, never the file.
    """
    import pyarrow as pa

    if rows < 1:
        raise ValueError(f"chunk rows must be at least 1, not {rows}")
    path, suffix = _opened(path, follow_symlinks)
    with _failing_closed(path, suffix, encoding, csv_options):
        header = _checked_header(path, suffix, encoding, csv_options)
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            batches = pq.ParquetFile(path).iter_batches(batch_size=min(rows, 65_536))
        else:
            batches = _read_csv(path, header, encoding, csv_options, stream=True)
        pending: list = []
        held = 0
        for batch in batches:
            pending.append(batch)
            held += batch.num_rows
            while held >= rows:
                table = pa.Table.from_batches(pending)
                yield _as_text(table.slice(0, rows), pa.large_string(), suffix)
                pending, held = table.slice(rows).to_batches(), held - rows
        if held:
            yield _as_text(pa.Table.from_batches(pending), pa.large_string(), suffix)


def widen(table):
    """``table`` with large strings where it holds strings with 32-bit offsets (``pa.string()``).

    Only the offsets are rewritten: Arrow keeps the character data as it is.
    """
    import pyarrow as pa

    if not any(pa.types.is_string(f.type) for f in table.schema):
        return table
    return table.cast(pa.schema([(f.name, pa.large_string() if pa.types.is_string(f.type) else f.type)
                                 for f in table.schema]))


def read_extract(path: Path | str, *, follow_symlinks: bool = False) -> pd.DataFrame:
    """:func:`read_table` as a pandas frame of nullable strings."""
    return to_pandas(read_table(path, follow_symlinks=follow_symlinks))


def to_pandas(table) -> pd.DataFrame:
    """Arrow to pandas keeping nullable types: strings and integers with ``pd.NA``."""
    import pandas as pd
    import pyarrow as pa

    mapping = {pa.large_string(): pd.StringDtype("pyarrow"), pa.string(): pd.StringDtype("pyarrow"),
               pa.int64(): pd.Int64Dtype()}
    return table.to_pandas(types_mapper=mapping.get)
