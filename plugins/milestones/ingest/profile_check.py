"""``milestones profile check FILE --profile NAME``: what a profile makes of a file, writing nothing.

Prints the profile's mapping applied to the first rows (source value -> contract
value), the mapped columns found and missing, the source columns it ignores, and
what the contract validation says about the whole file (counts, reasons, gate),
read as validation reads it (the ids, then chunks): no snapshot, quarantine, Data Docs or
ledger is written.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from milestones.ingest.profiles import Profile, ProfileError


def check(path: Path, profile: Profile, *, rows: int = 3, as_of: dt.date | None = None,
          max_invalid_share: float = 0.05, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the report through ``out``; return the summary. :class:`ProfileError` for a misfit."""
    from milestones.ingest.extract import read_header, snapshot_date_from_name
    from milestones.ingest.stream import stream_mapped
    from milestones.ingest.validation import DEFAULT_CHUNK_ROWS, validate_chunks

    header = read_header(path, encoding=profile.encoding, csv_options=profile.csv_options())
    out(f"profile {profile.name} ({profile.path}): {profile.description}")
    out(f"file {path.name}: encoding {profile.encoding}, delimiter {profile.delimiter!r}, "
        f"quote {profile.quote!r}, {len(header)} columns")
    found, missing = [], []
    for column in profile.columns.values():
        if column.source is None:
            out(f"  {column.target:18s} = constant {column.default!r}")
        elif column.source in header:
            found.append(column.source)
            out(f"  {column.target:18s} <- {column.source!r}" +
                (f" [{', '.join(column.transforms)}]" if column.transforms else ""))
        else:
            if not column.optional:
                missing.append(column.source)
            note = " (optional: left empty)" if column.optional else ""
            out(f"  {column.target:18s} <- {column.source!r} MISSING{note}")
    ignored = [name for name in header if name not in profile.sources()]
    out(f"columns found: {len(found)}; missing: {', '.join(missing) or 'none'}; "
        f"ignored: {', '.join(ignored) or 'none'}")
    if missing:
        profile.check_header(header, path.name)  # raises, naming every missing column
    # Streamed, as validation reads it: a large export is held as its ids and one chunk.
    stream = stream_mapped(path, profile, chunk_rows=DEFAULT_CHUNK_ROWS)
    head = next(stream.chunks)
    table, source_rows, _ = head
    for i in range(min(rows, table.num_rows)):
        out(f"line {i + 2}:")
        source = source_rows.slice(i, 1).to_pylist()[0] if source_rows is not None else None
        for name in table.column_names:
            value = table.column(name)[i].as_py()
            column = profile.columns.get(name)
            if source is not None and column is not None and column.source:
                out(f"  {name:18s} {source.get(column.source)!r} -> {value!r}")
            else:
                out(f"  {name:18s} {value!r}")
    as_of = as_of or snapshot_date_from_name(path) or dt.date.today()
    result = validate_chunks(stream.ids, itertools.chain([head], stream.chunks), as_of=as_of,
                             extract_name=path.name, on_valid=lambda _: None, on_quarantine=lambda _: None,
                             max_invalid_share=max_invalid_share)
    summary = {"file": str(path), **result.summary(), "profile": profile.name, "columns_found": len(found),
               "columns_missing": missing, "columns_ignored": len(ignored)}
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items())) or "none"
    out(f"contract validation: {result.rows} rows, {result.rows - result.quarantined} valid, "
        f"{result.quarantined} quarantined ({reasons}); gate "
        + ("passed" if result.gate_passed else f"FAILED: {result.gate_message}"))
    return summary


__all__ = ["ProfileError", "check"]
