"""Real lives in the sample: customers for whom the right email is a different one, or none.

Each row pair (previous, current) is written beside the generated customers so that
``make run`` shows every rule of "the right email, or none" (docs/design/decisions.md):
a widow and a divorcee whose wedding anniversary falls today, events at ages that
cannot be right, a student who is now unemployed (no graduation), CRM records that are
one person under ids differing only by case, space or Unicode form, two records on one
inbox, and a couple sharing an address and a wedding date.
"""

from __future__ import annotations

import datetime as dt


def _years_ago(day: dt.date, years: int) -> str:
    try:
        return day.replace(year=day.year - years).isoformat()
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28).isoformat()


def _row(as_of: dt.date, cid: str, first: str, last: str, email: str, **values: str) -> dict[str, str]:
    row = {
        "customer_id": cid, "first_name": first, "last_name": last, "email": email, "locale": "en",
        "timezone": "Europe/London", "date_of_birth": _years_ago(as_of - dt.timedelta(days=120), 52),
        "customer_since": "2015-06-01", "marital_status": "", "wedding_date": "", "employment_status": "employed",
        "retirement_date": "", "graduation_date": "", "children_count": "0", "marketing_opt_in": "true",
        "deceased": "false", "updated_at": f"{as_of.isoformat()}T06:00:00Z",
    }
    row.update(values)
    return row


def lives(as_of: dt.date) -> list[tuple[dict[str, str] | None, dict[str, str]]]:
    """(previous row or None, current row) of each life; previous None: new in this snapshot."""
    today = as_of.isoformat()
    pairs: list[tuple[dict[str, str] | None, dict[str, str]]] = []

    def same(row: dict[str, str]) -> None:
        pairs.append((dict(row), row))

    # Widowed since the wedding: no "happy 25th anniversary"; divorced: no "another year together".
    same(_row(as_of, "L000001", "Charlotte", "Smith", "charlotte.smith@example.com",
              marital_status="widowed", wedding_date=_years_ago(as_of, 25)))
    same(_row(as_of, "L000002", "Juha", "Korhonen", "juha.korhonen@example.com", locale="fi",
              timezone="Europe/Helsinki", marital_status="divorced", wedding_date=_years_ago(as_of, 7)))
    # Ages no event can have: retirement at 21, graduation at 81, a new child at 72.
    same(_row(as_of, "L000003", "Emma", "Jones", "emma.jones@example.com",
              date_of_birth="2005-03-14", retirement_date=today))
    same(_row(as_of, "L000004", "Henry", "Taylor", "henry.taylor@example.com",
              date_of_birth="1945-01-09", employment_status="retired", graduation_date=today))
    before = _row(as_of, "L000005", "Tõnu", "Tamm", "tonu.tamm@example.com", locale="et",
                  timezone="Europe/Tallinn", date_of_birth="1954-02-02", children_count="2")
    pairs.append((before, {**before, "children_count": "3"}))
    # No longer a student, but not working either: no evidence of a graduation.
    before = _row(as_of, "L000006", "Kaisa", "Mäkinen", "kaisa.makinen@example.com", locale="fi",
                  timezone="Europe/Helsinki", date_of_birth="2001-09-30", employment_status="student")
    pairs.append((before, {**before, "employment_status": "unemployed"}))
    # One person typed five ways (case, a trailing space, a no-break space, full width), one
    # inbox, a birthday today: quarantined as customer_id:ambiguous, no email at all.
    for cid in ("Y1", "Y1 ", "y1", "\u00a0Y1", "\uff39\uff11"):
        pairs.append((None, _row(as_of, cid, "Grace", "Taylor", "grace.taylor@example.com",
                                 date_of_birth=_years_ago(as_of, 41))))
    # Two records on one inbox (the address in two spellings), both with a birthday today: one email.
    same(_row(as_of, "L000013", "Alice", "Smith", "Shared@Example.com", date_of_birth=_years_ago(as_of, 38)))
    same(_row(as_of, "L000008", "Alice", "Smith", "shared@example.com", date_of_birth=_years_ago(as_of, 38)))
    # Couples: one address, one wedding date: one anniversary email greeting both.
    wedding = _years_ago(as_of, 10)
    for cid, first, last, lang, zone, email in (
            ("L000009", "Anna", "Virtanen", "fi", "Europe/Helsinki", "virtaset@example.com"),
            ("L000010", "Mikko", "Virtanen", "fi", "Europe/Helsinki", "Virtaset@example.com"),
            ("L000011", "芳", "王", "zh-CN", "Asia/Shanghai", "wang.li@example.com"),
            ("L000012", "明", "李", "zh-CN", "Asia/Shanghai", "wang.li@example.com")):
        same(_row(as_of, cid, first, last, email, locale=lang, timezone=zone, marital_status="married",
                  wedding_date=wedding, date_of_birth=_years_ago(as_of - dt.timedelta(days=50), 40)))
    return pairs
