"""Removing erased customers from files: Parquet, JSON, HTML/text, CSV, ``.eml``.

One walker (:func:`files_under`) lists every file under a local directory or an
object-storage prefix; :func:`scrub_file` treats each by its kind:

* Parquet: rows of the customers are dropped (snapshots, quarantine, messages, extracts),
  or, where a row must stay for exactly-once and statistics (events, decisions, outcomes),
  kept with the customer id replaced by its pseudonym and any other matching cell emptied.
* JSON (run records, validation summaries, Data Docs results): every string naming a
  customer is replaced by ``[erased]``.
* HTML, text, Markdown: the same replacement in the text.
* CSV (received extracts, preference exports, request files): lines naming a customer are
  dropped (bytes of other lines unchanged).
* ``.eml``: a file naming a customer is deleted.

A file is only rewritten when something changed, and always whole: locally through a
temporary file renamed onto it, in object storage by one PUT, so a reader never sees half
of it, and a crash leaves either the old or the new file (a re-run completes the rest).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from milestones.core import storage

ERASED = "[erased]"
#: Stage directories whose Parquet rows stay, pseudonymised.
KEEP_ROWS = frozenset({"events", "decisions", "outcomes"})
#: Never touched: secrets, the SQLite ledger (scrubbed through SQL), locks.
SKIP_NAMES = re.compile(r"(^|/)(secrets/|ledger\.sqlite)|\.lock$")
TEXT = (".html", ".htm", ".txt", ".md", ".xml", ".log")


@dataclass
class Subjects:
    """What names the customers being erased: ids (exact) and addresses (any case)."""

    ids: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    pseudonyms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = {str(i) for i in self.ids if str(i).strip()}
        self.emails = {e.strip().lower() for e in self.emails if e and e.strip()}
        parts = [re.escape(e) for e in sorted(self.emails, key=len, reverse=True)]
        parts += [rf"(?<![\w.@-]){re.escape(i)}(?![\w@-])" for i in sorted(self.ids, key=len, reverse=True)]
        self._pattern = re.compile("|".join(parts), re.IGNORECASE) if parts else None
        self._id_pattern = re.compile("|".join(
            rf"(?<![\w.@-]){re.escape(i)}(?![\w@-])" for i in self.ids)) if self.ids else None

    def names_in(self, text: str) -> bool:
        """True when ``text`` names a customer (an address anywhere, an id as a whole word)."""
        if self._pattern is None:
            return False
        match = self._pattern.search(text)
        # Addresses match in any case, ids only exactly.
        while match is not None:
            if "@" in match.group(0) or match.group(0) in self.ids:
                return True
            match = self._pattern.search(text, match.end())
        return False

    def redact(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(
            lambda m: ERASED if ("@" in m.group(0) or m.group(0) in self.ids) else m.group(0), text)


def files_under(where: Any) -> Iterator[tuple[str, Any]]:
    """(relative name, path) of every file under ``where`` (a directory or an object-storage prefix)."""
    base = storage.locate(where)
    if storage.is_remote(base):
        prefix = base.path.rstrip("/") + "/"
        try:
            found = base.fs.find(prefix)
        except FileNotFoundError:
            return
        for key in sorted(found):
            yield key[len(prefix):], base / key[len(prefix):]
        return
    if not base.is_dir():
        return
    for path in sorted(base.rglob("*")):
        if path.is_file() and not path.is_symlink():
            yield path.relative_to(base).as_posix(), path


def _put(path: Any, data: bytes) -> None:
    path = storage.locate(path)
    if storage.is_remote(path):
        path.write_bytes(data)
    else:
        storage.replace_from_temp(path, lambda tmp: tmp.write_bytes(data))


def _read(path: Any) -> bytes:
    return storage.locate(path).read_bytes()


def scrub_file(name: str, path: Any, subjects: Subjects) -> str | None:
    """Scrub one file; what was done (``rows``, ``pseudonymised``, ``redacted``, ``deleted``) or None."""
    if SKIP_NAMES.search(name):
        return None
    lower = name.lower()
    if lower.endswith(".parquet"):
        return _parquet(name, path, subjects)
    if lower.endswith(".eml"):
        if subjects.names_in(_read(path).decode("utf-8", "surrogateescape")):
            storage.locate(path).unlink()
            return "deleted"
        return None
    if lower.endswith(".json"):
        return _json(path, subjects)
    if lower.endswith(".csv") or lower.endswith(".tsv"):
        return _lines(path, subjects)
    if lower.endswith(TEXT):
        text = _read(path).decode("utf-8", "surrogateescape")
        new = subjects.redact(text)
        if new != text:
            _put(path, new.encode("utf-8", "surrogateescape"))
            return "redacted"
    return None


def _json(path: Any, subjects: Subjects) -> str | None:
    raw = _read(path)
    try:
        data = json.loads(raw)
    except ValueError:
        text = raw.decode("utf-8", "surrogateescape")
        new = subjects.redact(text)
        if new == text:
            return None
        _put(path, new.encode("utf-8", "surrogateescape"))
        return "redacted"
    changed = [False]

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            new = subjects.redact(value)
            if new != value:
                changed[0] = True
            return new
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, dict):
            return {walk(k): walk(v) for k, v in value.items()}
        return value

    cleaned = walk(data)
    if not changed[0]:
        return None
    _put(path, json.dumps(cleaned, indent=2, sort_keys=True, default=str).encode("utf-8"))
    return "redacted"


def _lines(path: Any, subjects: Subjects) -> str | None:
    text = _read(path).decode("utf-8", "surrogateescape")
    lines = text.splitlines(keepends=True)
    kept = lines[:1] + [line for line in lines[1:] if not subjects.names_in(line)]
    if len(kept) == len(lines):
        if lines and subjects.names_in(lines[0]):  # a header naming someone: redact it
            _put(path, (subjects.redact(lines[0]) + "".join(lines[1:])).encode("utf-8", "surrogateescape"))
            return "redacted"
        return None
    _put(path, "".join(kept).encode("utf-8", "surrogateescape"))
    return "rows"


def _parquet(name: str, path: Any, subjects: Subjects) -> str | None:
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(io.BytesIO(_read(path))).combine_chunks()
    ids = pa.array(sorted(subjects.ids), pa.large_string())
    emails = pa.array(sorted(subjects.emails), pa.large_string())
    hit = pa.array([False] * table.num_rows)
    per_column = {}
    for column_name, column in zip(table.column_names, table.columns, strict=True):
        if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue
        text = pc.cast(column, pa.large_string())
        mask = pc.fill_null(pc.or_(pc.is_in(text, value_set=ids),
                                   pc.is_in(pc.utf8_lower(text), value_set=emails)), False)
        if isinstance(mask, pa.ChunkedArray):
            mask = mask.combine_chunks() if mask.num_chunks else pa.array([], pa.bool_())
        if not (pc.any(mask).as_py() or False):
            continue
        per_column[column_name] = mask
        hit = pc.or_(hit, mask)
    if not per_column:
        return None
    stage = Path(name).parts[0] if Path(name).parts else ""
    if stage in KEEP_ROWS and Path(name).name != "quarantine.parquet":
        columns = []
        for column_name, column in zip(table.column_names, table.columns, strict=True):
            mask = per_column.get(column_name)
            if mask is None:
                columns.append(column)
            elif column_name == "customer_id":
                values = [subjects.pseudonyms.get(v, ERASED) if m else v
                          for v, m in zip(column.to_pylist(), mask.to_pylist(), strict=True)]
                columns.append(pa.array(values, column.type))
            else:
                columns.append(pc.if_else(mask, pa.scalar(None, column.type), column))
        cleaned, done = pa.table(columns, schema=table.schema), "pseudonymised"
    else:
        cleaned, done = table.filter(pc.invert(hit)), "rows"
    buffer = io.BytesIO()
    pq.write_table(cleaned, buffer)
    _put(path, buffer.getvalue())
    return done
