"""Extract profiles: built-in Salesforce/HubSpot exports, every transform's edge cases, bad profiles, encodings."""

from __future__ import annotations

import datetime as dt
import os

import pyarrow as pa
import pytest

from milestones.cli import main
from milestones.core.config import load_settings
from milestones.ingest import profiles
from milestones.ingest.extract import ExtractError
from milestones.ingest.profiles import Column, ProfileError, parse_profile
from milestones.ingest.sample import generate
from milestones.ingest.sample_exports import write_profile_samples
from milestones.ingest.validation import validate_extract

pytestmark = pytest.mark.unit
AS_OF = dt.date(2026, 11, 22)


def _run(column: Column, values: list[str | None], name: str = "test"):
    out, bad = profiles._transform(column, pa.chunked_array([pa.array(values, pa.large_string())]), name)
    return out.to_pylist(), (bad.to_pylist() if bad is not None else [None] * len(values))


# --- transforms ----------------------------------------------------------------------------

def test_date_formats_read_real_days_only():
    us = Column("date_of_birth", "DOB", trim=True, date="%m/%d/%Y")
    out, bad = _run(us, ["03/05/1980", "3/5/1980", " 12/31/1999 ", "02/30/1980", "13/01/1980", "1980-03-05",
                         "", "   ", None, "02/29/2000", "02/29/1900"])
    assert out == ["1980-03-05", "1980-03-05", "1999-12-31", None, None, None, None, None, None, "2000-02-29", None]
    assert bad[3] == "date_of_birth:unparseable (profile test: %m/%d/%Y)"
    assert [i for i, b in enumerate(bad) if b] == [3, 4, 5, 10]  # empty and missing are missing, not unreadable
    eu = Column("wedding_date", "Hochzeit", date="%d.%m.%Y")
    assert _run(eu, ["29.02.2004", "1.2.2003", "31.04.2003", "2003-02-01"])[0] == ["2004-02-29", "2003-02-01",
                                                                                 None, None]


def test_iso_datetimes_with_offsets_become_the_day_in_the_zone():
    utc = Column("customer_since", "CreatedDate", datetime="iso8601")
    out, bad = _run(utc, ["2015-03-03T10:00:00.000+0000", "2015-03-03T23:30:00.000-0500", "2015-03-03T00:30:00+02:00",
                          "2015-03-03 10:00:00Z", "2015-02-30T10:00:00.000+0000", "2015-03-03T10:00:00",
                          "2015-03-03", "03/03/2015 10:00"])
    assert out == ["2015-03-03", "2015-03-04", "2015-03-02", "2015-03-03", None, None, None, None]
    assert bad[4] == "customer_since:unparseable (profile test: iso8601)" and bad[:4] == [None] * 4
    helsinki = Column("customer_since", "CreatedDate", datetime="iso8601", timezone="Europe/Helsinki")
    assert _run(helsinki, ["2015-03-03T22:30:00.000+0000"])[0] == ["2015-03-04"]
    stamp = Column("updated_at", "LastModifiedDate", datetime="iso8601")
    assert _run(stamp, ["2015-03-03T23:30:00.123-0500"])[0] == ["2015-03-04T04:30:00Z"]
    # All in UTC (Salesforce): the text is kept as it is, if it is well formed.
    assert _run(stamp, ["2015-03-03T23:30:00.123+0000", "2015-03-03T23:30:00Z", None])[0] == \
        ["2015-03-03T23:30:00.123+0000", "2015-03-03T23:30:00Z", None]
    assert _run(utc, ["2015-02-30T10:00:00.000+0000", "2015-03-03T10:00:00.000+0000"])[0] == \
        ["2015-02-30", "2015-03-03"]  # the day as written: validation names it customer_since:unparseable


def test_local_datetime_formats_are_read_in_the_declared_zone():
    since = Column("customer_since", "Create Date", datetime="%Y-%m-%d %H:%M", timezone="America/New_York")
    assert _run(since, ["2015-03-03 23:30", "2015-3-3 1:05", "2015-02-29 10:00"])[0] == ["2015-03-03", "2015-03-03",
                                                                                       None]
    stamp = Column("updated_at", "Last Modified", datetime="%d.%m.%Y %H:%M:%S.%f", timezone="Europe/Helsinki")
    assert _run(stamp, ["03.07.2015 12:00:00.250"])[0] == ["2015-07-03T09:00:00Z"]


def test_boolean_literals_inversion_maps_defaults_and_trimming():
    opt_out = Column("marketing_opt_in", "HasOptedOutOfEmail", trim=True, true_values=("true", "1"),
                     false_values=("false", "0"), invert=True)
    out, bad = _run(opt_out, ["true", "FALSE", " 1 ", "0", "maybe", None])
    assert out == ["false", "true", "false", "true", None, None]
    assert bad == [None] * 4 + ["marketing_opt_in:not_boolean (profile test: true=true/1 false=false/0)", None]
    unsubscribed = Column("marketing_opt_in", "Unsubscribed", default="false", true_values=("true",),
                          false_values=("false",), invert=True)
    assert _run(unsubscribed, [None, "true"])[0] == ["true", "false"]
    status = Column("marital_status", "Marital Status", trim=True,
                    map={"Married": "married", "In a civil union": "partnered", "Engaged": None})
    assert _run(status, ["Married ", "In a civil union", "Engaged", "Single", "single", None])[0] == \
        ["married", "partnered", None, "Single", "single", None]  # unmapped values reach validation as they are
    constant = Column("locale", None, default="fi")
    assert _run(constant, [None, None])[0] == ["fi", "fi"]


# --- bad profiles --------------------------------------------------------------------------

def test_a_bad_profile_is_one_error_naming_every_problem():
    with pytest.raises(ProfileError) as err:
        parse_profile({"name": "bad", "encodng": "latin-1", "csv": {"delimiter": ";;"},
                       "columns": {"customer_id": "Id", "first_name": {"from": "First", "uppercase": True},
                                   "email": {"from": "Email", "date": "%d.%m.%Y"}, "shoe_size": "Size",
                                   "marketing_opt_in": {"from": "OptOut", "invert": True},
                                   "date_of_birth": {"from": "DOB", "datetime": "iso8601", "timezone": "Mars/Base"}}},
                      "bad")
    message = str(err.value)
    for problem in ("unknown key 'encodng'", "csv.delimiter", "unknown transform(s) 'uppercase'",
                    "columns.email: date/datetime only apply", "columns.shoe_size: not a contract column",
                    "columns.marketing_opt_in.invert: needs 'boolean'", "'Mars/Base' is not an IANA time zone",
                    "required contract column(s) not mapped: customer_since"):
        assert problem in message, problem
    with pytest.raises(ProfileError, match="encoding: 'ebcdic' is not one of"):
        parse_profile({"encoding": "ebcdic", "columns": {c: c for c in
                                                         ("customer_id", "first_name", "email", "customer_since",
                                                          "marketing_opt_in")}}, "x")
    with pytest.raises(ProfileError, match="no profile 'nosuch' .available: contract, hubspot, salesforce"):
        profiles.load("nosuch")


def test_a_mapped_column_the_file_lacks_fails_before_any_row_is_read(tmp_path):
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_text("Id,FirstName,Email,CreatedDate\n003A,Ann,secret@example.com,2015-03-03T10:00:00Z\n"
                    "003B,Bo,\"broken\n", encoding="utf-8")  # the rows are never read: the header decides
    with pytest.raises(ProfileError) as err:
        validate_extract(path, profile="salesforce")
    assert "'HasOptedOutOfEmail' (for marketing_opt_in)" in str(err.value)
    assert "'Birthdate' (for date_of_birth)" in str(err.value) and "secret" not in str(err.value)


# --- encodings and dialects ----------------------------------------------------------------

LATIN1_PROFILE = """
name: erp
encoding: latin-1
csv: {delimiter: ";", quote: "'"}
trim: true
columns:
  customer_id: Kundennummer
  first_name: Vorname
  email: E-Mail
  customer_since: {from: Kunde seit, date: "%d.%m.%Y"}
  marketing_opt_in: {from: Werbung, boolean: {true: [ja], false: [nein]}}
  locale: {default: de}
"""


def _erp_export(tmp_path, last_column: str, *last_values: str):
    """The erp profile and its export (Latin-1, semicolons, single quotes): two customers, one bad date."""
    (tmp_path / "erp.yaml").write_text(LATIN1_PROFILE, encoding="utf-8")
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_bytes(f"Kundennummer;Vorname;E-Mail;Kunde seit;Werbung;{last_column}\n"
                     f"K1;Jürgen;j@example.com;01.02.2003;ja;{last_values[0]}\n"
                     f"K2;Zoë;z@example.com;31.02.2003;nein;{last_values[1]}\n".encode("latin-1"))
    return path


def test_a_declared_latin1_file_is_decoded_and_an_undeclared_one_still_fails(tmp_path):
    path = _erp_export(tmp_path, "Filiale", "'Köln; Mitte'", "Bonn")
    result = validate_extract(path, profile=profiles.load("erp", tmp_path))
    assert result.profile == "erp" and result.rows == 2 and result.quarantined == 1
    assert result.valid[["customer_id", "first_name", "locale"]].values.tolist() == [["K1", "Jürgen", "de"]]
    assert str(result.valid["customer_since"].iloc[0])[:10] == "2003-02-01" and bool(result.valid["marketing_opt_in"].iloc[0])
    row = result.quarantine.iloc[0]
    assert (row["row_number"], row["reasons"], row["Vorname"], row["Kunde seit"]) == \
        (3, "customer_since:unparseable (profile erp: %d.%m.%Y)", "Zoë", "31.02.2003")
    with pytest.raises(ExtractError, match="not UTF-8"):
        validate_extract(path)  # the contract: UTF-8 only, as before


def test_a_whole_file_mapping_reads_the_declared_encoding_and_dialect_and_keeps_its_own_columns(tmp_path):
    """``read_mapped`` (``milestones profile`` reads a file whole): header, rows and source as the file has them."""
    path = _erp_export(tmp_path, "Straße", "'Hohe Straße 1; Hof'", "Bonner Weg")  # a header not ASCII
    mapped = profiles.read_mapped(path, profiles.load("erp", tmp_path))
    assert mapped.profile.name == "erp"
    assert [mapped.table.column(c).to_pylist() for c in ("customer_id", "first_name", "customer_since", "locale")] == [
        ["K1", "K2"], ["Jürgen", "Zoë"], ["2003-02-01", None], ["de", "de"]]
    assert mapped.source.column_names == ["Kundennummer", "Vorname", "E-Mail", "Kunde seit", "Werbung", "Straße"]
    assert mapped.source.column("Straße").to_pylist() == ["Hohe Straße 1; Hof", "Bonner Weg"]
    assert mapped.errors.to_pylist() == [None, "customer_since:unparseable (profile erp: %d.%m.%Y)"]


# --- built-in profiles on their sample exports ---------------------------------------------

@pytest.fixture(scope="module")
def contract_rows():
    return {row["email"]: row for row in generate(300, AS_OF, 42, lives=False)[1]}


@pytest.mark.parametrize("name", ["salesforce", "hubspot"])
def test_builtin_profile_maps_its_sample_export_back_to_the_contract(name, tmp_path, contract_rows):
    _, current = write_profile_samples(tmp_path, name, n=300, as_of=AS_OF)
    result = validate_extract(current, profile=name)
    assert result.profile == name and result.rows == 305
    # The sample's bad rows: quarantined with their reasons, source values and line numbers.
    reasons = dict(zip(result.quarantine["row_number"], result.quarantine["reasons"], strict=True))
    assert reasons[295].startswith("marketing_opt_in:not_boolean (profile " + name)
    assert reasons[298] == "date_of_birth:in_future" and reasons[301] == "email:invalid"
    source_id = {"salesforce": "Id", "hubspot": "Record ID"}[name]
    assert source_id in result.quarantine.columns and "customer_id" not in result.quarantine.columns
    # Every valid row carries the contract values the export was written from.
    checked = {"salesforce": ["first_name", "last_name", "date_of_birth", "customer_since", "marketing_opt_in"],
               "hubspot": ["first_name", "date_of_birth", "customer_since", "marketing_opt_in", "marital_status",
                           "graduation_date"]}[name]
    for row in result.valid.to_dict("records"):
        original = contract_rows[row["email"]]
        for column in checked:
            value = row[column]
            expected = original[column]
            if column == "marketing_opt_in":
                assert value == (expected in ("true", "yes", "1")), (row["email"], column)
            elif column in ("date_of_birth", "customer_since", "graduation_date"):
                assert (str(value)[:10] if value is not None and str(value) != "NaT" else "") == expected
            else:
                assert (value if isinstance(value, str) else "") == expected, (row["email"], column)


def test_profile_selection_explicit_prefix_rule_and_setting(tmp_path):
    from milestones.ingest.extract import snapshot_date_from_name

    assert snapshot_date_from_name("sf_customers_2026-11-22.csv") == AS_OF  # the watchers claim prefixed names
    settings = load_settings(data_dir=tmp_path, extract_profile_rules="sf=salesforce, hs=hubspot")
    assert profiles.select("sf_customers_2026-11-22.csv", settings).name == "salesforce"
    assert profiles.select("hs_customers_2026-11-22.csv", settings).name == "hubspot"
    assert profiles.select("customers_2026-11-22.csv", settings).name == "contract"
    assert profiles.select("sf_customers_2026-11-22.csv", settings, "hubspot").name == "hubspot"
    with pytest.raises(ProfileError, match="no extract_profile_rules entry for prefix 'xx'"):
        profiles.select("xx_customers_2026-11-22.csv", settings)
    assert profiles.select("customers_2026-11-22.csv", settings.replace(extract_profile="hubspot")).name == "hubspot"


def test_profile_check_prints_the_mapping_and_the_verdict_and_writes_nothing(tmp_path, capsys):
    _, current = write_profile_samples(tmp_path / "in", "salesforce", n=140, as_of=AS_OF)
    before = sorted(os.listdir(tmp_path))
    code = main(["profile", "check", str(current), "--profile", "salesforce", "--rows", "2"])
    out = capsys.readouterr().out
    assert code == 0 and sorted(os.listdir(tmp_path)) == before
    assert "customer_since     <- 'CreatedDate' [datetime iso8601 (the day in UTC)]" in out
    assert "ignored: AccountId, Salutation" in out and "line 3:" in out and "line 4:" not in out
    assert "'true' -> 'false'" in out or "'false' -> 'true'" in out
    assert '"gate_passed": true' in out.splitlines()[-1] and '"profile": "salesforce"' in out.splitlines()[-1]
    assert main(["profile", "check", str(current), "--profile", "hubspot"]) == 3  # refused as the file gate would
    assert "'Record ID' (for customer_id)" in capsys.readouterr().err


def test_windows_1252_and_the_validation_stage_name_the_profile(tmp_path):
    from milestones import pipeline

    (tmp_path / "shop.yaml").write_text(
        "encoding: windows-1252\ncsv: {delimiter: ';'}\ncolumns:\n  customer_id: Nr\n  first_name: Name\n"
        "  email: Mail\n  customer_since: {from: Seit, date: '%d.%m.%Y'}\n  marketing_opt_in: {default: 'true'}\n",
        encoding="utf-8")
    path = tmp_path / "shop_customers_2026-11-22.csv"
    path.write_bytes("Nr;Name;Mail;Seit;Umsatz\n1;Chloë;c@example.com;01.02.2003;5 €\n".encode("cp1252"))
    settings = load_settings(data_dir=tmp_path / "data", profiles_dir=tmp_path, extract_profile_rules="shop=shop")
    summary = pipeline.validate_stage(path, settings)
    assert (summary["profile"], summary["valid"], summary["quarantined"]) == ("shop", 1, 0)
    page = open(summary["data_docs"], encoding="utf-8").read()
    assert "extract_profile" in page and ">shop<" in page.replace(" ", "").replace("\n", "")


# --- the rest of each rule, edge by edge (mutation testing's survivors) ------------------------

def test_a_boolean_not_inverted_is_the_contracts_lowercase_true_and_false():
    plain = Column("marketing_opt_in", "Subscribed", true_values=("yes",), false_values=("no",))
    assert _run(plain, ["yes", "no", "YES", "perhaps"])[0] == ["true", "false", "true", None]


def test_a_datetime_with_its_own_offset_and_fractions_of_a_second():
    stamp = Column("updated_at", "Modified", datetime="%Y-%m-%d %H:%M:%S%z", timezone="Europe/Helsinki")
    # The offset written in the value wins over the column's zone.
    assert _run(stamp, ["2026-11-22 23:30:00+0200", "2026-11-22 23:30:00-0500"])[0] == [
        "2026-11-22T21:30:00Z", "2026-11-23T04:30:00Z"]
    fraction = Column("updated_at", "Modified", datetime="%Y-%m-%d %H:%M:%S.%f", timezone="UTC")
    assert _run(fraction, ["2026-11-22 10:00:00.5", "2026-11-22 10:00:00.123456789", "2026-11-22 10:00:00"])[0] == [
        "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z", "2026-11-22T10:00:00Z"]  # a fraction may be left out
    whole = Column("updated_at", "Modified", datetime="%Y-%m-%d %H:%M:%S", timezone="UTC")
    assert _run(whole, ["2026-11-22 10:00:00.5", "2026-11-22 10:00:00"])[0] == [None, "2026-11-22T10:00:00Z"]


def test_a_local_time_the_clocks_pass_twice_or_skip_is_read_not_refused():
    # Helsinki: 2026-10-25 04:00 EEST -> 03:00 EET (03:30 happens twice: the earlier, EEST, is taken);
    # 2026-03-29 03:00 EET -> 04:00 EEST (03:30 never happens: the last instant before the jump is taken).
    stamp = Column("updated_at", "Modified", datetime="%Y-%m-%d %H:%M", timezone="Europe/Helsinki")
    assert _run(stamp, ["2026-10-25 03:30", "2026-03-29 03:30", "2026-07-01 12:00"])[0] == [
        "2026-10-25T00:30:00Z", "2026-03-29T00:59:59Z", "2026-07-01T09:00:00Z"]


def test_the_earliest_date_a_profile_reads_is_year_one():
    old = Column("customer_since", "Since", date="%Y-%m-%d")
    assert _run(old, ["0001-01-01", "0001-06-15"])[0] == ["0001-01-01", "0001-06-15"]


def test_every_unreadable_value_of_a_row_is_named_in_its_reasons():
    profile = parse_profile({"name": "three", "columns": {
        "customer_id": "Id", "first_name": "Given", "email": "Mail",
        "date_of_birth": {"from": "Born", "date": "%d.%m.%Y"},
        "customer_since": {"from": "Since", "date": "%d.%m.%Y"},
        "marketing_opt_in": {"from": "News", "boolean": {"true": ["ja"], "false": ["nein"]}}}}, "three")
    source = pa.table({c: pa.array(v, pa.large_string()) for c, v in {
        "Id": ["1", "2"], "Given": ["A", "B"], "Mail": ["a@example.com", "b@example.com"],
        "Born": ["31.02.1990", "01.01.1990"], "Since": ["x", "01.01.2020"],
        "News": ["vielleicht", "ja"]}.items()})
    table, errors = profiles.apply(profile, source)
    assert errors.to_pylist() == [
        "date_of_birth:unparseable (profile three: %d.%m.%Y); customer_since:unparseable (profile three: %d.%m.%Y); "
        "marketing_opt_in:not_boolean (profile three: true=ja false=nein)", None]
    assert table.column("marketing_opt_in").to_pylist() == [None, "true"]


def test_an_optional_column_the_file_lacks_is_empty(tmp_path):
    profile = parse_profile({"name": "opt", "columns": {
        "customer_id": "Id", "first_name": {"from": "Given", "optional": True}, "email": "Mail",
        "customer_since": "Since", "marketing_opt_in": "News"}}, "opt")
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_text("Id,Mail,Since,News\nC1,a@example.com,2020-01-01,true\nC2,b@example.com,2020-01-01,true\n")
    mapped = profiles.read_mapped(path, profile)
    assert mapped.table.column("first_name").to_pylist() == [None, None]
    assert mapped.table.column("first_name").type == pa.large_string()


def test_the_missing_columns_message_in_full(tmp_path):
    profile = parse_profile({"name": "p", "columns": {"customer_id": "Id", "first_name": "Given", "email": "Mail",
                                                      "customer_since": "Id", "marketing_opt_in": "Id"}}, "p")
    with pytest.raises(ProfileError) as err:
        profile.check_header(["Id", "Other"], "x.csv")
    assert str(err.value) == ("x.csv: profile 'p' maps column(s) the file lacks: 'Given' (for first_name), "
                              "'Mail' (for email); columns found: Id, Other")
    with pytest.raises(ProfileError) as err:
        profile.check_header([], "x.csv")
    assert str(err.value).endswith("; columns found: none")
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_text("Id,Other\nC1,x\n")
    with pytest.raises(ProfileError, match=r"^customers_2026-11-22\.csv: profile 'p' maps"):
        profiles.read_mapped(path, profile)


def test_the_contract_itself_is_read_as_large_strings(tmp_path):
    """What pandas' Arrow-backed strings hold, so conversion copies nothing."""
    path = tmp_path / "customers_2026-11-22.csv"
    path.write_text("customer_id,first_name,email,customer_since,marketing_opt_in\nC1,Ann,a@example.com,2020-01-01,true\n")
    assert profiles.read_mapped(path).table.column("first_name").type == pa.large_string()


@pytest.mark.parametrize("rules, parsed", [
    ("sf=salesforce, hs = hubspot ,", {"sf": "salesforce", "hs": "hubspot"}),
    ("a=b=c", {"a": "b=c"}),
    ("", {}),
])
def test_profile_rules_are_prefix_equals_profile(rules, parsed):
    assert profiles.parse_rules(rules) == parsed


@pytest.mark.parametrize("item", ["sf", "=salesforce", "sf=", " = "])
def test_a_profile_rule_without_both_sides_is_refused_and_quoted(item):
    with pytest.raises(ProfileError) as err:
        profiles.parse_rules(f"hs=hubspot, {item}")
    assert str(err.value) == f"extract_profile_rules: {item.strip()!r} is not PREFIX=PROFILE"


def test_selection_names_the_rules_and_reads_the_profiles_directory(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    with pytest.raises(ProfileError) as err:
        profiles.select("xx_customers_2026-11-22.csv", settings)
    assert str(err.value) == ("xx_customers_2026-11-22.csv: no extract_profile_rules entry for prefix 'xx' "
                              "(rules: none)")
    assert profiles.name_prefix("customers_2026-11-22.csv") is None
    assert profiles.name_prefix("notes.txt") is None
    own = tmp_path / "profiles"
    own.mkdir()
    (own / "erp.yaml").write_text(LATIN1_PROFILE)
    chosen = profiles.select("customers_2026-11-22.csv", settings.replace(extract_profile="erp", profiles_dir=str(own)))
    assert chosen.name == "erp" and chosen.encoding == "latin-1"


# --- a profile's YAML, whole and one mistake at a time ------------------------------------------

REQUIRED = {"customer_id": "Id", "first_name": "Given", "email": "Mail", "customer_since": "Since",
            "marketing_opt_in": "News"}


def test_a_profile_in_full(tmp_path):
    from pathlib import Path


    data = {"name": "erp", "description": "  The ERP's export \n", "encoding": "Windows-1252",
            "csv": {"delimiter": ";", "quote": "'", "double_quote": False, "escape": "\\"}, "trim": True,
            "columns": {**REQUIRED,
                        "customer_since": {"from": " Since ", "date": "iso8601"},
                        "date_of_birth": {"from": "Born", "date": "%d.%m.%Y", "optional": True, "trim": False},
                        "updated_at": {"from": "Changed", "datetime": "%d.%m.%Y %H:%M", "timezone": "Europe/Berlin"},
                        "marketing_opt_in": {"from": "NoMail", "boolean": {True: ["Ja", 1], False: ["nein"]},
                                             "invert": True},
                        "marital_status": {"from": "Civil", "map": {"verh": "married", 2: None}},
                        "locale": {"default": "de"}}}
    profile = parse_profile(data, "ignored-name", Path("/profiles/erp.yaml"))
    assert (profile.name, profile.description, profile.encoding, profile.path) == (
        "erp", "The ERP's export", "windows-1252", Path("/profiles/erp.yaml"))
    assert profile.csv_options() == {"delimiter": ";", "quote_char": "'", "double_quote": False, "escape_char": "\\"}
    c = profile.columns
    assert c["customer_id"] == Column("customer_id", "Id", trim=True)
    assert c["customer_since"] == Column("customer_since", "Since", trim=True)  # iso8601 is the contract's own
    assert c["date_of_birth"] == Column("date_of_birth", "Born", optional=True, date="%d.%m.%Y")
    assert c["updated_at"] == Column("updated_at", "Changed", trim=True, datetime="%d.%m.%Y %H:%M",
                                     timezone="Europe/Berlin")
    assert c["marketing_opt_in"] == Column("marketing_opt_in", "NoMail", trim=True, true_values=("ja", "1"),
                                           false_values=("nein",), invert=True)
    assert c["marital_status"] == Column("marital_status", "Civil", trim=True, map={"verh": "married", "2": None})
    assert c["locale"] == Column("locale", None, default="de", trim=True)
    # Without a name, description, encoding or dialect: the file's name and the contract's defaults.
    bare = parse_profile({"columns": REQUIRED}, "from-file")
    assert (bare.name, bare.description, bare.encoding, bare.path, bare.csv_options()) == (
        "from-file", "", "utf-8", None, {})
    assert bare.columns["first_name"] == Column("first_name", "Given")
    assert parse_profile({"encoding": "UTF8", "columns": REQUIRED}, "x").encoding == "utf-8"


@pytest.mark.parametrize("data, problem", [
    ([], "expected a mapping with 'columns'"),
    ({"columns": REQUIRED, "colums": {}}, "unknown key 'colums' (known: columns, csv, description, encoding, name, trim)"),
    ({"columns": REQUIRED, "encoding": "ebcdic"},
     "encoding: 'ebcdic' is not one of utf-8, latin-1, windows-1252, iso-8859-15"),
    ({"columns": REQUIRED, "csv": ";"}, "csv: expected delimiter/quote/double_quote/escape"),
    ({"columns": REQUIRED, "csv": {"sep": ";"}}, "csv: unknown key 'sep' (known: delimiter, double_quote, escape, quote)"),
    ({"columns": REQUIRED, "csv": {"delimiter": ";;"}}, "csv.delimiter: one character, not a line break"),
    ({"columns": REQUIRED, "csv": {"quote": "\n"}}, "csv.quote: one character, not a line break"),
    ({"columns": REQUIRED, "csv": {"escape": "\r"}}, "csv.escape: one character, not a line break"),
    ({"columns": {}}, "columns: expected contract column: source mappings"),
    ({"columns": ["Id"]}, "columns: expected contract column: source mappings"),
    ({"columns": {"customer_id": "Id"}},
     "columns: required contract column(s) not mapped: first_name, email, customer_since, marketing_opt_in"),
    ({"columns": {**REQUIRED, "nickname": "Nick"}},
     "columns.nickname: not a contract column (one of customer_id, first_name, email, customer_since, "
     "marketing_opt_in, last_name, locale, timezone, date_of_birth, marital_status, wedding_date, employment_status, "
     "retirement_date, graduation_date, children_count, deceased, updated_at)"),
    ({"columns": {**REQUIRED, "last_name": 7}}, "columns.last_name: expected a source column name or a mapping"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "upper": True, "cut": 1}}},
     "columns.last_name: unknown transform(s) 'cut', 'upper' (known: boolean, date, datetime, default, from, "
     "invert, map, optional, timezone, trim)"),
    ({"columns": {**REQUIRED, "last_name": {"trim": True}}},
     "columns.last_name: needs 'from' (a source column) or 'default' (a constant)"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "date": "%Y", "datetime": "iso8601"}}},
     "columns.wedding_date: date and datetime cannot be combined"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "date": "%Y", "boolean": {"true": ["y"], "false": ["n"]}}}},
     "columns.deceased: date and boolean cannot be combined; columns.deceased: date/datetime only apply to "
     "date_of_birth, customer_since, wedding_date, retirement_date, graduation_date, updated_at"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "date": "%Y"}}},
     "columns.last_name: date/datetime only apply to date_of_birth, customer_since, wedding_date, retirement_date, "
     "graduation_date, updated_at"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "datetime": "%Y"}}},
     "columns.last_name: date/datetime only apply to date_of_birth, customer_since, wedding_date, retirement_date, "
     "graduation_date, updated_at"),
    ({"columns": {**REQUIRED, "updated_at": {"from": "U", "date": "%Y-%m-%d"}}},
     "columns.updated_at: a timestamp column takes 'datetime', not 'date'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "date": "YYYY"}}},
     "columns.wedding_date.date: a strptime format such as '%m/%d/%Y', or 'iso8601'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "datetime": 5}}},
     "columns.wedding_date.datetime: a strptime format such as '%m/%d/%Y', or 'iso8601'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "date": "%Y-%m-%d %H"}}},
     "columns.wedding_date.date: '%Y-%m-%d %H' holds a time; use 'datetime'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "date": "%Y-%m-%d%z"}}},
     "columns.wedding_date.date: '%Y-%m-%d%z' holds a time; use 'datetime'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "date": "%Y", "timezone": "UTC"}}},
     "columns.wedding_date.timezone: only with 'datetime'"),
    ({"columns": {**REQUIRED, "wedding_date": {"from": "W", "datetime": "%Y", "timezone": "Mars/Olympus"}}},
     "columns.wedding_date.timezone: 'Mars/Olympus' is not an IANA time zone"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "boolean": {"true": ["y"], "false": ["n"]}}}},
     "columns.last_name: boolean only applies to marketing_opt_in, deceased"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "boolean": {"true": ["y"]}}}},
     "columns.deceased.boolean: needs 'true' and 'false', each a list of literals"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "boolean": {"true": ["y"], "false": ["n"], "maybe": ["m"]}}}},
     "columns.deceased.boolean: needs 'true' and 'false', each a list of literals"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "boolean": ["y", "n"]}}},
     "columns.deceased.boolean: needs 'true' and 'false', each a list of literals"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "boolean": {"true": ["Y"], "false": ["y"]}}}},
     "columns.deceased.boolean: a literal cannot be both true and false"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "invert": True}}},
     "columns.deceased.invert: needs 'boolean' (the literals to invert)"),
    ({"columns": {**REQUIRED, "marital_status": {"from": "M", "map": ["a"]}}},
     "columns.marital_status.map: expected source value: contract value pairs"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "optional": "yes"}}}, "columns.last_name.optional: true or false"),
    ({"columns": {**REQUIRED, "last_name": {"from": "L", "trim": 1}}}, "columns.last_name.trim: true or false"),
    ({"columns": {**REQUIRED, "deceased": {"from": "D", "boolean": {"true": ["y"], "false": ["n"]}, "invert": "no"}}},
     "columns.deceased.invert: true or false"),
])
def test_each_mistake_in_a_profile_alone_is_named_exactly(data, problem):
    with pytest.raises(ProfileError) as err:
        parse_profile(data, "p")
    assert str(err.value) == f"profile p: {problem}"


def test_every_mistake_is_named_at_once_and_the_file_where_there_is_one(tmp_path):
    from pathlib import Path

    with pytest.raises(ProfileError) as err:
        parse_profile({"columns": {"customer_id": "Id"}, "encoding": "x"}, "p", Path("/profiles/p.yaml"))
    assert str(err.value) == ("profile /profiles/p.yaml: encoding: 'x' is not one of utf-8, latin-1, windows-1252, "
                              "iso-8859-15; columns: required contract column(s) not mapped: first_name, email, "
                              "customer_since, marketing_opt_in")


def test_a_profile_by_name_or_by_file(tmp_path):
    own = tmp_path / "profiles"
    own.mkdir()
    (own / "erp.yaml").write_text(LATIN1_PROFILE.replace("name: erp\n", ""))
    by_name = profiles.load("erp", own)
    assert (by_name.name, by_name.path, by_name.encoding) == ("erp", own / "erp.yaml", "latin-1")  # named by its file
    for suffix in ("yaml", "yml"):
        (tmp_path / f"mine.{suffix}").write_text(LATIN1_PROFILE)
        assert profiles.load(str(tmp_path / f"mine.{suffix}")).path == tmp_path / f"mine.{suffix}"
    with pytest.raises(ProfileError) as err:
        profiles.load("sap", own)
    assert str(err.value) == "no profile 'sap' (available: contract, erp, hubspot, salesforce)"
    (own / "broken.yaml").write_text("columns: [unclosed\n")
    with pytest.raises(ProfileError) as err:
        profiles.load("broken", own)
    assert str(err.value).startswith(f"profile {own / 'broken.yaml'}: not valid YAML (")
    (own / "bad.yaml").write_text("columns: {}\n")
    with pytest.raises(ProfileError) as err:
        profiles.load("bad", own)
    assert str(err.value) == f"profile {own / 'bad.yaml'}: columns: expected contract column: source mappings"


def test_any_single_character_but_a_line_break_may_delimit():
    for char in ("X", "|", "\t", ";"):
        assert parse_profile({"columns": REQUIRED, "csv": {"delimiter": char}}, "p").delimiter == char
