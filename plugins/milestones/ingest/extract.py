"""Reading CRM extracts (CSV or Parquet) into a frame of strings, failing closed.

Every cell is read as text so that validation, not the reader, decides what is
wrong with it: ``"1970-13-01"`` must reach the suite to be quarantined with a
reason, not be silently coerced away by a parser.
"""

from __future__ import annotations

import datetime as dt
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


def read_header(path: Path | str, *, encoding: str = "utf-8", csv_options: dict | None = None) -> list[str]:
    """The column names of an extract, stripped, read before any row (a Parquet file's schema).

    Only a regular file is opened (a FIFO would block, a link could point anywhere).
    """
    import csv

    from milestones.ingest import intake

    path = Path(path)
    intake.check_regular_file(path)
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        try:
            return [name.strip() for name in pq.read_schema(path).names]
        except Exception as exc:  # pyarrow raises many types for a broken file
            # Only the kind: the exception's text may quote the file's content.
            raise ExtractError(f"{path.name}: unreadable as parquet ({type(exc).__name__})") from None
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        try:
            return [name.strip() for name in next(csv.reader([fh.readline()], **dialect(csv_options)))]
        except (UnicodeError, StopIteration, csv.Error):
            return []


def dialect(csv_options: dict | None) -> dict:
    """Arrow ``ParseOptions`` keywords (an extract profile's) as Python ``csv`` dialect keywords."""
    options = csv_options or {}
    return {"delimiter": options.get("delimiter", ","), "quotechar": options.get("quote_char", '"'),
            "doublequote": options.get("double_quote", True), "escapechar": options.get("escape_char") or None}


def _read_csv(path: Path, encoding: str = "utf-8", csv_options: dict | None = None, text=None):
    """Every column as a string (empty cell -> missing), RFC 4180 quoting, BOM or not.

    Arrow's reader is multithreaded and checks UTF-8 as it converts; on a
    decoding error the file is scanned once more to name the offending byte, on
    a structural error (a ragged row, a stray quote, a huge field) to name the line.
    Arrow's own message is never shown: it quotes the row.
    A declared other ``encoding`` (an extract profile's) is decoded instead, and
    ``csv_options`` (Arrow ``ParseOptions``: delimiter, quote_char, ...) change the dialect.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    from milestones.ingest import intake

    header = read_header(path, encoding=encoding, csv_options=csv_options)
    intake.check_header(header, path.name)
    try:
        return pcsv.read_csv(
            path,
            # Blocks of 16 MB: few, large Arrow chunks per column (every later kernel
            # pays per chunk), still several blocks for the reader's threads.
            read_options=pcsv.ReadOptions(block_size=intake.MAX_FIELD_BYTES, encoding=encoding),
            # Quoted fields may hold newlines (addresses, names pasted from mail).
            parse_options=pcsv.ParseOptions(newlines_in_values=True, **(csv_options or {})),
            convert_options=pcsv.ConvertOptions(
                column_types={name: text or pa.large_string() for name in header},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid as exc:
        if "utf8" in str(exc).lower() and encoding == "utf-8":
            intake.check_utf8(path)
        problem = intake.locate_csv_problem(path, encoding, dialect(csv_options))
        raise ExtractError(f"{path.name}: unreadable as CSV: {problem}") from None


def _blank_as_missing(table):
    """Parquet writers store empty cells as ``""``: empty means missing there as in CSV."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, column in enumerate(table.columns):
        empty = pc.equal(column, "")
        if pc.any(empty).as_py():
            table = table.set_column(i, table.field(i), pc.if_else(empty, pa.scalar(None, column.type), column))
    return table


def read_table(path: Path | str, *, encoding: str = "utf-8", csv_options: dict | None = None,
               required: tuple[str, ...] = REQUIRED_COLUMNS, follow_symlinks: bool = False,
               compact: bool = False):
    """Read an extract into an Arrow table of strings (empty cell -> null), column names stripped.

    Columnar and compact: a 10-million-row extract is held as Arrow buffers,
    and validation converts it to pandas one chunk at a time.

    Raises :class:`ExtractError` for a file that cannot be accepted at all:
    missing, a symlink (unless ``follow_symlinks``) or not a regular file,
    unreadable, not UTF-8, empty, malformed, with repeated column names, or
    missing a required column (``required``: the CRM contract's by default).
    An extract profile passes its declared ``encoding`` and CSV dialect
    (``csv_options``), and checks its own columns (``required=()``). No message quotes a cell.

    ``compact``: strings with 32-bit offsets (``pa.string()``), 4 bytes less per cell than
    large strings (680 MB less for 10 million rows of 17 columns); validation widens them
    to large strings one chunk at a time (:func:`widen`).
    """
    import pyarrow as pa

    from milestones.ingest import intake

    path = Path(path)
    info = intake.check_regular_file(path, follow_symlinks=follow_symlinks)
    if info.st_size == 0:
        raise ExtractError(f"{path.name}: empty file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            import pyarrow.parquet as pq

            intake.check_header(read_header(path), path.name)
            table = pq.read_table(path)
        elif suffix in {".csv", ".txt"}:
            if encoding == "utf-8":
                intake.check_encoding(path)
            table = _read_csv(path, encoding, csv_options, pa.string() if compact else None)
        else:
            raise ExtractError(f"{path.name}: unsupported file type {suffix!r} (use .csv or .parquet)")
        # One string type throughout (Parquet may carry dates, booleans, ints): large
        # strings, what pandas' Arrow-backed strings hold, so conversion copies nothing.
        # The CSV reader has checked UTF-8 while converting.
        text = pa.string() if compact else pa.large_string()
        table = table.cast(pa.schema([(f.name.strip(), text) for f in table.schema]))
        if suffix == ".parquet":
            table = _blank_as_missing(table)
    except ExtractError:
        raise
    except OSError as exc:
        raise ExtractError(f"{path.name}: unreadable ({exc.strerror or type(exc).__name__})") from None
    except Exception as exc:  # pyarrow raises many types for a broken file
        if "utf8" in str(exc).lower() and suffix != ".parquet":
            intake.check_utf8(path)  # raises with the offset of the first bad byte
        # The exception's text may quote data: only its kind is shown.
        raise ExtractError(f"{path.name}: unreadable as {suffix.lstrip('.')} ({type(exc).__name__})") from None
    if table.num_rows == 0:
        raise ExtractError(f"{path.name}: no data rows")
    missing = [c for c in required if c not in table.column_names]
    if missing:
        raise ExtractError(f"{path.name}: missing required column(s): {', '.join(missing)}")
    return table


def widen(table):
    """``table`` with large strings where it holds strings (:func:`read_table`'s ``compact``).

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
