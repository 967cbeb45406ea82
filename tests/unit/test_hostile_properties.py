"""Property tests: random extracts with random defects keep every invariant of the file gate.

- no traceback: validation returns, or the file gate raises :class:`ExtractError`;
- every good row is kept, every bad row is quarantined with (at least) its reason;
- reasons are ``column:kind``, and no message, reason or gate text carries a cell value;
- no email built from a name validation keeps has a header other than the project's own.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import email
import email.policy
import io
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from milestones.ingest.checks import text_problem
from milestones.ingest.extract import ExtractError, read_table
from milestones.ingest.validation import validate_extract
from tests.unit.test_hostile_corpus import OWN_HEADERS

AS_OF = dt.date(2026, 11, 22)
NAME = "customers_2026-11-22"
COLUMNS = ["customer_id", "first_name", "last_name", "email", "customer_since", "marketing_opt_in",
           "timezone", "date_of_birth", "wedding_date", "retirement_date", "children_count", "locale"]
ZONES = ["Europe/Helsinki", "Asia/Shanghai", "America/Argentina/Buenos_Aires", "UTC", "Pacific/Auckland", ""]

#: Names validation keeps: letters, marks, digits, punctuation and symbols of any script (emoji
#: included), and plain spaces inside; each at least one visible character.
good_names = st.text(st.characters(categories=("L", "M", "N", "P", "S", "Zs"), exclude_characters="\u3164"),
                     min_size=1, max_size=40).filter(lambda s: text_problem(s, 100) is None)
#: A marker that makes each cell value recognisable if it leaks into a message.
tokens = st.text("abcdefghijklmnopqrstuvwxyz", min_size=6, max_size=10).map(lambda s: f"Q{s}Z")
controls = st.sampled_from(["\x00", "\r\n", "\n", "\t", "\x1b", "\x7f", "\x85", "\u202e", "\u2066", "\u200b",
                            "\u2028", "\ufeff", "\u200f"])

DEFECTS = {
    # kind: (strategy of a change to a good row, the reason it must get)
    "id_missing": (st.just({"customer_id": ""}), "customer_id:missing"),
    "id_control": (st.tuples(tokens, controls).map(lambda t: {"customer_id": t[0] + t[1]}),
                   "customer_id:control_characters"),
    "id_long": (st.integers(65, 200).map(lambda n: {"customer_id": "K" * n}), "customer_id:too_long"),
    "name_missing": (st.just({"first_name": ""}), "first_name:missing"),
    "name_control": (st.tuples(tokens, controls, tokens).map(lambda t: {"first_name": "".join(t)}),
                     "first_name:control_characters"),
    "name_blank": (st.text(" \u00a0\u3000\u2003\u200d", min_size=1, max_size=5).map(lambda s: {"first_name": s}),
                   "first_name:blank"),
    "name_long": (st.integers(101, 500).map(lambda n: {"first_name": "N" * n}), "first_name:too_long"),
    "last_name_control": (st.tuples(tokens, controls).map(lambda t: {"last_name": "".join(t)}),
                          "last_name:control_characters"),
    "email_invalid": (tokens.map(lambda t: {"email": t}), "email:invalid"),
    "email_header": (tokens.map(lambda t: {"email": f"{t}@example.com\r\nBcc: x@evil.example"}), "email:invalid"),
    "zone": (st.sampled_from(["localtime", "Factory", "EST5EDT", "Etc/GMT+5", "US/Eastern", "posixrules",
                              "Mars/Olympus"]).map(lambda z: {"timezone": z}), "timezone:unknown"),
    "born_future": (st.integers(2027, 9999).map(lambda y: {"date_of_birth": f"{y}-01-01", "wedding_date": ""}),
                    "date_of_birth:in_future"),
    "date_garbage": (tokens.map(lambda t: {"date_of_birth": t}), "date_of_birth:unparseable"),
    "wedding_far": (st.integers(2029, 9999).map(lambda y: {"wedding_date": f"{y}-06-01"}),
                    "wedding_date:out_of_range"),
    "retirement_ancient": (st.integers(1000, 1850).map(lambda y: {"retirement_date": f"{y}-06-01"}),
                           "retirement_date:out_of_range"),
    "opt_in": (tokens.map(lambda t: {"marketing_opt_in": t}), "marketing_opt_in:not_boolean"),
    "children": (st.sampled_from(["-1", "1e3", "2.5", "1000"]).map(lambda c: {"children_count": c}),
                 "children_count:not_a_count"),
}


@st.composite
def extracts(draw):
    """``(rows, {row index: expected reason})``: good rows and defective ones, shuffled."""
    # Larger extracts, fewer of them: a validation's fixed cost (Great Expectations' per-expectation
    # bookkeeping, ~0.3 s) is paid per example, the rows are nearly free.
    goods = draw(st.integers(1, 40))
    kinds = draw(st.lists(st.sampled_from(sorted(DEFECTS)), max_size=30))
    rows, expected = [], {}
    for i in range(goods + len(kinds)):
        rows.append({"customer_id": f"G{i}", "first_name": draw(good_names), "last_name": draw(good_names),
                     "email": f"g{i}@example.com", "customer_since": "2015-03-01",
                     "marketing_opt_in": draw(st.sampled_from(["true", "FALSE", "1", "no"])),
                     "timezone": draw(st.sampled_from(ZONES)), "date_of_birth": "1980-05-17",
                     "wedding_date": draw(st.sampled_from(["", "2008-06-21"])), "retirement_date": "",
                     "children_count": draw(st.sampled_from(["", "0", "3"])), "locale": "en"})
    order = draw(st.permutations(range(len(rows))))
    for kind, position in zip(kinds, order, strict=False):
        change, reason = DEFECTS[kind]
        rows[position].update(draw(change))
        expected[position] = reason
    return rows, expected


def _write(rows, tmp_path, as_parquet: bool):
    if as_parquet:
        path = tmp_path / f"{NAME}.parquet"
        pq.write_table(pa.table({c: pa.array([r[c] for r in rows], pa.string()) for c in COLUMNS}), path)
        return path
    path = tmp_path / f"{NAME}.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _values(rows) -> set[str]:
    return {v for r in rows for v in r.values() if len(v) >= 4}


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                 HealthCheck.function_scoped_fixture])
@given(extract=extracts(), as_parquet=st.booleans())
def test_random_defects_are_quarantined_with_their_reason(tmp_path, extract, as_parquet):
    rows, expected = extract
    path = _write(rows, tmp_path, as_parquet)
    result = validate_extract(path, as_of=AS_OF, max_invalid_share=1.0)
    kept = set(result.valid["customer_id"])
    quarantine = {int(n) - 2: r for n, r in zip(result.quarantine["row_number"], result.quarantine["reasons"],
                                                 strict=True)}
    for index, row in enumerate(rows):
        if index in expected:
            assert expected[index] in quarantine[index].split("; "), (row, quarantine.get(index))
        else:
            assert index not in quarantine and row["customer_id"] in kept, (row, quarantine.get(index))
    assert result.rows == len(rows) == len(kept) + len(quarantine)
    for reasons in quarantine.values():
        assert all(re.fullmatch(r"[a-z_]+:[a-z_]+", r) for r in reasons.split("; "))
    assert not any(v in result.gate_message for v in _values(rows))


FILE_DEFECTS = ["ragged_short", "ragged_long", "quote", "duplicate_header", "utf16", "latin1", "nul_flood"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cells=st.lists(st.lists(tokens, min_size=5, max_size=5), min_size=1, max_size=20),
       defect=st.sampled_from(FILE_DEFECTS), where=st.integers(0, 19))
def test_broken_files_fail_closed_without_quoting_a_cell(tmp_path, cells, defect, where):
    """A structurally broken file is refused by the gate in one message naming no cell value."""
    header = ["customer_id", "first_name", "email", "customer_since", "marketing_opt_in"]
    where %= len(cells)
    lines = [",".join(header)] + [",".join(row) for row in cells]
    line = where + 1
    if defect == "ragged_short":
        lines[line] = ",".join(cells[where][:3])
    elif defect == "ragged_long":
        lines[line] += "," + cells[where][0]
    elif defect == "quote":
        lines[line] = '"' + lines[line]
    elif defect == "duplicate_header":
        lines[0] += ",email"
    text = "\n".join(lines) + "\n"
    data = {"utf16": codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
            "latin1": text.replace(cells[where][1], cells[where][1] + "\u00e9", 1).encode("latin-1"),
            "nul_flood": text.encode().replace(b",", b"\x00\x00")}.get(defect, text.encode())
    path = tmp_path / f"{NAME}.csv"
    path.write_bytes(data)
    with pytest.raises(ExtractError) as refused:
        read_table(path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(path.name)
    assert not any(v in message for row in cells for v in row)


@settings(max_examples=200, deadline=None)
@given(first=good_names, last=good_names)
@example(first="=?utf-8?q?Ann=0D=0ABcc:_attacker@evil.example=0D=0A?=", last="=?utf-8?b?DQpCY2M6IHhAZXZpbA==?=")
def test_kept_names_never_add_a_header(first, last):
    """Any name validation keeps renders into an email with only the project's headers."""
    from milestones.core.config import Settings
    from milestones.deliver.delivery import build_mime
    from milestones.render.rendering import Renderer, email_context

    renderer = _renderer(Renderer, Settings().templates_dir)
    context = email_context({"first_name": first, "last_name": last, "customer_since": "2015-03-01"},
                            {"event_type": "birthday", "event_date": "2026-11-22", "years": 46},
                            unsubscribe_url="https://milestones.example/u?k=1", locale="en")
    rendered = renderer.render("birthday", "en", context)
    message = {"email": "a@example.com", "subject": rendered.subject, "key": "k1", "customer_id": "C1",
               "event_type": "birthday", "unsubscribe_url": "https://milestones.example/u?k=1",
               "text": rendered.text, "html": rendered.html}
    raw = build_mime(message, from_email="hello@milestones.example", from_name="Milestones")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert {k.lower() for k in parsed.keys()} <= OWN_HEADERS
    assert parsed.get_all("To") == ["a@example.com"]
    assert "\n" not in str(parsed["Subject"]) and "\r" not in str(parsed["Subject"])
    body = io.BytesIO(raw).read().split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert re.fullmatch(r"(?:[A-Za-z-]+: [^\r\n]*(?:\r\n[ \t][^\r\n]*)*\r\n)*[A-Za-z-]+: [^\r\n]*"
                        r"(?:\r\n[ \t][^\r\n]*)*", body)


_RENDERERS: dict = {}


def _renderer(cls, templates_dir):
    if templates_dir not in _RENDERERS:
        _RENDERERS[templates_dir] = cls(templates_dir)
    return _RENDERERS[templates_dir]
