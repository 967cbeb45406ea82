"""Property (issue 26): ``preferences import`` is all or nothing, whatever the file holds.

Random CRM files of good rows with random poison at random places (ids with line breaks,
NUL, bidi overrides, formulas or 65+ characters; bad flags, dates, languages, types; a
Latin-1 byte, an unclosed quote, a ragged row): a file with any poison exits 3 with one line
that names exactly the poisoned lines (never a value) and applies nothing; a clean file exits
0 and applies every row.
"""

from __future__ import annotations

import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milestones.cli import main
from milestones.core.config import load_settings
from milestones.decide.preferences import Preferences

HEADER = "customer_id,unsubscribed,opted_out_types,paused_until,email_language\n"
markers = st.text("abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=10).map(lambda s: f"Q{s}Z")

#: Row poisons: (strategy of the row text given a marker, its problem as the error line names it).
ROW_POISONS = {
    "id_crlf": (lambda m: f'"{m}\r\nX",true,,,', "customer_id: control characters"),
    "id_nul": (lambda m: f"{m}\x00,true,,,", "customer_id: control characters"),
    "id_bidi": (lambda m: f"\u202e{m},true,,,", "customer_id: control characters"),
    "id_tab": (lambda m: f"{m}\tx,true,,,", "customer_id: control characters"),
    "id_formula": (lambda m: f"=HYPERLINK({m}),true,,,", "customer_id: starts like a spreadsheet formula"),
    "id_at": (lambda m: f"@{m},true,,,", "customer_id: starts like a spreadsheet formula"),
    "id_long": (lambda m: m + "K" * 64 + ",true,,,", "customer_id: longer than 64 characters"),
    "flag": (lambda m: f"P1,{m},,,", "unsubscribed: not valid"),
    "date": (lambda m: f"P2,,,{m},", "paused_until: not valid"),
    "language": (lambda m: f"P3,,,,{m}", "email_language: not valid"),
    "types": (lambda m: f"P4,,{m},,", "opted_out_types: not valid"),
}
#: File poisons: the whole file is unreadable; (bytes appended, what the line says).
FILE_POISONS = {
    "latin1": (lambda m: f"{m}\u00e9,true,,,\n".encode("latin-1"), r"not UTF-8 \(byte 0xe9 at offset \d+\)"),
    "unclosed_quote": (lambda m: f'"{m},true,,,\nF010,true,,,\n'.encode(), r"line \d+: an unterminated quoted field"),
    "huge_field": (lambda m: f"G1,true,{m}{'x' * 5000},,\n".encode(), r"line \d+: a field over 4 KiB"),
}
GOOD_VALUES = st.tuples(st.sampled_from(["", "true", "yes", "1"]), st.sampled_from(["", "birthday", "birthday customer_anniversary"]),
                        st.sampled_from(["", "2027-01-31"]), st.sampled_from(["", "fi", "en", "et"]))
_PREFIXES = itertools.count()


@st.composite
def files(draw):
    goods = draw(st.lists(GOOD_VALUES, max_size=15))
    poisons = draw(st.lists(st.tuples(st.sampled_from(sorted(ROW_POISONS)), markers), max_size=4))
    places = [draw(st.integers(0, len(goods) + i)) for i in range(len(poisons))]
    tail = draw(st.none() | st.tuples(st.sampled_from(sorted(FILE_POISONS)), markers))
    return goods, poisons, places, tail


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("prefs-property")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=files())
def test_property_preferences_import_is_all_or_nothing(case, data_dir, capsys):
    goods, poisons, places, tail = case
    prefix = f"X{next(_PREFIXES)}-"
    rows: list[tuple[str, str | None]] = [
        (f"{prefix}{i},{flag},{types},{until},{lang}", None) for i, (flag, types, until, lang) in enumerate(goods)]
    for (kind, marker), place in zip(poisons, places, strict=True):
        make, problem = ROW_POISONS[kind]
        rows.insert(place, (make(marker), problem))
    body = (HEADER + "".join(text + "\n" for text, _ in rows)).encode()
    if tail:
        body += FILE_POISONS[tail[0]][0](tail[1])
    path = data_dir / f"{prefix}crm.csv"
    path.write_bytes(body)
    code = main(["preferences", "import", str(path), "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    markers_used = [m for _, m in poisons] + ([tail[1]] if tail else [])
    assert not any(m in out + err for m in markers_used)
    store = Preferences(load_settings(data_dir=data_dir).ledger_database_url)
    applied = [store.get(f"{prefix}{i}").exists for i in range(len(goods))]
    # A row is named by the line it starts on (a quoted line break makes a row two lines long).
    starts = [2 + sum(text.count("\n") + 1 for text, _ in rows[:i]) for i in range(len(rows))]
    expected_lines = [f"line {n}: {problem}" for n, (_, problem) in zip(starts, rows, strict=True) if problem]
    if not rows and not tail:  # a header alone
        assert code == 3 and err == f"milestones: error: {path.name}: no data rows\n"
    elif tail or expected_lines:
        assert code == 3 and out == "" and err.count("\n") == 1 and not any(applied)
        if tail:  # the file as a whole is refused first
            assert re.search(FILE_POISONS[tail[0]][1], err), err
        else:
            assert f"{len(expected_lines)} bad row(s), nothing applied: " in err
            named = re.findall(r"line \d+: [a-z_]+: [^;(]+", err)
            assert [n.strip() for n in named] == [e.split(" (")[0] for e in expected_lines][:5], err
    else:
        assert code == 0, err
        summary = json.loads(out.strip().splitlines()[-1])
        changed = sum(1 for g in goods if any(g))
        assert summary["applied"] == changed and summary["error_count"] == 0
        assert applied == [any(g) for g in goods]
