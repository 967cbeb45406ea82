"""The CRM extract contract as data: one :class:`Rule` per check, with the reason a failing row gets.

:func:`build_rules` is the whole suite, bounded by the snapshot date; the GX
runner (:mod:`milestones.ingest.gx_suite`) turns it into expectations and the
helper columns it names are computed in :mod:`milestones.ingest.prepare`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from milestones.core.contract import (
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    EMPLOYMENT_STATUSES,
    FALSE_LITERALS,
    MARITAL_STATUSES,
    TRUE_LITERALS,
)

PLACEHOLDER_DATES = ("1900-01-01", "1970-01-01")
MAX_AGE_YEARS = 120
#: Longest customer_id (the contract) and names (a subject line must stay a line).
TEXT_LIMITS = {"customer_id": 64, "first_name": 100, "last_name": 100}
#: Bounds of the date columns the older rules leave open, in years before and after the
#: snapshot date: no 9999-12-31 wedding, no retirement in the year 1200, no 2,025th customer
#: anniversary. (date_of_birth has its own: in_future, too_old; customer_since's upper bound
#: is in_future: ``None`` here.)
DATE_BOUNDS = {"customer_since": (150, None), "wedding_date": (MAX_AGE_YEARS, 2),
               "retirement_date": (MAX_AGE_YEARS, 60), "graduation_date": (MAX_AGE_YEARS, 20)}


def _out_of_range(column: str) -> str:
    return "too_old" if DATE_BOUNDS[column][1] is None else "out_of_range"


#: Columns GX reads as categories: few distinct values, so set checks and the
#: row filters GX runs per expectation work on small integer codes.
CATEGORY_COLUMNS = ("marital_status", "employment_status")


@dataclass(frozen=True)
class Rule:
    """One expectation: GX type name, its kwargs, and the reason a failing row gets."""

    reason: str
    expectation: str
    kwargs: dict[str, Any]


def build_rules(as_of: dt.date) -> list[Rule]:
    """The whole contract as GX expectations, bounded by the snapshot date."""
    import pandas as pd

    today = pd.Timestamp(as_of)
    oldest = today - pd.DateOffset(years=MAX_AGE_YEARS)
    rules = [
        Rule(f"{c}:missing", "ExpectColumnValuesToNotBeNull", {"column": c})
        for c in ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in")
    ]
    rules += [
        # Over the whole file, not one chunk: the helper holds every id that occurs twice.
        Rule("customer_id:duplicate", "ExpectColumnValuesToBeNull", {"column": "_customer_id_repeated"}),
        # Ids differing only by case, whitespace or Unicode form: one key typed twice (identity.py).
        Rule("customer_id:ambiguous", "ExpectColumnValuesToBeNull", {"column": "_customer_id_ambiguous"}),
        # Names and ids reach subjects, headers and file names: control characters, bidi
        # overrides, zero-width characters, blank values and over-long ones are refused.
        # The helper holds the kind of problem, so the reason is `column:kind`
        # (customer_id:too_long, first_name:blank, last_name:control_characters).
        *(Rule(f"{column}:*", "ExpectColumnValuesToBeNull", {"column": f"_{column}_problem"})
          for column in TEXT_LIMITS),
        Rule("email:invalid", "ExpectColumnValuesToBeNull", {"column": "_email_invalid"}),
        # A valid address with non-ASCII characters (z@exämple.com): SendGrid would refuse it at
        # sending. Quarantined, not rewritten to IDNA: no email is better than a guessed address.
        Rule("email:non_ascii", "ExpectColumnValuesToBeNull", {"column": "_email_non_ascii"}),
        Rule("locale:unknown", "ExpectColumnValuesToBeNull", {"column": "_locale_unknown"}),
        # Checked per distinct value into a helper: as a GX value set, the ~600 IANA
        # names are copied on every one of GX's many reads of the expectation.
        Rule("timezone:unknown", "ExpectColumnValuesToBeNull", {"column": "_timezone_unknown"}),
        Rule("marital_status:unknown", "ExpectColumnValuesToBeInSet", {"column": "marital_status", "value_set": list(MARITAL_STATUSES)}),
        Rule("employment_status:unknown", "ExpectColumnValuesToBeInSet", {"column": "employment_status", "value_set": list(EMPLOYMENT_STATUSES)}),
        Rule("children_count:not_a_count", "ExpectColumnValuesToMatchRegex", {"column": "children_count", "regex": r"^\d{1,3}$"}),
    ]
    for col in BOOLEAN_COLUMNS:
        rules.append(
            Rule(f"{col}:not_boolean", "ExpectColumnValuesToBeInSet",
                 {"column": f"_{col}_lower", "value_set": list(TRUE_LITERALS + FALSE_LITERALS)})
        )
    for col in DATE_COLUMNS:
        rules.append(Rule(f"{col}:unparseable", "ExpectColumnValuesToBeNull", {"column": f"_{col}_bad"}))
        rules.append(Rule(f"{col}:placeholder", "ExpectColumnValuesToBeNull", {"column": f"_{col}_placeholder"}))
    for col in DATE_BOUNDS:
        rules.append(Rule(f"{col}:{_out_of_range(col)}", "ExpectColumnValuesToBeNull",
                          {"column": f"_{col}_out_of_range"}))
    rules += [
        Rule("date_of_birth:in_future", "ExpectColumnValuesToBeBetween",
             {"column": "_date_of_birth", "max_value": today}),
        Rule("date_of_birth:too_old", "ExpectColumnValuesToBeBetween",
             {"column": "_date_of_birth", "min_value": oldest}),
        Rule("customer_since:in_future", "ExpectColumnValuesToBeBetween",
             {"column": "_customer_since", "max_value": today}),
        Rule("wedding_date:before_birth", "ExpectColumnPairValuesAToBeGreaterThanB",
             {"column_A": "_wedding_date", "column_B": "_date_of_birth", "or_equal": False,
              "ignore_row_if": "either_value_is_missing"}),
    ]
    return rules
