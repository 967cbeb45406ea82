"""Validation: one row per kind of bad data, the file gate, readers, and a property."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from milestones.ingest.extract import ExtractError, read_extract
from milestones.ingest.validation import validate_frame

AS_OF = dt.date(2026, 11, 22)
GOOD = {
    "customer_id": "C1", "first_name": "Aino", "last_name": "Virtanen", "email": "aino@example.com",
    "locale": "fi-FI", "timezone": "Europe/Helsinki", "date_of_birth": "1980-05-17",
    "customer_since": "2015-03-01", "marital_status": "married", "wedding_date": "2008-06-21",
    "employment_status": "employed", "retirement_date": None, "graduation_date": None,
    "children_count": "2", "marketing_opt_in": "true", "deceased": "false",
    "updated_at": "2026-11-22T06:00:00Z",
}
# (change to a good row, the reason it must be quarantined for)
BAD = [
    ({"customer_id": None}, "customer_id:missing"),
    ({"customer_id": "X" * 65}, "customer_id:too_long"),
    ({"first_name": None}, "first_name:missing"),
    ({"email": None}, "email:missing"),
    ({"email": "not-an-email"}, "email:invalid"),
    ({"email": "two@@example.com"}, "email:invalid"),
    ({"email": "dot..dot@example.com"}, "email:invalid"),
    ({"email": "x@localhost"}, "email:invalid"),
    ({"locale": "xx-QQ"}, "locale:unknown"),
    ({"timezone": "Mars/Olympus"}, "timezone:unknown"),
    ({"date_of_birth": "1980-02-30"}, "date_of_birth:unparseable"),
    ({"date_of_birth": "17.05.1980"}, "date_of_birth:unparseable"),
    ({"date_of_birth": "1980-5-17"}, "date_of_birth:unparseable"),
    ({"date_of_birth": "1970-01-01"}, "date_of_birth:placeholder"),
    ({"date_of_birth": "1900-01-01"}, "date_of_birth:placeholder"),
    ({"date_of_birth": "2027-01-01"}, "date_of_birth:in_future"),
    ({"date_of_birth": "1890-01-01"}, "date_of_birth:too_old"),
    ({"customer_since": None}, "customer_since:missing"),
    ({"customer_since": "2030-01-01"}, "customer_since:in_future"),
    ({"wedding_date": "1975-01-01"}, "wedding_date:before_birth"),
    ({"wedding_date": "2008-13-01"}, "wedding_date:unparseable"),
    ({"retirement_date": "someday"}, "retirement_date:unparseable"),
    ({"graduation_date": "1970-01-01"}, "graduation_date:placeholder"),
    ({"marital_status": "complicated"}, "marital_status:unknown"),
    ({"employment_status": "astronaut"}, "employment_status:unknown"),
    ({"children_count": "-1"}, "children_count:not_a_count"),
    ({"children_count": "2.5"}, "children_count:not_a_count"),
    ({"marketing_opt_in": None}, "marketing_opt_in:missing"),
    ({"marketing_opt_in": "maybe"}, "marketing_opt_in:not_boolean"),
    ({"deceased": "perhaps"}, "deceased:not_boolean"),
]


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).astype("string")


@pytest.fixture(scope="module")
def table_result():
    """Every bad case plus twenty good rows and a duplicated id, validated in one GX run."""
    rows = [{**GOOD, **change, "customer_id": change.get("customer_id", f"BAD{i}")}
            for i, (change, _) in enumerate(BAD)]
    rows += [{**GOOD, "customer_id": f"OK{i}", "email": f"ok{i}@example.com"} for i in range(20)]
    rows += [{**GOOD, "customer_id": "DUP"}, {**GOOD, "customer_id": "DUP", "first_name": "Other"}]
    frame = _frame(rows)
    return frame, validate_frame(frame, as_of=AS_OF, extract_name="customers_2026-11-22.csv",
                                 max_invalid_share=1.0)


@pytest.mark.parametrize("index", range(len(BAD)), ids=[reason for _, reason in BAD])
def test_each_kind_of_bad_data_has_its_reason(table_result, index):
    frame, result = table_result
    q = result.quarantine.set_index("row_number")
    row = q.loc[index + 2]  # header is line 1
    assert BAD[index][1] in row["reasons"].split("; ")
    # The raw value is kept as it came, for the people who fix the CRM.
    for column, value in BAD[index][0].items():
        if value is not None:
            assert row[column] == value


def test_valid_rows_pass_untouched(table_result):
    frame, result = table_result
    assert sorted(result.valid["customer_id"]) == sorted(f"OK{i}" for i in range(20))
    assert result.valid["date_of_birth"].dtype.kind == "M"
    assert result.valid["marketing_opt_in"].dtype == bool
    assert result.rows == len(frame) == len(result.valid) + len(result.quarantine)


def test_duplicates_quarantine_every_copy(table_result):
    _, result = table_result
    dups = result.quarantine[result.quarantine["customer_id"] == "DUP"]
    assert len(dups) == 2 and all("customer_id:duplicate" in r for r in dups["reasons"])


def test_reasons_are_counted(table_result):
    _, result = table_result
    assert result.summary()["reasons"]["email:invalid"] == 4
    assert result.summary()["quarantined"] == len(BAD) + 2


def test_gate_invalid_share(table_result):
    frame, _ = table_result
    result = validate_frame(frame, as_of=AS_OF, extract_name="x.csv", max_invalid_share=0.05)
    assert not result.gate_passed and "max_invalid_share" in result.gate_message


def test_gate_row_drop():
    frame = _frame([{**GOOD, "customer_id": f"C{i}"} for i in range(10)])
    result = validate_frame(frame, as_of=AS_OF, extract_name="x.csv", previous_rows=20)
    assert not result.gate_passed and "fell from 20 to 10" in result.gate_message
    assert validate_frame(frame, as_of=AS_OF, extract_name="x.csv", previous_rows=12).gate_passed


HEADER = "customer_id,first_name,email,customer_since,marketing_opt_in\n"


@pytest.mark.parametrize("content, message", [
    (b"", "empty file"),
    (HEADER.encode(), "no data rows"),
    (b"customer_id,first_name\nC1,Ann\n", "missing required column(s): email, customer_since, marketing_opt_in"),
    ((HEADER + "C1,Jos\u00e9,j@example.com,2020-01-01,true\n").encode("latin-1"), "not UTF-8 (byte 0xe9"),
    (HEADER.encode() + b"C1,\"unterminated,a@example.com\n", "unreadable as CSV: line 2: an unterminated quoted field"),
])
def test_file_gate_fails_closed(tmp_path, content, message):
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_bytes(content)
    with pytest.raises(ExtractError) as exc:
        read_extract(path)
    assert message in str(exc.value)


def test_broken_parquet_is_unreadable(tmp_path):
    path = tmp_path / "customers_2026-11-22.parquet"
    path.write_bytes(b"PAR1 not really")
    with pytest.raises(ExtractError, match="unreadable"):
        read_extract(path)


def test_csv_bom_quotes_newlines_and_parquet_agree(tmp_path):
    csv_path = tmp_path / "customers_2026-11-22.csv"
    csv_path.write_bytes("\ufeff".encode() + (HEADER + 'C1,"Ann, ""Annie""\nMarie",a@example.com,2020-01-01,yes\n'
                                              "C2,Bob,b@example.com,2020-01-01,\n").encode())
    frame = read_extract(csv_path)
    assert list(frame.columns)[0] == "customer_id"
    assert frame.loc[0, "first_name"] == 'Ann, "Annie"\nMarie'
    assert pd.isna(frame.loc[1, "marketing_opt_in"])  # empty cell = missing
    pq_path = tmp_path / "customers_2026-11-22.parquet"
    frame.to_parquet(pq_path)
    assert read_extract(pq_path).equals(frame)


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=30).filter(str.strip)
valid_rows = st.fixed_dictionaries({
    "first_name": names,
    "last_name": st.one_of(st.none(), names),
    "email": st.from_regex(r"[a-z0-9]{1,10}(\.[a-z0-9_+-]{1,5})?@[a-z]{1,8}\.(com|fi|ee|cn)", fullmatch=True),
    "locale": st.sampled_from([None, "en", "en-GB", "fi", "fi-FI", "et", "et-EE", "zh", "zh-CN"]),
    "timezone": st.sampled_from([None, "Europe/Helsinki", "Asia/Shanghai", "America/New_York", "UTC"]),
    "date_of_birth": st.one_of(st.none(), st.dates(dt.date(1907, 1, 1), AS_OF).filter(
        lambda d: d not in (dt.date(1970, 1, 1), dt.date(1900, 1, 1))).map(str)),
    "customer_since": st.dates(dt.date(1990, 1, 2), AS_OF).filter(lambda d: d != dt.date(1970, 1, 1)).map(str),
    "marital_status": st.sampled_from([None, "single", "married", "partnered", "divorced", "widowed"]),
    "employment_status": st.sampled_from([None, "employed", "self_employed", "student", "unemployed", "retired"]),
    "children_count": st.one_of(st.none(), st.integers(0, 12).map(str)),
    "marketing_opt_in": st.sampled_from(["true", "false", "TRUE", "Yes", "no", "1", "0"]),
    "deceased": st.sampled_from([None, "false", "true", "0", "no"]),
})


# Few examples of many rows: each validation pays Great Expectations' fixed cost once, and the
# rows of one example are independent of each other (ids are made unique).
@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(valid_rows, min_size=1, max_size=40))
def test_valid_rows_are_never_quarantined(rows):
    frame = _frame([{**row, "customer_id": f"P{i}"} for i, row in enumerate(rows)])
    result = validate_frame(frame, as_of=AS_OF, extract_name="prop.csv")
    assert result.quarantine.empty, result.quarantine[["customer_id", "reasons"]].to_dict("records")
    assert len(result.valid) == len(rows)


def test_cli_validate_gate_and_summary(tmp_path, sample_current, capsys):
    # In process (the command's own main): a subprocess would import Airflow and GX again, the
    # unit layer's largest single cost. tests/e2e/test_cli_run.py runs the installed command.
    from milestones.cli import main

    assert main(["validate", str(sample_current), "--data-dir", str(tmp_path)]) == 0
    ok = capsys.readouterr()
    summary = json.loads(ok.out.strip().splitlines()[-1])
    assert summary["gate_passed"] and summary["rows"] == 322 and summary["valid"] == 310
    assert summary["reasons"]["email:invalid"] == 2
    assert Path(summary["data_docs"]).is_file() and "crm_extract" in Path(summary["data_docs"]).read_text()
    bad = tmp_path / "customers_2026-11-23.csv"
    bad.write_text(HEADER + "C1,Ann,not-an-email,2020-01-01,true\n", encoding="utf-8")
    assert main(["validate", str(bad), "--data-dir", str(tmp_path)]) == 3
    gate = capsys.readouterr()
    assert "validation gate failed" in gate.err and "Traceback" not in gate.err
    assert json.loads(gate.out.strip().splitlines()[-1])["gate_passed"] is False
    assert (tmp_path / "snapshots" / "2026-11-23" / "quarantine.parquet").is_file()
    assert not (tmp_path / "snapshots" / "2026-11-23" / "snapshot.parquet").exists()


def test_chunks_change_nothing_but_memory(table_result, tmp_path):
    """Validated a few rows at a time, the extract gives the same rows, reasons and GX counts.

    The duplicated id's two copies land in different chunks: repeated ids are
    found over the whole file, not per chunk.
    """
    frame, whole = table_result
    # Few chunks (each is a GX run), at least three, with a boundary between the two copies of DUP.
    first, second = (i for i, cid in enumerate(frame["customer_id"].fillna("")) if cid == "DUP")
    size = max(d for d in range(1, second) if second % d == 0 and -(-len(frame) // d) >= 3)
    assert first // size != second // size
    chunked = validate_frame(frame, as_of=AS_OF, extract_name="customers_2026-11-22.csv",
                             max_invalid_share=1.0, chunk_rows=size)
    assert chunked.quarantine.equals(whole.quarantine)
    assert chunked.valid.equals(whole.valid)
    assert chunked.reasons == whole.reasons
    by_reason = {r.expectation_config.meta["reason"]: r.result for r in chunked.gx_results}
    assert by_reason["email:invalid"]["unexpected_count"] == 4
    assert by_reason["customer_id:duplicate"]["unexpected_count"] == 2
    assert by_reason["email:invalid"]["element_count"] == len(frame)
    # No cell value is kept for the Data Docs (personal data): counts and the rows' indexes only.
    assert not {"partial_unexpected_list", "partial_unexpected_counts"} & set(by_reason["email:invalid"])
    assert len(by_reason["email:invalid"]["partial_unexpected_index_list"]) == 4


def test_dates_parse_exactly():
    import pyarrow as pa

    from milestones.ingest.validation import parse_dates

    texts = ["2024-02-29", "2023-02-29", "1980-02-30", "1980-04-31", "1980-04-30", "0001-01-01",
             "0000-01-01", "9999-12-31", " 980-05-17", "1980-5-17", "1980-05-1 ", "1980/05/17", None]
    parsed = parse_dates(pa.chunked_array([pa.array(texts[:6], pa.large_string()),
                                           pa.array(texts[6:], pa.large_string())]))
    expected = [dt.datetime(2024, 2, 29), None, None, None, dt.datetime(1980, 4, 30), dt.datetime(1, 1, 1),
                None, dt.datetime(9999, 12, 31), None, None, None, None, None]
    assert parsed.to_pylist() == expected


def test_far_dates_keep_their_meaning():
    """Dates outside pandas' nanosecond range are still too old / in the future, not unparseable."""
    frame = _frame([{**GOOD, "customer_id": "OLD", "date_of_birth": "0001-01-01", "wedding_date": None},
                    {**GOOD, "customer_id": "FUT", "customer_since": "9999-12-31"}])
    result = validate_frame(frame, as_of=AS_OF, extract_name="x.csv", max_invalid_share=1.0)
    reasons = dict(zip(result.quarantine["customer_id"], result.quarantine["reasons"], strict=True))
    assert reasons == {"OLD": "date_of_birth:too_old", "FUT": "customer_since:in_future"}


def test_stage_streams_snapshot_only_when_the_gate_passes(tmp_path):
    import pyarrow.parquet as pq

    from milestones.ingest.validation import validate_extract

    rows = [{**GOOD, "customer_id": f"C{i}", "email": f"c{i}@example.com"} for i in range(10)]
    rows[4]["email"] = "broken"
    path = tmp_path / "customers_2026-11-22.csv"
    _frame(rows).to_csv(path, index=False)
    out = tmp_path / "out"
    passed = validate_extract(path, out_dir=out, chunk_rows=4, max_invalid_share=0.2)
    assert passed.gate_passed and passed.valid is None and passed.summary()["valid"] == 9
    snapshot = pd.read_parquet(out / "snapshot.parquet")
    assert list(snapshot["customer_id"]) == [f"C{i}" for i in range(10) if i != 4]
    assert snapshot["customer_id"].dtype == "string" and snapshot["children_count"].dtype == "Int64"
    assert pq.ParquetFile(out / "snapshot.parquet").metadata.num_row_groups == 3  # one per chunk
    assert list(pd.read_parquet(out / "quarantine.parquet")["row_number"]) == [6]
    failed = validate_extract(path, out_dir=out, chunk_rows=4, max_invalid_share=0.05)
    assert not failed.gate_passed
    assert not (out / "snapshot.parquet").exists()  # a stopped file leaves no snapshot behind
    assert (out / "quarantine.parquet").is_file() and not list(out.glob(".*.tmp"))


@settings(max_examples=200, deadline=None)
@given(local=st.from_regex(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,70}", fullmatch=True),
       domain=st.sampled_from(["example.com", "mail.example.fi", "x.ee", "localhost", "a..b.com"]))
def test_email_fast_path_agrees_with_email_validator(local, domain):
    """The vectorised fast path never accepts what email-validator rejects (and vice versa)."""
    import pyarrow as pa

    from milestones.ingest.checks import email_problem, invalid_emails

    address = f"{local}@{domain}"
    flagged = invalid_emails(pa.chunked_array([pa.array([address], pa.large_string())])).to_pylist()[0]
    assert (flagged is not None) == (email_problem(address) is not None)


def test_data_docs_build_renders_the_new_extracts_page_and_the_index_not_every_page_again(tmp_path):
    from milestones.ingest.validation import write_data_docs

    first = validate_frame(_frame([GOOD]), as_of=AS_OF, extract_name="customers_2026-11-21.csv")
    page = write_data_docs(first.gx_results, tmp_path, "customers_2026-11-21.csv")
    page.write_text(page.read_text() + "<!-- kept -->")  # a re-render would drop this
    second = validate_frame(_frame([GOOD, {**GOOD, "customer_id": "C2", "email": "bad"}]), as_of=AS_OF,
                            extract_name="customers_2026-11-22.csv")
    new = write_data_docs(second.gx_results, tmp_path, "customers_2026-11-22.csv")
    assert page.read_text().endswith("<!-- kept -->") and new.is_file() and new != page
    index = (new.parents[4] / "index.html").read_text()
    assert "customers_2026-11-21.csv" in index and "customers_2026-11-22.csv" in index
