"""Deterministic sample CRM extracts: two snapshots with every edge case the contract names.

``generate(n, as_of, seed)`` returns ``(previous, current)`` lists of row dicts; the
same arguments always give the same rows.  ``write_samples`` writes them as
``customers_<date>.csv`` files.  The rows are built so that on ``as_of`` every
event type fires for some customers (birthdays including 29 February births and
milestone ages, anniversaries, retirements, graduations, changes between the
snapshots), in every language (so the bundled run emails every event x
language pair), and the bad rows the validation must quarantine are present.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

from milestones.core.contract import ALL_COLUMNS

FIRST_NAMES = {
    "en": ["Alice", "Bob", "Charlotte", "David", "Emma", "Frank", "Grace", "Henry"],
    "fi": ["Aino", "Eetu", "Helmi", "Juha", "Kaisa", "Lauri", "Päivi", "Sääde"],
    "et": ["Mari", "Jüri", "Kätlin", "Tõnu", "Ülle", "Mart", "Liis", "Õie"],
    # Given names; the family name is last_name (the greeting writes 李娜: family name first, no space).
    "zh": ["娜", "伟", "敏", "洋", "静", "磊", "丽", "勇"],
}
LAST_NAMES = {
    "en": ["Smith", "Jones", "O'Brien", "Taylor"],
    "fi": ["Virtanen", "Korhonen", "Mäkinen", "Nieminen"],
    "et": ["Tamm", "Saar", "Sepp", "Mägi"],
    "zh": ["李", "王", "张", "刘", "陈", "杨", "赵", "黄"],
}
LOCALES = {"en": ["en", "en-GB", "en-US"], "fi": ["fi", "fi-FI"], "et": ["et", "et-EE"], "zh": ["zh", "zh-CN"]}
TIMEZONES = {
    "en": ["Europe/London", "America/New_York", "America/Los_Angeles", "Pacific/Auckland"],
    "fi": ["Europe/Helsinki"],
    "et": ["Europe/Tallinn"],
    "zh": ["Asia/Shanghai"],
}
TRICKY_NAMES = ["<script>alert(1)</script>", '"Quoted" Name', "{{ 7*7 }}", "Ann, \"the\" <b>bold</b>", "Zoë 🎉"]


def _same_day(day: dt.date, years_ago: int) -> dt.date:
    try:
        return day.replace(year=day.year - years_ago)
    except ValueError:  # as_of is 29 February
        return day.replace(year=day.year - years_ago, day=28)


#: Row kinds (``i % 20``) that make an email on ``as_of``: the kind picks the event, the block of
#: twenty rows (``i // 20``) the language, so every event reaches every language.
EMAIL_KINDS = frozenset({0, 1, 2, 3, 4, 6, 7, 8})


def _base_row(rng: random.Random, i: int, as_of: dt.date) -> dict[str, str]:
    lang = ["en", "fi", "et", "zh"][(i // 20) % 4]
    first = rng.choice(FIRST_NAMES[lang])
    dob = as_of - dt.timedelta(days=rng.randint(18 * 365, 85 * 365))
    since = as_of - dt.timedelta(days=rng.randint(30, 20 * 365))
    return {
        "customer_id": f"C{i:06d}",
        "first_name": first,
        "last_name": rng.choice(LAST_NAMES[lang]),
        "email": f"customer{i}@example.com",
        "locale": rng.choice(LOCALES[lang]),
        "timezone": rng.choice(TIMEZONES[lang]),
        "date_of_birth": dob.isoformat(),
        "customer_since": since.isoformat(),
        "marital_status": rng.choice(["single", "married", "partnered", "divorced", "widowed", ""]),
        "wedding_date": "",
        "employment_status": rng.choice(["employed", "self_employed", "student", "unemployed", "retired", ""]),
        "retirement_date": "",
        "graduation_date": "",
        "children_count": str(rng.choice([0, 0, 1, 2, 3])),
        "marketing_opt_in": rng.choice(["true", "true", "true", "yes", "1", "false"]),
        "deceased": rng.choice(["false", "false", "false", "", "0"]),
        "updated_at": f"{as_of.isoformat()}T06:00:00Z",
    }


def generate(n: int = 300, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 42, *, lives: bool = True):
    """Return ``(previous_rows, current_rows)``, deterministic for the same arguments.

    ``lives``: add the real lives of :mod:`milestones.ingest.sample_lives` (a widow, a couple,
    one person under five ids...); a CRM export profile's sample leaves them out."""
    rng = random.Random(seed)
    current = [_base_row(rng, i, as_of) for i in range(n)]
    for i, row in enumerate(current):
        kind = i % 20
        if kind == 0:  # birthday today, some of them milestone ages
            row["date_of_birth"] = _same_day(as_of, rng.choice([18, 30, 33, 40, 47, 50, 65])).isoformat()
        elif kind == 1:  # customer anniversary today
            row["customer_since"] = _same_day(as_of, rng.choice([1, 3, 5, 10])).isoformat()
        elif kind == 2:  # wedding anniversary today
            row["marital_status"] = "married"
            years = rng.choice([1, 7, 25])
            row["wedding_date"] = _same_day(as_of, years).isoformat()
            row["date_of_birth"] = _same_day(as_of - dt.timedelta(days=100), years + 28).isoformat()
        elif kind == 3:
            row["retirement_date"] = as_of.isoformat()
            row["date_of_birth"] = _same_day(as_of - dt.timedelta(days=40), 66).isoformat()
        elif kind == 4:
            row["graduation_date"] = as_of.isoformat()
            row["date_of_birth"] = _same_day(as_of - dt.timedelta(days=70), 23).isoformat()
        elif kind == 5:  # born on 29 February
            row["date_of_birth"] = rng.choice(["1988-02-29", "1996-02-29", "2000-02-29"])
    for i, row in enumerate(current):
        if i % 20 in EMAIL_KINDS and i < 80 and row["marketing_opt_in"] == "false":
            row["marketing_opt_in"] = "true"  # the first of each event x language may be emailed
    previous = [dict(row) for row in current]
    for i in range(n):
        kind = i % 20
        prev = previous[i]
        if kind == 6:  # got married since the previous snapshot
            prev["marital_status"] = "single"
            current[i]["marital_status"] = "married"
        elif kind == 7:  # retired since the previous snapshot, at an age people retire
            prev["employment_status"] = "employed"
            current[i]["employment_status"] = "retired"
            prev["date_of_birth"] = current[i]["date_of_birth"] = _same_day(as_of - dt.timedelta(days=90), 64).isoformat()
        elif kind == 8:  # a new child, at an age people have one
            prev["children_count"] = "0"
            current[i]["children_count"] = "1"
            prev["date_of_birth"] = current[i]["date_of_birth"] = _same_day(as_of - dt.timedelta(days=200), 33).isoformat()
        elif kind == 9:  # no longer a student: now working
            prev["employment_status"] = "student"
            current[i]["employment_status"] = "employed"
            prev["date_of_birth"] = current[i]["date_of_birth"] = _same_day(as_of - dt.timedelta(days=30), 24).isoformat()
        elif kind == 10:  # opted out
            current[i]["marketing_opt_in"] = "false"
            current[i]["date_of_birth"] = _same_day(as_of, 44).isoformat()
        elif kind == 11:  # deceased, must never be contacted
            current[i]["deceased"] = "true"
            current[i]["date_of_birth"] = _same_day(as_of, 71).isoformat()
        elif kind == 12:  # names that must arrive as text
            current[i]["first_name"] = TRICKY_NAMES[(i // 20) % len(TRICKY_NAMES)]
            current[i]["date_of_birth"] = _same_day(as_of, 35).isoformat()
    # Bad rows, a handful: quarantined with a reason, never sent.
    bad = [
        ("email", "not-an-email"),
        ("email", "two@@example.com"),
        ("date_of_birth", "1970-01-01"),
        ("date_of_birth", "2031-05-05"),
        ("date_of_birth", "1990-02-30"),
        ("timezone", "Mars/Olympus"),
        ("marketing_opt_in", "maybe"),
    ]
    for k, (col, value) in enumerate(bad):
        current[n - 1 - k][col] = value
    # New customers (no previous row): no change events for them.
    for i in range(n, n + 5):
        row = _base_row(rng, i, as_of)
        row["marital_status"] = "married"
        current.append(row)
    # A customer who left between the snapshots.
    previous.append(_base_row(rng, n + 100, as_of))
    # Real lives whose right email is another one, or none (sample_lives).
    from milestones.ingest.sample_lives import lives as real_lives

    for before, now in (real_lives(as_of) if lives else ()):
        if before is not None:
            previous.append(before)
        current.append(now)
    return previous, current


def write_csv(rows: list[dict[str, str]], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    from milestones.core.csvsafe import write_rows

    write_rows(rows, ALL_COLUMNS, path)
    return path


def write_samples(out_dir: Path, n: int = 300, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 42):
    """Write ``customers_<as_of-1>.csv`` and ``customers_<as_of>.csv``; return both paths."""
    previous, current = generate(n, as_of, seed)
    prev_path = write_csv(previous, Path(out_dir) / f"customers_{as_of - dt.timedelta(days=1)}.csv")
    cur_path = write_csv(current, Path(out_dir) / f"customers_{as_of}.csv")
    return prev_path, cur_path
