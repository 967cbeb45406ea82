"""Sample CRM exports in a profile's own shape: ``milestones sample --profile NAME``.

The deterministic sample customers of :mod:`milestones.ingest.sample` (every event, the
bad rows) are written the way the profile's CRM exports them: its column names,
its formats (dates, datetimes with offsets, opt-out flags), its encoding and CSV
dialect, and the vendor's extra columns the profile ignores. Mapping such a file
with the profile gives back the contract's values, so the exports exercise the
profile end to end; values the sample made bad stay bad (and are quarantined).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from milestones.core.contract import TRUE_LITERALS
from milestones.ingest.profiles import ISO8601, TIMESTAMP_COLUMNS, Column, Profile, load
from milestones.ingest.sample import generate

#: Per vendor: how its record ids look, the extra columns of a real export, and its quoting.
VENDORS = {
    "salesforce": {
        "quoting": csv.QUOTE_ALL,  # Data Loader quotes every field
        "extras": {
            "AccountId": lambda rng, n: f"0015g00000{_base36(n % 977, 5)}AAQ",
            "Salutation": lambda rng, n: rng.choice(["", "Mr.", "Ms.", "Mrs.", "Dr."]),
            "Title": lambda rng, n: rng.choice(["", "Engineer", "Buyer", "Director of Operations"]),
            "Phone": lambda rng, n: f"+1 415 555 {n % 10000:04d}",
            "MailingCity": lambda rng, n: rng.choice(["San Francisco", "Helsinki", "Tallinn", "Shanghai"]),
            "MailingCountry": lambda rng, n: rng.choice(["United States", "Finland", "Estonia", "China"]),
            "LeadSource": lambda rng, n: rng.choice(["Web", "Phone Inquiry", "Partner Referral", ""]),
            "IsDeleted": lambda rng, n: "false",
            "OwnerId": lambda rng, n: "0055g00000Abc1zAAB",
        },
    },
    "hubspot": {
        "quoting": csv.QUOTE_MINIMAL,
        "extras": {
            "Phone Number": lambda rng, n: rng.choice(["", f"+358 40 {n % 1000000:06d}"]),
            "Company Name": lambda rng, n: rng.choice(["", "Acme Oy", "Globex, Inc."]),
            "Lifecycle Stage": lambda rng, n: rng.choice(["Subscriber", "Lead", "Customer"]),
            "Contact owner": lambda rng, n: rng.choice(["", "Maria Virtanen"]),
            "Job Title": lambda rng, n: rng.choice(["", "CTO", "Teacher"]),
            "City": lambda rng, n: rng.choice(["", "Helsinki", "Boston"]),
            "Country/Region": lambda rng, n: rng.choice(["", "Finland", "United States"]),
            "Lead Status": lambda rng, n: rng.choice(["", "New", "Open", "In Progress"]),
        },
    },
}


def _base36(n: int, width: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(width):
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def vendor_id(profile: str, customer_id: str) -> str:
    """A record id in the vendor's shape, stable for the same sample customer."""
    number = int("".join(ch for ch in customer_id if ch.isdigit()) or 0)
    if profile == "salesforce":
        return f"0035g00000{_base36(number, 5)}AAW"  # 18 characters, Contact key prefix 003
    if profile == "hubspot":
        return str(51 + number * 3)  # Record ID: a number
    return customer_id


def _source_value(column: Column, value: str, rng: random.Random) -> str:
    """The contract's ``value`` written as the source holds it (the inverse of the profile's transforms)."""
    if value == "" or value is None:
        return ""
    if column.map:
        value = next((k for k, v in column.map.items() if v == value), value)
    if column.true_values:
        if value.lower() not in TRUE_LITERALS + ("false", "0", "no"):
            return value  # not a boolean in the sample: stays unreadable
        truth = (value.lower() in TRUE_LITERALS) != column.invert
        written = column.true_values[0] if truth else column.false_values[0]
        # A flag the CRM leaves empty unless set (HubSpot's unsubscribe) is exported empty.
        return "" if column.default is not None and written == column.default.lower() else written
    if column.date or column.datetime:
        try:
            when = (dt.datetime.fromisoformat(value.replace("Z", "+00:00")) if column.target in TIMESTAMP_COLUMNS
                    else dt.datetime.combine(dt.date.fromisoformat(value), dt.time(rng.randrange(24),
                                                                                   rng.randrange(60))))
        except ValueError:
            return value  # an impossible date in the sample: stays unreadable
        if column.date:
            return when.strftime(column.date)
        if column.datetime == ISO8601:
            return when.strftime("%Y-%m-%dT%H:%M:%S.000+0000")
        return when.strftime(column.datetime)
    return value


def export_rows(profile: Profile, rows: list[dict[str, str]], seed: int) -> tuple[list[str], list[list[str]]]:
    """``(header, rows)`` of ``rows`` (contract dicts) as the profile's CRM exports them."""
    vendor = VENDORS.get(profile.name, {"extras": {}})
    mapped = [c for c in profile.columns.values() if c.source]
    header = list(dict.fromkeys([c.source for c in mapped] + list(vendor["extras"])))
    out = []
    for row in rows:
        rng = random.Random(f"{seed}:{row['customer_id']}")
        record = {c.source: _source_value(c, row.get(c.target, ""), rng) for c in mapped}
        record[profile.columns["customer_id"].source] = vendor_id(profile.name, row["customer_id"])
        number = int("".join(ch for ch in row["customer_id"] if ch.isdigit()) or 0)
        record.update({name: make(rng, number) for name, make in vendor["extras"].items()})
        out.append([record.get(name, "") for name in header])
    return header, out


def write_export(profile: Profile, rows: list[dict[str, str]], path: Path, seed: int) -> Path:
    """Write ``rows`` in the profile's encoding and CSV dialect (unencodable characters become ``?``)."""
    header, records = export_rows(profile, rows, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    quoting = VENDORS.get(profile.name, {}).get("quoting", csv.QUOTE_MINIMAL)
    with open(path, "w", encoding=profile.encoding, errors="replace", newline="") as fh:
        writer = csv.writer(fh, delimiter=profile.delimiter, quotechar=profile.quote,
                            doublequote=profile.double_quote, escapechar=profile.escape, quoting=quoting)
        writer.writerow(header)
        writer.writerows(records)
    return path


def write_profile_samples(out_dir: Path, profile: str, n: int = 300, as_of: dt.date = dt.date(2026, 11, 22),
                          seed: int = 42, profiles_dir: Path | None = None) -> tuple[Path, Path]:
    """``customers_<as_of-1>.csv`` and ``customers_<as_of>.csv`` as exports of ``profile``'s CRM."""
    chosen = load(profile, profiles_dir)
    previous, current = generate(n, as_of, seed, lives=False)
    prev = write_export(chosen, previous, Path(out_dir) / f"customers_{as_of - dt.timedelta(days=1)}.csv", seed)
    return prev, write_export(chosen, current, Path(out_dir) / f"customers_{as_of}.csv", seed)
