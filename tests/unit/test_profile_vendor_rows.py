"""Every built-in profile on fixed rows written the way the vendor's export writes them, pinned to
the contract values a person reads off those rows.

The rows are typed here by hand, not produced by the sample generator or the profile (a profile's
own date format, inversion or default cannot make its test pass). Formats, from the vendors' docs
(and the profiles' headers, which cite them):

* Salesforce (Data Loader / Data Export, Contact): API field names as headers, every field quoted,
  Id 18 characters, Birthdate ``YYYY-MM-DD``, CreatedDate/LastModifiedDate ISO 8601 in UTC with
  milliseconds and ``+0000``, HasOptedOutOfEmail ``true``/``false`` (true = asked NOT to be emailed).
* HubSpot (Contacts > Export, CSV): default property labels as headers, Record ID a number, datetimes
  ``YYYY-MM-DD HH:MM`` in the account's zone (UTC here), "Unsubscribed from all email" ``true``/``false``
  or empty when the contact never unsubscribed, text properties as typed (date of birth MM/DD/YYYY),
  Marital Status as the dropdown's labels.
"""

from __future__ import annotations

import pandas as pd
import pytest

from milestones.ingest.profiles import read_mapped
from milestones.ingest.stream import stream_mapped

pytestmark = pytest.mark.unit

SALESFORCE = (
    '"Id","FirstName","LastName","Email","Birthdate","CreatedDate","LastModifiedDate","HasOptedOutOfEmail"\r\n'
    '"0035g00000AbCdEAAZ","Aino","Virtanen","aino@example.fi","1980-02-29","2015-03-03T10:00:00.000+0000",'
    '"2026-11-20T08:15:30.000+0000","false"\r\n'
    '"0035g00000AbCdFAAZ"," Mari ","Tamm ","mari@example.ee","","2021-12-31T23:59:59.000+0000","","true"\r\n'
    '"0035g00000AbCdGAAZ","Jüri","","juri@example.ee","1975-11-22","2019-07-01T00:00:00.000+0000",'
    '"2026-01-02T03:04:05.000+0000","false"\r\n'
)
SALESFORCE_EXPECTED = [
    {"customer_id": "0035g00000AbCdEAAZ", "first_name": "Aino", "last_name": "Virtanen",
     "email": "aino@example.fi", "date_of_birth": "1980-02-29", "customer_since": "2015-03-03",
     "marketing_opt_in": "true", "updated_at": "2026-11-20T08:15:30Z"},
    {"customer_id": "0035g00000AbCdFAAZ", "first_name": "Mari", "last_name": "Tamm",
     "email": "mari@example.ee", "date_of_birth": None, "customer_since": "2021-12-31",  # 23:59 UTC: still the 31st
     "marketing_opt_in": "false", "updated_at": None},
    {"customer_id": "0035g00000AbCdGAAZ", "first_name": "Jüri", "last_name": None,
     "email": "juri@example.ee", "date_of_birth": "1975-11-22", "customer_since": "2019-07-01",
     "marketing_opt_in": "true", "updated_at": "2026-01-02T03:04:05Z"},
]

HUBSPOT = (
    "Record ID,First Name,Last Name,Email,Create Date,Last Modified Date,Unsubscribed from all email,"
    "Date of birth,Marital Status,Graduation date\n"
    "51,Aino,Virtanen,aino@example.fi,2019-03-04 14:07,2026-11-20 08:00,,02/29/1980,Married,\n"
    "52, Mari ,Tamm,mari@example.ee,2021-12-31 23:59,,true,11/22/1975,Widowed,06/15/1997\n"
    "53,Jo,,jo@example.com,2020-01-01 00:00,2020-01-01 00:00,false,,In a relationship,\n"
    "54,Kai,Li,kai@example.com,2018-10-05 09:30,,false,1/5/1990,In a civil union,\n"
)
HUBSPOT_EXPECTED = [
    {"customer_id": "51", "first_name": "Aino", "last_name": "Virtanen", "email": "aino@example.fi",
     "customer_since": "2019-03-04", "marketing_opt_in": "true",       # empty: never unsubscribed
     "date_of_birth": "1980-02-29", "marital_status": "married", "graduation_date": None,
     "updated_at": "2026-11-20T08:00:00Z"},
    {"customer_id": "52", "first_name": "Mari", "last_name": "Tamm", "email": "mari@example.ee",
     "customer_since": "2021-12-31", "marketing_opt_in": "false",      # unsubscribed from all email
     "date_of_birth": "1975-11-22", "marital_status": "widowed", "graduation_date": "1997-06-15",
     "updated_at": None},
    {"customer_id": "53", "first_name": "Jo", "last_name": None, "email": "jo@example.com",
     "customer_since": "2020-01-01", "marketing_opt_in": "true",
     "date_of_birth": None, "marital_status": None,                     # no contract value: unknown
     "graduation_date": None, "updated_at": "2020-01-01T00:00:00Z"},
    {"customer_id": "54", "first_name": "Kai", "last_name": "Li", "email": "kai@example.com",
     "customer_since": "2018-10-05", "marketing_opt_in": "true",
     "date_of_birth": "1990-01-05", "marital_status": "partnered", "graduation_date": None,
     "updated_at": None},
]

CONTRACT = (
    "customer_id,first_name,email,customer_since,marketing_opt_in,last_name,locale,timezone,date_of_birth,"
    "marital_status,deceased\n"
    "C1,Aino,aino@example.fi,2015-03-03,true,Virtanen,fi-FI,Europe/Helsinki,1980-02-29,widowed,false\n"
    "C2,Mari,mari@example.ee,2021-12-31,false,,et,,,,\n"
)
CONTRACT_EXPECTED = [
    {"customer_id": "C1", "first_name": "Aino", "email": "aino@example.fi", "customer_since": "2015-03-03",
     "marketing_opt_in": "true", "last_name": "Virtanen", "locale": "fi-FI", "timezone": "Europe/Helsinki",
     "date_of_birth": "1980-02-29", "marital_status": "widowed", "deceased": "false"},
    {"customer_id": "C2", "first_name": "Mari", "email": "mari@example.ee", "customer_since": "2021-12-31",
     "marketing_opt_in": "false", "last_name": None, "locale": "et", "timezone": None,
     "date_of_birth": None, "marital_status": None, "deceased": None},
]


def _mapped(tmp_path, name: str, text: str, chunk_rows: int | None = None) -> list[dict]:
    """The rows as the profile maps them: the whole file at once, or (``chunk_rows``) streamed."""
    path = tmp_path / f"{name}_customers_2026-11-22.csv"
    path.write_bytes(text.encode("utf-8"))
    if chunk_rows is None:
        mapped = read_mapped(path, name)
        tables, errors, profile = [mapped.table], [mapped.errors], mapped.profile
    else:
        stream = stream_mapped(path, name, chunk_rows=chunk_rows)
        chunks = list(stream.chunks)
        tables, errors, profile = [c[0] for c in chunks], [c[2] for c in chunks], stream.profile
        assert [t.num_rows for t in tables] == [chunk_rows] * (len(tables) - 1) + [tables[-1].num_rows]
        # The ids read first are the ids the chunks carry, row for row.
        assert stream.ids.to_pylist() == [r["customer_id"] for t in tables for r in t.to_pylist()]
    assert profile.name == name
    for table, bad in zip(tables, errors, strict=True):
        found = bad.to_pylist() if bad is not None else [None] * table.num_rows
        assert found == [None] * table.num_rows, found
    return [row for table in tables for row in table.to_pylist()]


def _same(got: dict, expected: dict) -> dict:
    """``got`` restricted to ``expected``'s columns, timestamps compared as instants."""
    out = {}
    for column, want in expected.items():
        value = got.get(column)
        if value == "":
            value = None
        if column == "updated_at" and value is not None and want is not None:
            value = want if pd.Timestamp(value) == pd.Timestamp(want) else value
        out[column] = value
    return out


@pytest.mark.parametrize("name, text, expected", [
    ("salesforce", SALESFORCE, SALESFORCE_EXPECTED),
    ("hubspot", HUBSPOT, HUBSPOT_EXPECTED),
    ("contract", CONTRACT, CONTRACT_EXPECTED),
], ids=["salesforce", "hubspot", "contract"])
@pytest.mark.parametrize("chunk_rows", [None, 1, 3], ids=["whole", "streamed-1", "streamed-3"])
def test_vendor_rows_become_these_contract_values(tmp_path, name, text, expected, chunk_rows):
    rows = _mapped(tmp_path, name, text, chunk_rows)
    assert [_same(r, e) for r, e in zip(rows, expected, strict=True)] == expected


def test_every_builtin_profile_has_vendor_rows_here():
    from milestones.ingest.profiles import available

    assert set(available()) == {"salesforce", "hubspot", "contract"}


def test_hubspot_unreadable_values_are_named_with_the_profile(tmp_path):
    text = ("Record ID,First Name,Last Name,Email,Create Date,Last Modified Date,Unsubscribed from all email,"
            "Date of birth,Marital Status,Graduation date\n"
            "61,Ann,Lee,ann@example.com,03/04/2019 14:07,,maybe,1980-02-29,Married,\n")
    path = tmp_path / "hubspot_customers_2026-11-22.csv"
    path.write_text(text, encoding="utf-8")
    mapped = read_mapped(path, "hubspot")
    (reasons,) = mapped.errors.to_pylist()
    # A US-style datetime, an unknown opt-out word and an ISO date of birth: each named, none guessed.
    assert "customer_since:unparseable (profile hubspot" in reasons
    assert "marketing_opt_in:not_boolean (profile hubspot" in reasons
    assert "date_of_birth:unparseable (profile hubspot" in reasons
    row = mapped.table.to_pylist()[0]
    assert row["customer_since"] is None and row["marketing_opt_in"] is None and row["date_of_birth"] is None


def test_salesforce_opt_out_is_read_as_the_opposite_of_consent_and_nothing_else(tmp_path):
    header = '"Id","FirstName","LastName","Email","Birthdate","CreatedDate","LastModifiedDate","HasOptedOutOfEmail"\n'
    rows = "".join(f'"003{i:015d}","A","B","a{i}@example.com","","2015-03-03T10:00:00.000+0000","","{v}"\n'
                   for i, v in enumerate(["true", "false", "1", "0", "", "yes"]))
    path = tmp_path / "salesforce_customers_2026-11-22.csv"
    path.write_text(header + rows, encoding="utf-8")
    mapped = read_mapped(path, "salesforce")
    assert [r["marketing_opt_in"] for r in mapped.table.to_pylist()] == ["false", "true", "false", "true",
                                                                         None, None]
    reasons = mapped.errors.to_pylist()
    assert reasons[:5] == [None] * 5 and reasons[5].startswith("marketing_opt_in:not_boolean (profile salesforce")
