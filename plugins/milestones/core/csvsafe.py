"""CSV files that spreadsheets open as data, never as formulas.

Every CSV the project writes for people (events, reports, uplift, preference exports)
passes through here. A cell that a spreadsheet would read as a formula, because it starts
with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (OWASP "CSV injection"), is
prefixed with a single quote, which spreadsheets show as text and never evaluate.
Numbers stay numbers: only strings are neutralised, so ``-3`` (an int) is written as is,
while the text ``"-3"`` becomes ``'-3``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Return *value*, with a leading ``'`` if it is a string a spreadsheet would evaluate."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def safe_frame(frame):
    """Return a copy of a pandas DataFrame whose text cells are all :func:`safe_cell`-ed.

    Vectorised per column: only object/string columns are touched.
    """
    import pandas as pd

    out = frame.copy()
    for name in out.columns:
        col = out[name]
        if pd.api.types.is_object_dtype(col) or pd.api.types.is_string_dtype(col):
            text = col.astype("string")
            risky = text.str.match(r"^[=+\-@\t\r]").fillna(False).astype(bool)
            if risky.any():
                out[name] = col.astype(object).where(~risky, "'" + text.astype(object))
    return out


def write_rows(rows: Iterable[Mapping[str, Any]], fieldnames: Sequence[str],
               target: Path | io.TextIOBase | None = None) -> str | None:
    """Write dict rows as CSV with every cell made safe.

    With *target* a path (written as UTF-8) or an open text file, return None; without it,
    return the CSV text.
    """
    out = io.StringIO() if target is None else None
    fh = out
    if isinstance(target, (str, Path)):
        fh = open(target, "w", encoding="utf-8", newline="")  # noqa: SIM115
    elif target is not None:
        fh = target
    try:
        # RFC 4180 line ends: cells holding \r or \n are then quoted, not split.
        writer = csv.DictWriter(fh, fieldnames=list(fieldnames), lineterminator="\r\n",
                                extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: safe_cell(v) for k, v in row.items()})
    finally:
        if isinstance(target, (str, Path)):
            fh.close()
    return out.getvalue() if out is not None else None
