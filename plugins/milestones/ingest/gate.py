"""The file gate: one set of rules for every file the project reads.

Extracts (:mod:`milestones.ingest.extract`, with :mod:`milestones.ingest.intake`'s checks),
outcomes extracts, ``preferences import`` files, erasure requests and extract profiles all
pass the same checks before a byte of their content is used. A file that breaks one is
refused whole (:class:`~milestones.ingest.extract.ExtractError`, the command's exit 3) with
one line naming the file, a line number and a column, never a cell's content:

1. only a regular file is read: a symbolic link (unless explicitly allowed), a directory,
   a FIFO (it would block), a device or a socket is refused before it is opened, and the
   file is opened without following a link and checked again on the open descriptor (a
   file swapped for a FIFO in between is still refused, never waited on);
2. an empty file is refused; so is a file larger than the kind's limit (:func:`open_checked`'s
   ``max_bytes``: profiles :data:`MAX_PROFILE_BYTES`);
3. the text is UTF-8 (a byte order mark allowed): UTF-16/UTF-32 are named as such, binary
   data by its first NUL byte, any other encoding by the offset of its first bad byte;
4. CSV structure: a header without repeated or more than ``MAX_COLUMNS`` columns, with the
   required columns; every row as wide as the header; no unterminated quoted field; no field
   over the kind's limit (:data:`MAX_FIELD_BYTES` here, 16 MiB for extracts, which Arrow
   reads in blocks); at least one data row;
5. ids (:func:`id_problem`): not blank, at most 64 characters, no control characters (NUL,
   CR, LF, tab, C1), bidi overrides/isolates, zero-width or line-separator characters, and in
   files that *instruct* the project (preferences, erasure requests) no leading ``=``,
   ``+``, ``-`` or ``@`` (a spreadsheet formula): such a row refuses the whole file.

Files that instruct (preferences import, erasure requests) are all-or-nothing: every row is
checked before the first is applied. Extract rows are judged one by one by validation
instead (a bad row is quarantined with its reason, the rest go on).
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from milestones.ingest import intake
from milestones.ingest.checks import text_problem
from milestones.ingest.errors import ExtractError

#: Longest field of a preferences or erasure-request file (an id, a few flags and types).
MAX_FIELD_BYTES = 4096
#: Largest extract profile (YAML): a real one is a few KiB.
MAX_PROFILE_BYTES = 256 << 10
#: Longest customer id (as the CRM contract and the preference store's column).
MAX_ID_CHARS = 64
#: First characters of a cell a spreadsheet evaluates (csvsafe.FORMULA_START without tab/CR,
#: which are control characters already).
FORMULA_START = ("=", "+", "-", "@")
#: Bad rows named in the one error line (the rest counted).
SHOWN = 5


def open_checked(path: Path | str, *, follow_symlinks: bool = False, max_bytes: int | None = None,
                 what: str = "file") -> io.BufferedReader:
    """``path`` opened for reading (binary) after rules 1 and 2; the caller closes it."""
    path = Path(path)
    intake.check_regular_file(path, follow_symlinks=follow_symlinks)
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise ExtractError(f"{path}: no such file") from None
    except OSError as exc:  # ELOOP: it became a link since; EACCES
        raise ExtractError(f"{path.name}: unreadable ({exc.strerror})") from None
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):  # swapped for a FIFO or a directory since the check
        os.close(fd)
        raise ExtractError(f"{path.name}: is not a regular file; refused")
    if info.st_size == 0:
        os.close(fd)
        raise ExtractError(f"{path.name}: empty file")
    if max_bytes is not None and info.st_size > max_bytes:
        os.close(fd)
        raise ExtractError(f"{path.name}: {info.st_size} bytes; a {what} may have at most {max_bytes}")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_text(path: Path | str, *, follow_symlinks: bool = False, max_bytes: int | None = None,
              what: str = "file") -> str:
    """The whole file as text after rules 1-3 (for small files: profiles, requests)."""
    path = Path(path)
    with open_checked(path, follow_symlinks=follow_symlinks, max_bytes=max_bytes, what=what) as fh:
        data = fh.read()
    return decode(data, path.name)


def decode(data: bytes, name: str) -> str:
    """UTF-8 text of ``data`` (a BOM dropped), or :class:`ExtractError` naming the encoding or offset."""
    for bom, encoding in intake._BOMS:
        if data.startswith(bom):
            raise ExtractError(f"{name}: encoded as {encoding}, not UTF-8; re-export the file as UTF-8")
    head = data[:4096]
    if head.count(0) >= max(4, len(head) // 64):
        raise ExtractError(f"{name}: NUL byte at offset {head.index(0)}: looks like UTF-16 or binary data, "
                           "not UTF-8 text; re-export the file as UTF-8")
    try:
        return codecs.decode(data.removeprefix(codecs.BOM_UTF8), "utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0)
        raise ExtractError(f"{name}: not UTF-8 (byte 0x{data[offset]:02x} at offset {offset}); "
                           "re-export the file as UTF-8 (Latin-1/Windows-1252 are not accepted)") from None


@dataclass(frozen=True)
class Rows:
    """A CSV file through the gate: its columns and its rows, each with its line number."""

    name: str
    columns: list[str]
    rows: list[tuple[int, dict[str, str]]]


def read_rows(path: Path | str, *, required: Iterable[str] = ("customer_id",),
              id_columns: Iterable[str] = ("customer_id",), instructions: bool = True,
              follow_symlinks: bool = False, max_field_bytes: int = MAX_FIELD_BYTES,
              max_bytes: int | None = None, check: Callable[[dict[str, str]], list[str]] | None = None) -> Rows:
    """Every row of a small CSV file (preferences, erasure requests), after every rule above.

    ``id_columns`` are checked by :func:`id_problem` (``instructions``: formulas refused too),
    then each row by ``check`` (the kind's own rules: ``column: what``, never a value).
    Raises :class:`ExtractError` (one line, at most :data:`SHOWN` bad lines named) for any
    breach; nothing of the file is used then.
    """
    path = Path(path)
    name = path.name
    text = read_text(path, follow_symlinks=follow_symlinks, max_bytes=max_bytes)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    limit = max(max_field_bytes, 1)
    previous = csv.field_size_limit(limit)
    rows: list[tuple[int, list[str]]] = []
    line = 1
    try:
        try:
            for row in reader:
                rows.append((line, row))
                line = reader.line_num + 1
        except csv.Error as exc:
            what = (f"a field over {_size(limit)}" if "field larger" in str(exc)
                    else "an unterminated quoted field" if "EOF" in str(exc) or "unexpected end" in str(exc)
                    else "a malformed quoted field")
            raise ExtractError(f"{name}: unreadable as CSV: line {line}: {what}") from None
    finally:
        csv.field_size_limit(previous)
    if not rows:
        raise ExtractError(f"{name}: empty file")
    header = [c.strip() for c in rows[0][1]]
    intake.check_header(header, name)
    missing = [c for c in required if c not in header]
    if missing:
        raise ExtractError(f"{name}: missing required column(s): {', '.join(missing)}")
    body = [(n, r) for n, r in rows[1:] if r]  # a blank line is no row
    if not body:
        raise ExtractError(f"{name}: no data rows")
    problems: list[str] = []
    out: list[tuple[int, dict[str, str]]] = []
    for n, row in body:
        if len(row) != len(header):
            problems.append(f"line {n}: {len(row)} fields where the header has {len(header)}")
            continue
        values = dict(zip(header, row, strict=True))
        for column in id_columns:
            kind = id_problem(values.get(column, ""), instructions=instructions)
            if kind:
                problems.append(f"line {n}: {column}: {kind}")
        problems.extend(f"line {n}: {problem}" for problem in (check(values) if check else ()))
        out.append((n, values))
    refuse(name, problems)
    return Rows(name, header, out)


def id_problem(value: str, *, instructions: bool = True) -> str | None:
    """Why ``value`` cannot be a customer id (a kind, never the value), or None."""
    kind = text_problem(value or "", MAX_ID_CHARS) if value else "missing"
    if kind is None and instructions and value.startswith(FORMULA_START):
        kind = "formula"
    return kind and _KINDS.get(kind, kind)


_KINDS = {"control_characters": "control characters (line breaks, NUL, bidi or invisible characters)",
          "too_long": f"longer than {MAX_ID_CHARS} characters", "blank": "blank",
          "missing": "missing", "formula": "starts like a spreadsheet formula (=, +, -, @)"}


def refuse(name: str, problems: list[str]) -> None:
    """:class:`ExtractError` naming the first :data:`SHOWN` problems (lines and columns), if any."""
    if not problems:
        return
    more = f" (and {len(problems) - SHOWN} more)" if len(problems) > SHOWN else ""
    raise ExtractError(f"{name}: {len(problems)} bad row(s), nothing applied: "
                       f"{'; '.join(problems[:SHOWN])}{more}")


def _size(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 and not n % (1 << 20) else \
        f"{n >> 10} KiB" if n >= 1 << 10 and not n % (1 << 10) else f"{n} bytes"


#: Aliases (``*name``) a YAML file may use: a real profile uses none; a "billion laughs" file
#: (9 aliases per level, 8 levels: 550 bytes, 6.9 s and 298 MB) needs dozens.
MAX_YAML_ALIASES = 20


def load_yaml(path: Path | str, *, max_bytes: int = MAX_PROFILE_BYTES, what: str = "profile") -> object:
    """A YAML file (a profile) through rules 1-3, parsed safely with at most
    :data:`MAX_YAML_ALIASES` aliases; :class:`ExtractError` otherwise (``yaml.YAMLError``
    for a file that is not YAML, for the caller to word)."""
    import yaml

    path = Path(path)
    text = read_text(path, max_bytes=max_bytes, what=what, follow_symlinks=True)

    class Loader(yaml.SafeLoader):
        aliases = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent):
                self.aliases += 1
                if self.aliases > MAX_YAML_ALIASES:
                    mark = self.peek_event().start_mark
                    raise ExtractError(f"{path.name}: more than {MAX_YAML_ALIASES} YAML aliases (line "
                                       f"{mark.line + 1}); refused (an alias bomb?)")
            return super().compose_node(parent, index)

    loader = Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
