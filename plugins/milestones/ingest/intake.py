"""The file gate's checks on an extract before and while it is read.

A hostile or broken file must end in one clear line that names the file, a line
number and a column, never a cell's content (cells are personal data, and a
symlinked ``/etc/passwd`` must not be echoed into a task log):

- only a regular file is read: symlinks (unless explicitly allowed), FIFOs,
  devices and directories are refused before anything is opened;
- UTF-16/UTF-32 exports are named as such (their byte order mark, or NUL bytes);
- the header may not repeat a column name nor hold more than ``MAX_COLUMNS`` columns;
- a row with the wrong number of fields, an unterminated quote or a field over
  ``MAX_FIELD_BYTES`` is located by line number by re-scanning the file with
  Python's ``csv`` module (only on that error path).
"""

from __future__ import annotations

import csv
import os
import stat
from pathlib import Path

from milestones.ingest.errors import ExtractError

#: Contract columns plus room for many unknown ones; a file with more is not a CRM extract
#: (20,000 columns would be refused here at once instead of crawling through validation).
MAX_COLUMNS = 1_000
#: Arrow reads CSV in blocks of this size; a single field must fit in one.
MAX_FIELD_BYTES = 16 << 20
_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32 (little endian)"),
    (b"\x00\x00\xfe\xff", "UTF-32 (big endian)"),
    (b"\xff\xfe", "UTF-16 (little endian)"),
    (b"\xfe\xff", "UTF-16 (big endian)"),
)


def check_regular_file(path: Path, *, follow_symlinks: bool = False) -> os.stat_result:
    """``path``'s stat if it is a regular file; :class:`ExtractError` for anything else.

    A symlink is refused unless ``follow_symlinks`` (and then its target must be
    a regular file): an extract link pointing at ``/etc/passwd`` is never read.
    """
    try:
        info = os.lstat(path)
        if stat.S_ISLNK(info.st_mode):
            if not follow_symlinks:
                raise ExtractError(f"{path.name}: is a symbolic link; refused (copy the file itself, "
                                   "or pass --follow-symlinks)")
            info = os.stat(path)
    except FileNotFoundError:
        raise ExtractError(f"{path}: no such file") from None
    except PermissionError:
        raise ExtractError(f"{path.name}: unreadable (permission denied)") from None
    except OSError as exc:
        raise ExtractError(f"{path.name}: unreadable ({exc.strerror})") from None
    if not stat.S_ISREG(info.st_mode):
        kind = ("a directory" if stat.S_ISDIR(info.st_mode) else "a FIFO" if stat.S_ISFIFO(info.st_mode)
                else "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "a socket" if stat.S_ISSOCK(info.st_mode) else "not a regular file")
        raise ExtractError(f"{path.name}: is {kind}, not a regular file; refused")
    return info


def check_encoding(path: Path) -> None:
    """Name UTF-16 and UTF-32 exports (by byte order mark, or NUL bytes in the first 4 KiB)."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    for bom, name in _BOMS:
        if head.startswith(bom):
            raise ExtractError(f"{path.name}: encoded as {name}, not UTF-8; re-export the extract as UTF-8")
    # A stray NUL in a cell is the validation's business (the row is quarantined); many are
    # the signature of UTF-16 without a byte order mark, or of a file that is not text at all.
    if head.count(0) >= max(4, len(head) // 64):
        zero = head.index(b"\x00")
        even, odd = head[0::2].count(0), head[1::2].count(0)
        # UTF-16 text: NULs in one byte position of (nearly) every pair, hardly any in the other.
        utf16 = max(even, odd) > len(head) // 4 and min(even, odd) < len(head) // 64
        guess = "UTF-16 without a byte order mark" if utf16 else "binary data"
        raise ExtractError(f"{path.name}: NUL byte at offset {zero}: looks like {guess}, not UTF-8 CSV; "
                           "re-export the extract as UTF-8")


def check_header(names: list[str], file_name: str) -> None:
    """Refuse repeated column names and an absurd number of columns, naming positions, not values."""
    if len(names) > MAX_COLUMNS:
        raise ExtractError(f"{file_name}: {len(names)} columns (at most {MAX_COLUMNS}); "
                           "this is not a CRM extract")
    seen: dict[str, int] = {}
    repeated: list[str] = []
    for position, raw in enumerate(names, start=1):
        name = raw.strip()
        if name in seen:
            label = repr(name) if name else "(blank)"
            repeated.append(f"{label} in columns {seen[name]} and {position}")
        else:
            seen[name] = position
    if repeated:
        raise ExtractError(f"{file_name}: repeated column name(s): {'; '.join(repeated[:5])}")


def locate_csv_problem(path: Path, encoding: str = "utf-8", dialect: dict | None = None) -> str:
    """Where the CSV first breaks its structure, as ``line N: what`` (no cell content).

    Runs only after Arrow refused the file: a plain scan, with fields limited to
    :data:`MAX_FIELD_BYTES`.
    """
    csv.field_size_limit(MAX_FIELD_BYTES)
    with open(path, encoding="utf-8-sig" if encoding == "utf-8" else encoding, newline="") as fh:
        reader = csv.reader(fh, strict=True, **(dialect or {}))
        width = None
        try:
            for row in reader:
                if width is None:
                    width = len(row)
                elif len(row) != width and row:
                    return (f"line {reader.line_num}: {len(row)} fields where the header has {width}"
                            " (a stray delimiter or quote, or a cut row)")
        except csv.Error as exc:
            what = ("a field over 16 MiB" if "field larger" in str(exc)
                    else "an unterminated quoted field" if "EOF" in str(exc) or "unexpected end" in str(exc)
                    else "a malformed quoted field")
            return f"line {reader.line_num}: {what}"
        except UnicodeDecodeError:
            if encoding != "utf-8":
                return f"not {encoding} (the profile's declared encoding)"
            check_utf8(path)  # raises, naming the first bad byte and its offset
            raise
    return "malformed CSV"


def check_utf8(path: Path) -> None:
    """Reject a file that is not UTF-8, naming the first offending byte."""
    with open(path, "rb") as fh:
        offset = 0
        decoder = __import__("codecs").getincrementaldecoder("utf-8")()
        while chunk := fh.read(1 << 22):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                pos = offset + exc.start
                raise ExtractError(
                    f"{path.name}: not UTF-8 (byte 0x{chunk[exc.start]:02x} at offset {pos}); "
                    "re-export the extract as UTF-8 (Latin-1/Windows-1252 are not accepted)"
                ) from None
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise ExtractError(f"{path.name}: not UTF-8 (truncated multi-byte sequence at end)") from None
