"""An extract is read twice and never whole: its ids first, then its rows a chunk at a time.

What a user relies on: the same quarantine, line numbers and whole-file rules (a customer id
repeated far apart) as if the file were read at once; a fault found late (a bad byte in the
last rows) stops the file with the same message and leaves nothing behind; a file that
changes between the two readings is refused, not half validated.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from milestones.ingest import extract
from milestones.ingest.extract import ExtractError, read_chunks, read_table
from milestones.ingest.stream import stream_mapped
from milestones.ingest.validation import validate_chunks, validate_extract

pytestmark = pytest.mark.unit

HEADER = "customer_id,first_name,last_name,email,customer_since,marketing_opt_in,date_of_birth,timezone\n"


def _row(i: int, **change: str) -> str:
    values = {"customer_id": f"C{i}", "first_name": "Aino", "last_name": "Virtanen",
              "email": f"c{i}@example.com", "customer_since": "2015-03-01", "marketing_opt_in": "true",
              "date_of_birth": "1980-05-17", "timezone": "Europe/Helsinki", **change}
    return ",".join(values.values()) + "\n"


def _write(tmp_path, rows: list[str], name: str = "customers_2026-11-22.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


@pytest.fixture
def reads(monkeypatch):
    """Every CSV reading of the file: which columns, whole or streamed."""
    seen = []
    real = extract._read_csv

    def spy(path, header, encoding="utf-8", csv_options=None, columns=None, stream=False):
        seen.append((columns, stream))
        return real(path, header, encoding, csv_options, columns, stream)

    monkeypatch.setattr(extract, "_read_csv", spy)
    return seen


def test_chunks_are_read_in_order_at_the_size_asked(tmp_path):
    path = _write(tmp_path, [_row(i) for i in range(10)])
    chunks = list(read_chunks(path, 3))
    assert [c.num_rows for c in chunks] == [3, 3, 3, 1]
    assert [cid for c in chunks for cid in c.column("customer_id").to_pylist()] == [f"C{i}" for i in range(10)]
    assert all(f.type == pa.large_string() for c in chunks for f in c.schema)
    with pytest.raises(ValueError, match="at least 1"):
        next(read_chunks(path, 0))


def test_parquet_chunks_hold_text_and_missing_for_empty_cells(tmp_path):
    path = tmp_path / "customers_2026-11-22.parquet"
    pq.write_table(pa.table({" customer_id ": ["A", "B", "C"], "children_count": [2, None, 0],
                             "last_name": ["Lee", "", "Kim"]}), path)
    chunks = list(read_chunks(path, 2))
    assert [c.num_rows for c in chunks] == [2, 1]
    assert chunks[0].column_names == ["customer_id", "children_count", "last_name"]
    assert [r for c in chunks for r in c.to_pylist()] == [
        {"customer_id": "A", "children_count": "2", "last_name": "Lee"},
        {"customer_id": "B", "children_count": None, "last_name": None},
        {"customer_id": "C", "children_count": "0", "last_name": "Kim"},
    ]


def test_the_ids_are_read_alone_and_the_rows_streamed_never_the_whole_file(tmp_path, reads):
    path = _write(tmp_path, [_row(i) for i in range(7)])
    result = validate_extract(path, chunk_rows=3, out_dir=tmp_path / "out")
    assert result.summary()["valid"] == 7
    assert reads == [(["customer_id"], False), (None, True)]


def test_one_column_read_still_checks_every_row_of_the_file(tmp_path):
    rows = [_row(i) for i in range(6)]
    rows[4] = rows[4].rstrip("\n") + ",extra\n"  # line 6: a ninth field
    path = _write(tmp_path, rows)
    with pytest.raises(ExtractError) as err:
        read_table(path, columns=["customer_id"])
    assert str(err.value) == (f"{path.name}: unreadable as CSV: line 6: 9 fields where the header has 8"
                              " (a stray delimiter or quote, or a cut row)")
    missing = _write(tmp_path, [_row(1)], "customers_2026-11-21.csv")
    missing.write_text(HEADER.replace("first_name", "given_name") + _row(1), encoding="utf-8")
    with pytest.raises(ExtractError, match="missing required column"):
        read_table(missing, columns=["customer_id"])


def test_repeated_ids_far_apart_and_line_numbers_hold_across_chunks(tmp_path):
    rows = [_row(i) for i in range(10)]
    rows[8] = _row(0, first_name="Mari")             # line 10 repeats line 2's id, two chunks later
    rows[5] = _row(5, email="not-an-email")          # line 7
    rows[6] = _row(6, customer_id="c1 ")             # line 8: C1 typed again, another way
    result = validate_extract(path := _write(tmp_path, rows), chunk_rows=3, max_invalid_share=1.0)
    quarantine = result.quarantine
    assert dict(zip(quarantine["row_number"], quarantine["reasons"], strict=True)) == {
        2: "customer_id:duplicate", 3: "customer_id:ambiguous", 7: "email:invalid",
        8: "customer_id:ambiguous", 10: "customer_id:duplicate"}
    assert set(quarantine["extract"]) == {path.name}
    assert list(result.valid["customer_id"]) == ["C2", "C3", "C4", "C7", "C9"]
    assert result.rows == 10


def test_a_bad_byte_found_after_chunks_were_written_stops_the_file_and_leaves_nothing(tmp_path, monkeypatch):
    from milestones.ingest import intake

    # Blocks of 4 KiB: the reader hands over the first rows (and they are validated and
    # written) before it meets the bad byte, as a 16 MiB block does in a large file.
    monkeypatch.setattr(intake, "MAX_FIELD_BYTES", 4096)
    rows = [_row(i) for i in range(200)]
    path = _write(tmp_path, rows)
    data = path.read_bytes().replace(b"C180,Aino,Virtanen", b"C180,Aino,Virt\xe4nen")
    path.write_bytes(data)
    written = []
    out = tmp_path / "out"
    out.mkdir()
    real = validate_chunks

    def counting(ids, chunks, **options):
        on_valid = options.pop("on_valid")
        return real(ids, chunks, on_valid=lambda t: (written.append(t.num_rows), on_valid(t)), **options)

    monkeypatch.setattr("milestones.ingest.validation.validate_chunks", counting)
    with pytest.raises(ExtractError) as err:
        validate_extract(path, chunk_rows=20, out_dir=out)
    offset = data.index(b"\xe4")
    assert str(err.value) == (f"{path.name}: not UTF-8 (byte 0xe4 at offset {offset}); "
                              "re-export the extract as UTF-8 (Latin-1/Windows-1252 are not accepted)")
    assert sum(written) >= 20  # chunks before the bad one had been validated and written
    assert list(out.iterdir()) == []  # no snapshot, no quarantine, no temporary file


@pytest.mark.parametrize("change", ["grown", "shrunk"])
def test_a_file_changed_between_the_two_readings_is_refused(tmp_path, change):
    path = _write(tmp_path, [_row(i) for i in range(7)])
    stream = stream_mapped(path, chunk_rows=3)
    rows = [_row(i) for i in range(9 if change == "grown" else 5)]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    kept = []
    with pytest.raises(ExtractError) as err:
        validate_chunks(stream.ids, stream.chunks, as_of=dt.date(2026, 11, 22), extract_name=path.name,
                        on_valid=kept.append, on_quarantine=kept.append)
    assert str(err.value) == (f"{path.name}: changed while it was read (7 rows at first, then another count); "
                              "deliver it again")


def test_a_vendor_file_streams_with_its_reasons_on_the_right_lines(tmp_path):
    header = ("Record ID,First Name,Last Name,Email,Create Date,Last Modified Date,Unsubscribed from all email,"
              "Date of birth,Marital Status,Graduation date\n")
    rows = [f"{50 + i},Ann,Lee,ann{i}@example.com,2019-03-04 14:07,,false,02/29/1980,Married,\n" for i in range(7)]
    rows[4] = "54,Kai,Li,kai@example.com,2018-10-05 09:30,,maybe,1/5/1990,Married,\n"   # line 6
    rows[6] = "51,Jo,Ko,jo@example.com,2018-10-05 09:30,,false,1/5/1990,Married,\n"     # line 8 repeats line 3
    path = tmp_path / "hubspot_customers_2026-11-22.csv"
    path.write_text(header + "".join(rows), encoding="utf-8")
    result = validate_extract(path, chunk_rows=2, profile="hubspot", max_invalid_share=1.0)
    quarantine = result.quarantine
    reasons = dict(zip(quarantine["row_number"], quarantine["reasons"], strict=True))
    assert sorted(reasons) == [3, 6, 8]
    assert reasons[3] == reasons[8] == "customer_id:duplicate"
    assert reasons[6].startswith("marketing_opt_in:not_boolean (profile hubspot")
    # The quarantine keeps the file's own columns, as the vendor wrote them.
    assert list(quarantine.loc[quarantine["row_number"] == 6, "Unsubscribed from all email"]) == ["maybe"]
    assert result.profile == "hubspot" and result.rows == 7
    assert list(pd.Series(result.valid["customer_id"])) == ["50", "52", "53", "55"]


def test_names_padded_with_spaces_in_the_header_are_read_as_their_names_and_their_text(tmp_path):
    """A padded name is still every cell as text: ``007`` stays ``007``, not a number read back as ``7``."""
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_text(" customer_id ,first_name ,email,customer_since,marketing_opt_in\n"
                    "007,Aino,a@example.com,2020-01-01,true\n", encoding="utf-8")
    expected = [{"customer_id": "007", "first_name": "Aino", "email": "a@example.com",
                 "customer_since": "2020-01-01", "marketing_opt_in": "true"}]
    assert read_table(path).to_pylist() == expected
    assert [r for c in read_chunks(path, 5) for r in c.to_pylist()] == expected
    assert read_table(path, columns=["customer_id"]).to_pylist() == [{"customer_id": "007"}]
    parquet = tmp_path / "customers_2026-11-23.parquet"
    pq.write_table(pa.table({" customer_id ": ["007"], "first_name ": ["Aino"], "email": ["a@example.com"],
                             "customer_since": ["2020-01-01"], "marketing_opt_in": ["true"]}), parquet)
    assert read_table(parquet).to_pylist() == expected
    assert read_table(parquet, columns=["customer_id"]).to_pylist() == [{"customer_id": "007"}]
