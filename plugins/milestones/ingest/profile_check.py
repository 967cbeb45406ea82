"""``milestones profile check FILE --profile NAME``: what a profile makes of a file, writing nothing.

Prints the profile's mapping applied to the first rows (source value -> contract
value), the mapped columns found and missing, the source columns it ignores, and
what the contract validation says about the whole file (counts, reasons, gate),
all in memory: no snapshot, quarantine, Data Docs or ledger is written.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from milestones.ingest.profiles import Profile, ProfileError, read_mapped


def check(path: Path, profile: Profile, *, rows: int = 3, as_of: dt.date | None = None,
          max_invalid_share: float = 0.05, out: Callable[[str], None] = print) -> dict[str, Any]:
    """Print the report through ``out``; return the summary. :class:`ProfileError` for a misfit."""
    from milestones.ingest.extract import read_header, snapshot_date_from_name
    from milestones.ingest.validation import validate_table

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
    mapped = read_mapped(path, profile)
    table = mapped.table
    first = min(rows, table.num_rows)
    for i in range(first):
        out(f"line {i + 2}:")
        source = mapped.source.slice(i, 1).to_pylist()[0] if mapped.source is not None else None
        for name in table.column_names:
            value = table.column(name)[i].as_py()
            column = profile.columns.get(name)
            if source is not None and column is not None and column.source:
                out(f"  {name:18s} {source.get(column.source)!r} -> {value!r}")
            else:
                out(f"  {name:18s} {value!r}")
    as_of = as_of or snapshot_date_from_name(path) or dt.date.today()
    result = validate_table(table, as_of=as_of, extract_name=path.name, on_valid=lambda _: None,
                            on_quarantine=lambda _: None, max_invalid_share=max_invalid_share,
                            source=mapped.source, errors=mapped.errors)
    summary = {"file": str(path), **result.summary(), "profile": profile.name, "columns_found": len(found),
               "columns_missing": missing, "columns_ignored": len(ignored)}
    reasons = ", ".join(f"{k} {v}" for k, v in sorted(result.reasons.items())) or "none"
    out(f"contract validation: {result.rows} rows, {result.rows - result.quarantined} valid, "
        f"{result.quarantined} quarantined ({reasons}); gate "
        + ("passed" if result.gate_passed else f"FAILED: {result.gate_message}"))
    return summary


__all__ = ["ProfileError", "check"]
