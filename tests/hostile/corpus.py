"""The hostile corpus: files and rows an attacker or an unlucky export produces.

Every case states what it must end in. File cases (:data:`FILES`) are refused by
the file gate (exit 3, one line naming lines and columns, never a cell) or
accepted whole; row cases (:data:`ROWS`) sit in one extract, each row ending
quarantined with its reason or kept (and then mailed safely).

The files are built from these recipes at test time: symlinks, FIFOs, a 50 MB
cell and 20,000 columns do not belong in git, and invisible characters are
reviewable here as escapes. ``python -m tests.hostile.corpus DIR`` writes them
all out to try by hand (``milestones validate DIR/<case>/customers_2026-11-22.csv``).
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

NAME = "customers_2026-11-22.csv"
AS_OF = "2026-11-22"
HEADER = ["customer_id", "first_name", "email", "customer_since", "marketing_opt_in"]
#: A cell value that must never appear in any message (personal data / file content).
SECRET = "Sekret-Person-4711"
GOOD_ROWS = [["C1", "Aino", "aino@example.com", "2015-03-01", "true"],
             ["C2", "Bob", "bob@example.com", "2016-04-02", "false"]]


def csv_text(rows: list[list[str]], header: list[str] = HEADER, newline: str = "\n") -> str:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


@dataclass(frozen=True)
class FileCase:
    """One hostile file and what it must end in."""

    name: str
    build: Callable[[Path], Path]        # writes the case under a directory, returns the extract path
    exit: int                            # 3: the file gate refuses it; 0: accepted
    message: str = ""                    # regex the one stderr line must match (exit 3)
    quarantined: int | None = None       # rows quarantined when accepted
    valid: int | None = None
    args: tuple[str, ...] = ()           # extra CLI arguments
    max_seconds: float | None = None     # it must answer this fast (measured in-process)
    never: tuple[str, ...] = (SECRET,)   # must appear nowhere in stdout or stderr


def _write(content: bytes | str, name: str = NAME) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        path = root / name
        if isinstance(content, str):
            path.write_text(content, encoding="utf-8", newline="")
        else:
            path.write_bytes(content)
        return path
    return build


def _symlink(target: Callable[[Path], str]) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        path = root / NAME
        os.symlink(target(root), path)
        return path
    return build


def _real_extract(root: Path) -> str:
    real = root / "real" / "export.csv"
    real.parent.mkdir()
    real.write_text(csv_text(GOOD_ROWS), encoding="utf-8")
    return str(real)


def _fifo(root: Path) -> Path:
    os.mkfifo(root / NAME)
    return root / NAME


def _directory(root: Path) -> Path:
    (root / NAME).mkdir()
    return root / NAME


def _huge_cell(root: Path) -> Path:
    path = root / NAME
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(csv_text([GOOD_ROWS[0]]))
        fh.write(f"C9,{SECRET}{'x' * (50 << 20)},c9@example.com,2015-03-01,true\n")
    return path


def _columns(extra: int) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        header = HEADER + [f"extra_{i}" for i in range(extra)]
        rows = [row + [""] * extra for row in GOOD_ROWS]
        return _write(csv_text(rows, header))(root)
    return build


def _parquet(columns: dict[str, list], names: list[str] | None = None) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        import pyarrow as pa
        import pyarrow.parquet as pq

        path = root / "customers_2026-11-22.parquet"
        arrays = [pa.array(v, pa.string()) for v in columns.values()]
        pq.write_table(pa.Table.from_arrays(arrays, names=names or list(columns)), path)
        return path
    return build


def _truncated_parquet(root: Path) -> Path:
    path = _parquet({c: [r[i] for r in GOOD_ROWS] for i, c in enumerate(HEADER)})(root)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path


_SECRET_ROW = ["C3", SECRET, "c3@example.com", "2015-03-01", "true"]
_TEXT = csv_text(GOOD_ROWS + [_SECRET_ROW])

FILES: list[FileCase] = [
    FileCase("symlink_to_passwd", _symlink(lambda root: "/etc/passwd"), 3, r"is a symbolic link; refused",
             never=(SECRET, "root:", "/bin/")),
    FileCase("symlink_to_extract", _symlink(_real_extract), 3, r"is a symbolic link; refused"),
    FileCase("symlink_followed_on_request", _symlink(_real_extract), 0, quarantined=0, valid=2,
             args=("--follow-symlinks",)),
    FileCase("dangling_symlink", _symlink(lambda root: str(root / "gone.csv")), 3, r"is a symbolic link"),
    FileCase("fifo", _fifo, 3, r"is a FIFO, not a regular file", max_seconds=5),
    FileCase("directory", _directory, 3, r"is a directory, not a regular file"),
    FileCase("missing", lambda root: root / NAME, 3, r"no such file"),
    FileCase("empty", _write(b""), 3, r"empty file"),
    FileCase("header_only", _write(csv_text([])), 3, r"no data rows"),
    FileCase("missing_required_column", _write("customer_id,first_name\nC1,Ann\n"), 3,
             r"missing required column\(s\): email, customer_since, marketing_opt_in"),
    FileCase("latin1", _write(csv_text([["C1", "Jos\u00e9", "j@example.com", "2020-01-01", "true"]]).encode("latin-1")),
             3, r"not UTF-8 \(byte 0xe9 at offset \d+\)"),
    FileCase("utf16_le_bom", _write(codecs.BOM_UTF16_LE + _TEXT.encode("utf-16-le")), 3,
             r"encoded as UTF-16 \(little endian\), not UTF-8"),
    FileCase("utf16_be_bom", _write(codecs.BOM_UTF16_BE + _TEXT.encode("utf-16-be")), 3,
             r"encoded as UTF-16 \(big endian\), not UTF-8"),
    FileCase("utf16_no_bom", _write(_TEXT.encode("utf-16-le")), 3, r"UTF-16 without a byte order mark"),
    FileCase("utf32", _write(_TEXT.encode("utf-32")), 3, r"encoded as UTF-32"),
    FileCase("binary_zip", _write(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + bytes(2048)), 3,
             r"NUL byte at offset 5: looks like binary data"),
    FileCase("binary_without_nul", _write(b"PK\x03\x04" + bytes(range(1, 256)) * 8), 3,
             r"not UTF-8 \(byte 0x80 at offset 131\)"),
    FileCase("ragged_short_row", _write(_TEXT + f"C4,{SECRET},x@example.com\n"), 3,
             r"line 5: 3 fields where the header has 5"),
    FileCase("ragged_long_row", _write(_TEXT + f"C4,{SECRET},x@example.com,2015-03-01,true,extra,more\n"), 3,
             r"line 5: 7 fields where the header has 5"),
    FileCase("unterminated_quote", _write(_TEXT + f'C4,"{SECRET},x@example.com,2015-03-01,true\n'), 3,
             r"line 5: an unterminated quoted field"),
    FileCase("duplicate_header", _write(csv_text([r + ["x@example.com"] for r in GOOD_ROWS], HEADER + ["email"])),
             3, r"repeated column name\(s\): 'email' in columns 3 and 6"),
    FileCase("duplicate_header_after_trim",
             _write(csv_text([r + ["1"] for r in GOOD_ROWS], HEADER + [" customer_id "])),
             3, r"'customer_id' in columns 1 and 6"),
    FileCase("twenty_thousand_extra_columns", _columns(20_000), 3, r"20005 columns \(at most 1000\)",
             max_seconds=5),
    FileCase("nine_hundred_extra_columns", _columns(900), 0, quarantined=0, valid=2, max_seconds=60),
    FileCase("fifty_megabyte_cell", _huge_cell, 3, r"line 3: .*field over 16 MiB", max_seconds=30),
    FileCase("unsupported_suffix", _write(_TEXT, "customers_2026-11-22.xlsx"), 3, r"unsupported file type '.xlsx'",
             args=("--as-of", AS_OF)),
    FileCase("parquet_truncated", _truncated_parquet, 3, r"unreadable as parquet \(\w+\)"),
    FileCase("parquet_duplicate_columns",
             _parquet({"a": ["C1"], "b": ["Ann"], "c": ["a@example.com"], "d": ["2015-03-01"], "e": ["true"],
                       "f": ["x@example.com"]}, names=HEADER + ["email"]), 3, r"repeated column name"),
    # Most tools write empty cells of string columns as "": missing, exactly as in CSV.
    FileCase("parquet_empty_strings",
             _parquet({"customer_id": ["C1", "C2", "C3"], "first_name": ["Aino", "Bob", ""],
                       "email": ["aino@example.com", "bob@example.com", "c3@example.com"],
                       "customer_since": ["2015-03-01", "2016-04-02", "2017-01-01"],
                       "marketing_opt_in": ["true", "false", "true"], "locale": ["", "fi", ""],
                       "timezone": ["", "", "Europe/Helsinki"], "date_of_birth": ["", "1980-05-17", ""],
                       "wedding_date": ["", "", ""], "children_count": ["", "2", ""], "deceased": ["", "", ""]}),
             0, quarantined=1, valid=2),
    FileCase("utf8_bom_crlf_quoted_newlines",
             _write(codecs.BOM_UTF8 + csv_text(GOOD_ROWS + [["C3", "Ann\nMarie", "c3@example.com", "2015-03-01", "1"]],
                                               newline="\r\n").encode()), 0, quarantined=1, valid=2),
    # Columns named like the quarantine's own: the quarantine keeps its reasons.
    FileCase("columns_named_like_the_quarantine",
             _write(csv_text([r + ["=1+1", "7", "x"] for r in GOOD_ROWS] + [["", "Ann", "a@example.com",
                                                                             "2015-03-01", "true", "ok", "1", "y"]],
                             HEADER + ["reasons", "row_number", "extract"])), 0, quarantined=1, valid=2),
]


# --- rows ------------------------------------------------------------------------------------

ROW_COLUMNS = ["customer_id", "first_name", "last_name", "email", "customer_since", "marketing_opt_in",
               "timezone", "date_of_birth", "wedding_date", "retirement_date", "graduation_date", "locale"]
#: A valid customer whose birthday is the run's day (so a kept row gets an email).
BASE = {"first_name": "Aino", "last_name": "Virtanen", "customer_since": "2015-03-01", "marketing_opt_in": "true",
        "timezone": "Europe/Helsinki", "date_of_birth": "1980-11-22", "wedding_date": "", "retirement_date": "",
        "graduation_date": "", "locale": "en"}


@dataclass(frozen=True)
class RowCase:
    """One hostile row: what differs from :data:`BASE`, and its reasons (empty: kept and mailed)."""

    name: str
    change: dict[str, str]
    reasons: frozenset[str] = field(default_factory=frozenset)


def _bad(name: str, change: dict[str, str], *reasons: str) -> RowCase:
    return RowCase(name, change, frozenset(reasons))


ROWS: list[RowCase] = [
    _bad("name_nul", {"first_name": "Ann\x00a"}, "first_name:control_characters"),
    _bad("name_crlf_bcc", {"first_name": "Ann\r\nBcc: attacker@evil.example"}, "first_name:control_characters"),
    _bad("name_bidi_override", {"first_name": "\u202eanmoT"}, "first_name:control_characters"),
    _bad("name_bidi_isolate", {"first_name": "Ann\u2066x\u2069"}, "first_name:control_characters"),
    _bad("name_zero_width_space", {"first_name": "An\u200bn"}, "first_name:control_characters"),
    _bad("name_only_zero_width", {"first_name": "\u200b"}, "first_name:control_characters"),
    _bad("name_bom_inside", {"first_name": "A\ufeffnn"}, "first_name:control_characters"),
    _bad("name_line_separator", {"first_name": "Ann\u2028Bcc: x"}, "first_name:control_characters"),
    _bad("name_c1_control", {"first_name": "Ann\x85"}, "first_name:control_characters"),
    _bad("name_tab", {"first_name": "Ann\tMarie"}, "first_name:control_characters"),
    _bad("name_spaces", {"first_name": "   "}, "first_name:blank"),
    _bad("name_unicode_spaces", {"first_name": "\u3000\u00a0\u2003"}, "first_name:blank"),
    _bad("name_zero_width_joiner_only", {"first_name": "\u200d"}, "first_name:blank"),
    _bad("name_ten_thousand", {"first_name": "A" * 10_000}, "first_name:too_long"),
    _bad("name_101", {"first_name": "\u00c4" * 101}, "first_name:too_long"),
    _bad("last_name_control", {"last_name": "Vir\x1btanen"}, "last_name:control_characters"),
    _bad("last_name_blank", {"last_name": " "}, "last_name:blank"),
    _bad("id_crlf", {"customer_id": "C1\r\nX"}, "customer_id:control_characters"),
    _bad("id_nul", {"customer_id": "C\x001"}, "customer_id:control_characters"),
    _bad("id_blank", {"customer_id": "  "}, "customer_id:blank"),
    _bad("id_65", {"customer_id": "J" * 65}, "customer_id:too_long"),
    _bad("zone_localtime", {"timezone": "localtime"}, "timezone:unknown"),
    _bad("zone_factory", {"timezone": "Factory"}, "timezone:unknown"),
    _bad("zone_posix_rule", {"timezone": "EST5EDT"}, "timezone:unknown"),
    _bad("zone_fixed_offset", {"timezone": "Etc/GMT+5"}, "timezone:unknown"),
    _bad("zone_alias", {"timezone": "US/Eastern"}, "timezone:unknown"),
    _bad("zone_posixrules", {"timezone": "posixrules"}, "timezone:unknown"),
    _bad("zone_path", {"timezone": "../../etc/passwd"}, "timezone:unknown"),
    _bad("wedding_9999", {"wedding_date": "9999-12-31"}, "wedding_date:out_of_range"),
    _bad("wedding_year_1", {"wedding_date": "0001-01-01"}, "wedding_date:out_of_range",
         "wedding_date:before_birth"),
    _bad("retirement_9999", {"retirement_date": "9999-12-31"}, "retirement_date:out_of_range"),
    _bad("retirement_1200", {"retirement_date": "1200-06-01"}, "retirement_date:out_of_range"),
    _bad("graduation_2099", {"graduation_date": "2099-06-01"}, "graduation_date:out_of_range"),
    _bad("customer_since_1800", {"customer_since": "1800-01-01"}, "customer_since:too_old"),
    _bad("born_9999", {"date_of_birth": "9999-12-31"}, "date_of_birth:in_future"),
    _bad("email_crlf_bcc", {"email": "a@example.com\r\nBcc: attacker@evil.example"}, "email:invalid"),
    _bad("email_display_name", {"email": "Ann <a@example.com>"}, "email:invalid"),
    _bad("opt_in_padded", {"marketing_opt_in": "true "}, "marketing_opt_in:not_boolean"),
    # Valid addresses SendGrid cannot take as given: quarantined, never rewritten (issue 26, item 6).
    _bad("email_idn_domain", {"email": "z@ex\u00e4mple.com"}, "email:non_ascii"),
    _bad("email_unicode_mailbox", {"email": "zo\u00eb@example.com"}, "email:non_ascii"),
    # Kept: hostile-looking names are data, and arrive as text.
    RowCase("name_script", {"first_name": "<script>alert(1)</script>"}),
    RowCase("name_jinja", {"first_name": "{{ 7*7 }}"}),
    # Printable ASCII, so kept: the outbox must never decode it into a Bcc: line (item 3).
    RowCase("name_encoded_word", {"first_name": "=?utf-8?q?Ann=0D=0ABcc:_attacker@evil.example=0D=0A?="}),
    RowCase("name_formula", {"first_name": "=HYPERLINK(\"http://evil.example\")", "customer_id": "=1+1"}),
    RowCase("name_emoji_zwj", {"first_name": "\U0001F469\u200d\U0001F469\u200d\U0001F467"}),
    RowCase("name_cjk", {"first_name": "\u674e\u534e"}),
    RowCase("name_100", {"first_name": "\u00c4" * 100}),
    RowCase("zone_utc", {"timezone": "UTC"}),
    RowCase("retirement_planned", {"retirement_date": "2050-01-01"}),
]


def row_values(index: int, case: RowCase) -> dict[str, str]:
    """The row of ``case``: a unique id and address unless the case sets them."""
    return {**BASE, "customer_id": f"R{index:03d}", "email": f"r{index}@example.com", **case.change}


def write_rows(path: Path, cases: list[RowCase] = ROWS) -> Path:
    rows = [[row_values(i, c)[col] for col in ROW_COLUMNS] for i, c in enumerate(cases)]
    path.write_text(csv_text(rows, ROW_COLUMNS), encoding="utf-8", newline="")
    return path


if __name__ == "__main__":  # pragma: no cover - for trying the corpus by hand
    import sys

    from tests.hostile.instructions import OUTCOME_FILES, PREFERENCE_FILES, PROFILE_FILES

    out = Path(sys.argv[1])
    for case in FILES:
        (out / case.name).mkdir(parents=True, exist_ok=True)
        case.build(out / case.name)
    (out / "rows").mkdir(parents=True, exist_ok=True)
    write_rows(out / "rows" / NAME)
    for group, cases in (("preferences", PREFERENCE_FILES), ("outcomes", OUTCOME_FILES), ("profiles", PROFILE_FILES)):
        for case in cases:
            (out / group / case.name).mkdir(parents=True, exist_ok=True)
            case.build(out / group / case.name)
    print(f"{len(FILES)} file cases and {len(ROWS)} row cases under {out}, and {len(PREFERENCE_FILES)} preference, "
          f"{len(OUTCOME_FILES)} outcomes and {len(PROFILE_FILES)} profile files")
