"""The CRM extract contract and the event rules as DuckDB SQL: what the benchmarks measure milestones against.

Benchmarks only (DuckDB is a dev dependency; the package never imports it). The SQL
checks what ``milestones.ingest.rules`` checks, each failing row getting the same
reasons; where a rule asks a library (email-validator, Babel, the IANA database), the
SQL holds the library's answer as data or as a regular expression:

* e-mail: email-validator's syntax as one regular expression (dot-atom local part of at
  most 64 characters, dotted domain of labels of letters, digits and hyphens of at most 63,
  at most 254 in all);
  an otherwise valid address with a non-ASCII character is ``email:non_ascii``;
* locales: Babel's locale identifiers, with ``-`` or ``_``, and each without its script
  (``zh-CN`` for ``zh_Hans_CN``), computed by the caller (:func:`reference`);
* time zones: the IANA region zones and ``UTC`` (:func:`reference`);
* ambiguous ids: NFC (DuckDB has no NFKC), whitespace removed, lower case.

On an extract without such edge cases (the benchmarks' generated ones) both give the same
quarantine row for row; the benchmarks check that they do.
"""

from __future__ import annotations

import datetime as dt
import json

#: Control and invisible characters (milestones.ingest.checks._CONTROL), RE2 syntax.
_CONTROL = (r"[\x{00}-\x{1f}\x{7f}-\x{9f}\x{061c}\x{200b}\x{200e}\x{200f}\x{2028}-\x{202e}"
            r"\x{2060}-\x{2064}\x{2066}-\x{2069}\x{feff}\x{fff9}-\x{fffb}]")
_INVISIBLE = (r"[\t\n\x{0b}\x{0c}\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}"
              r"\x{202f}\x{205f}\x{3000}\x{200b}-\x{200d}\x{2060}\x{feff}\x{3164}]*")
_ATOM = r"[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[\p{L}\p{N}]([\p{L}\p{N}-]*[\p{L}\p{N}])?"
EMAIL = rf"{_ATOM}(\.{_ATOM})*@({_LABEL}\.)+{_LABEL}"
TEXT_LIMITS = {"customer_id": 64, "first_name": 100, "last_name": 100}
DATES = ("date_of_birth", "customer_since", "wedding_date", "retirement_date", "graduation_date")
#: Years before and after the snapshot date a date may lie (None: no upper bound but the day itself).
BOUNDS = {"date_of_birth": (120, 0), "customer_since": (150, 0), "wedding_date": (120, 2),
          "retirement_date": (120, 60), "graduation_date": (120, 20)}
REQUIRED = ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in")
MARITAL = ("single", "married", "partnered", "divorced", "widowed")
EMPLOYMENT = ("employed", "self_employed", "student", "unemployed", "retired")
BOOLEANS = ("marketing_opt_in", "deceased")
TRUE, FALSE = ("true", "1", "yes"), ("false", "0", "no")
PLACEHOLDERS = ("1900-01-01", "1970-01-01")


def reference() -> dict[str, list[str]]:
    """The reference data the SQL holds as tables: Babel's locale tags, the region zones.

    Computed in the parent process, outside the clock (a SQL shop loads such tables once).
    """
    from babel.localedata import locale_identifiers

    from milestones.ingest.checks import region_timezones

    tags = set()
    for ident in locale_identifiers():
        parts = ident.split("_")
        forms = [parts]
        if len(parts) >= 3 and len(parts[1]) == 4:  # language_Script_TERRITORY: also without the script
            forms.append([parts[0], *parts[2:]])
        for form in forms:
            tags.update({"_".join(form), "-".join(form)})
    return {"locales": sorted(tags), "zones": sorted(region_timezones())}


def _quote(values) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _text(column: str, limit: int) -> str:
    return (f"CASE WHEN regexp_matches({column}, '{_CONTROL}') THEN '{column}:control_characters' "
            f"WHEN regexp_full_match({column}, '{_INVISIBLE}') THEN '{column}:blank' "
            f"WHEN length({column}) > {limit} THEN '{column}:too_long' END")


def _years(as_of: dt.date, years: int) -> str:
    return f"(DATE '{as_of}' + to_years({years}))"


def contract_sql(as_of: dt.date) -> str:
    """``SELECT`` over ``raw`` (the extract as text, with ``row_idx``): every column, the
    parsed dates as ``<column>__d`` and ``reasons`` (``; ``-joined, in the order of the
    checks; empty for a valid row). Each date is parsed once, each address matched once."""
    ok_email = (f"regexp_full_match(email, '{EMAIL.replace(chr(39), chr(39) * 2)}') "
                "AND length(split_part(email, '@', 1)) <= 64 AND length(email) <= 254 AND "
                "list_max(list_transform(string_split(split_part(email, '@', 2), '.'), "
                "lambda label: length(label))) <= 63")
    first = ", ".join([f"try_strptime({c}, '%Y-%m-%d') AS {c}__t" for c in DATES] + [f"{ok_email} AS email__ok"])
    parsed = ", ".join(f"CASE WHEN regexp_full_match({c}, '\\d{{4}}-\\d{{2}}-\\d{{2}}') AND year({c}__t) >= 1 "
                       f"THEN {c}__t END AS {c}__d" for c in DATES)
    checks = [f"CASE WHEN {c} IS NULL THEN '{c}:missing' END" for c in REQUIRED]
    checks += ["CASE WHEN customer_id IN (SELECT customer_id FROM raw GROUP BY 1 HAVING count(*) > 1) "
               "THEN 'customer_id:duplicate' END",
               "CASE WHEN customer_id IN (SELECT id FROM ids WHERE form IN "
               "(SELECT form FROM ids GROUP BY 1 HAVING count(*) > 1)) THEN 'customer_id:ambiguous' END"]
    checks += [_text(c, n) for c, n in TEXT_LIMITS.items()]
    checks += ["CASE WHEN email IS NOT NULL AND NOT email__ok THEN 'email:invalid' END",
               "CASE WHEN email__ok AND NOT regexp_full_match(email, '[\\x{00}-\\x{7f}]*') "
               "THEN 'email:non_ascii' END",
               "CASE WHEN locale NOT IN (SELECT tag FROM locales) THEN 'locale:unknown' END",
               "CASE WHEN timezone NOT IN (SELECT zone FROM zones) THEN 'timezone:unknown' END",
               f"CASE WHEN marital_status NOT IN ({_quote(MARITAL)}) THEN 'marital_status:unknown' END",
               f"CASE WHEN employment_status NOT IN ({_quote(EMPLOYMENT)}) THEN 'employment_status:unknown' END",
               "CASE WHEN NOT regexp_full_match(children_count, '\\d{1,3}') THEN 'children_count:not_a_count' END"]
    checks += [f"CASE WHEN lower({c}) NOT IN ({_quote(TRUE + FALSE)}) THEN '{c}:not_boolean' END" for c in BOOLEANS]
    for c in DATES:
        back, ahead = BOUNDS[c]
        checks += [f"CASE WHEN {c} IS NOT NULL AND {c}__d IS NULL THEN '{c}:unparseable' END",
                   f"CASE WHEN {c} IN ({_quote(PLACEHOLDERS)}) THEN '{c}:placeholder' END"]
        if c in ("date_of_birth", "customer_since"):
            checks += [f"CASE WHEN {c}__d > DATE '{as_of}' THEN '{c}:in_future' END",
                       f"CASE WHEN {c}__d < {_years(as_of, -back)} THEN '{c}:too_old' END"]
        else:
            checks.append(f"CASE WHEN {c}__d < {_years(as_of, -back)} OR {c}__d > {_years(as_of, ahead)} "
                          f"THEN '{c}:out_of_range' END")
    checks.append("CASE WHEN wedding_date__d <= date_of_birth__d THEN 'wedding_date:before_birth' END")
    listed = ",\n    ".join(checks)
    dropped = ", ".join([f"{c}__t" for c in DATES] + ["email__ok"])
    return (f"SELECT * EXCLUDE ({dropped}), concat_ws('; ',\n    {listed}) AS reasons\n"
            f"FROM (SELECT *, {parsed} FROM (SELECT *, {first} FROM raw))")


def setup_sql(path: str, ref: dict[str, list[str]]) -> str:
    """The extract as ``raw`` (text, empty cell = NULL, with its row index) and the reference tables."""
    locales = ", ".join(f"({_quote([t])})" for t in ref["locales"])
    zones = ", ".join(f"({_quote([z])})" for z in ref["zones"])
    return f"""
CREATE TEMP TABLE raw AS
  SELECT row_number() OVER () - 1 AS row_idx, *
  FROM read_csv('{path}', all_varchar = true, header = true, nullstr = '');
CREATE TEMP TABLE locales AS SELECT * FROM (VALUES {locales}) t(tag);
CREATE TEMP TABLE zones AS SELECT * FROM (VALUES {zones}) t(zone);
CREATE TEMP TABLE ids AS
  SELECT DISTINCT customer_id AS id, lower(regexp_replace(nfc_normalize(customer_id), '\\s', '', 'g')) AS form
  FROM raw WHERE customer_id IS NOT NULL;
"""


def snapshot_select(extract_name: str) -> tuple[str, str]:
    """``(valid rows typed as milestones' snapshot, quarantine rows)`` over ``checked``."""
    typed = [f"{c}__d AS {c}" if c in DATES else
             f"lower({c}) IN ({_quote(TRUE)}) AS {c}" if c in BOOLEANS else
             f"CAST({c} AS BIGINT) AS {c}" if c == "children_count" else c
             for c in ("customer_id", "first_name", "last_name", "email", "locale", "timezone", *DATES,
                       "marital_status", "employment_status", "children_count", *BOOLEANS, "updated_at")]
    valid = f"SELECT {', '.join(typed)} FROM checked WHERE reasons = ''"
    raw = "* EXCLUDE (row_idx, reasons, " + ", ".join(f"{c}__d" for c in DATES) + ")"
    # ``reasons`` in the quarantine sorted, as milestones writes them.
    quarantine = (f"SELECT '{extract_name}' AS extract, row_idx + 2 AS row_number, "
                  f"array_to_string(list_sort(string_split(reasons, '; ')), '; ') AS reasons, {raw} "
                  "FROM checked WHERE reasons <> ''")
    return valid, quarantine


#: The event rules (milestones.detect, rules/events.yaml) over ``cur`` and ``prev``, with
#: ``rule_meta`` (per event type: annual, max_age, milestones).
EVENTS_SQL = """
WITH days AS (SELECT (DATE '{as_of}' - d::INTEGER) AS t FROM range({days}) r(d)),
annual AS (
  SELECT c.customer_id, a.event_type, days.t AS event_date, year(days.t) - year(a.src) AS years,
         a.source, 0 AS prio
  FROM cur c,
       LATERAL (VALUES ('birthday', c.date_of_birth::DATE, 'date_of_birth'),
                       ('wedding_anniversary', c.wedding_date::DATE, 'wedding_date'),
                       ('customer_anniversary', c.customer_since::DATE, 'customer_since')) a(event_type, src, source),
       days
  WHERE a.src IS NOT NULL AND year(days.t) > year(a.src) AND (
        (month(a.src) = month(days.t) AND day(a.src) = day(days.t))
     OR (month(a.src) = 2 AND day(a.src) = 29 AND month(days.t) = 2 AND day(days.t) = 28
         AND NOT ((year(days.t) % 4 = 0 AND year(days.t) % 100 <> 0) OR year(days.t) % 400 = 0)))
),
on_date AS (
  SELECT customer_id, o.event_type, o.src AS event_date, 0 AS years, o.source, o.prio
  FROM cur, LATERAL (VALUES ('retirement', retirement_date::DATE, 'retirement_date', 0),
                            ('graduation', graduation_date::DATE, 'graduation_date', 0),
                            ('marriage', wedding_date::DATE, 'wedding_date', 2)) o(event_type, src, source, prio)
  WHERE o.src BETWEEN DATE '{as_of}' - {days_minus_one} AND DATE '{as_of}'
),
changes AS (
  SELECT c.customer_id, x.event_type, DATE '{as_of}' AS event_date, 0 AS years, 'change' AS source, x.prio
  FROM cur c JOIN prev p USING (customer_id),
  LATERAL (VALUES
    ('marriage', c.marital_status IN ('married', 'partnered') AND coalesce(p.marital_status NOT IN ('married', 'partnered'), true), 0),
    ('marriage', c.wedding_date IS NOT NULL AND p.wedding_date IS NULL, 1),
    ('retirement', c.employment_status = 'retired' AND coalesce(p.employment_status <> 'retired', true), 1),
    ('graduation', p.employment_status = 'student' AND c.employment_status = 'employed', 1),
    ('new_child', coalesce(c.children_count, 0) > coalesce(p.children_count, 0), 0)) x(event_type, hit, prio)
  WHERE x.hit
),
events AS (
  SELECT e.*, CASE WHEN r.annual THEN strftime(e.event_date, '%Y-%m-%d') ELSE year(e.event_date)::VARCHAR END AS occ,
         r.max_age
  FROM (SELECT * FROM annual UNION ALL SELECT * FROM on_date UNION ALL SELECT * FROM changes) e
  JOIN rule_meta r USING (event_type)
)
SELECT DISTINCT ON (customer_id, event_type, occ)
       customer_id, event_type, event_date, years,
       CASE WHEN r.annual AND list_contains(r.milestones, years) THEN years ELSE 0 END AS milestone,
       source, occ, DATE '{as_of}' - event_date AS days_late, DATE '{as_of}' - event_date > e.max_age AS stale,
       substr(sha256(customer_id || chr(31) || event_type || chr(31) || occ), 1, 32) AS sha_key
FROM events e JOIN rule_meta r USING (event_type)
ORDER BY customer_id, event_type, occ, prio
"""


def rule_meta_sql(meta: list[dict]) -> str:
    """``rule_meta`` as a table from ``[{event_type, annual, max_age, milestones}]`` (JSON-able)."""
    rows = ", ".join(f"('{m['event_type']}', {str(m['annual']).lower()}, {int(m['max_age'])}, "
                     f"{json.dumps([int(x) for x in m['milestones']])}::INTEGER[])" for m in meta)
    return f"CREATE TEMP TABLE rule_meta AS SELECT * FROM (VALUES {rows}) t(event_type, annual, max_age, milestones)"
