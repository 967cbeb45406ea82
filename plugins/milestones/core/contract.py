"""The CRM extract contract (v1) as data: columns, enums, booleans, defaults.

Mirrors ``shared/contracts/crm_extract.md``; the validation suite and the
readers are built from these tables so the contract lives in one place.
"""

from __future__ import annotations

import re

REQUIRED_COLUMNS = ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in")
OPTIONAL_COLUMNS = (
    "last_name",
    "locale",
    "timezone",
    "date_of_birth",
    "marital_status",
    "wedding_date",
    "employment_status",
    "retirement_date",
    "graduation_date",
    "children_count",
    "deceased",
    "updated_at",
)
ALL_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
DATE_COLUMNS = (
    "date_of_birth",
    "customer_since",
    "wedding_date",
    "retirement_date",
    "graduation_date",
)
BOOLEAN_COLUMNS = ("marketing_opt_in", "deceased")
MARITAL_STATUSES = ("single", "married", "partnered", "divorced", "widowed")
EMPLOYMENT_STATUSES = ("employed", "self_employed", "student", "unemployed", "retired")
TRUE_LITERALS = ("true", "1", "yes")
FALSE_LITERALS = ("false", "0", "no")
#: Snapshot date carried by the file name, after an optional source prefix that
#: selects an extract profile (``salesforce_customers_2026-11-22.csv``; setting extract_profile_rules).
FILENAME_PATTERN = re.compile(
    r"^(?:(?P<prefix>[A-Za-z0-9][A-Za-z0-9-]*)_)?customers_(?P<date>\d{4}-\d{2}-\d{2})\.(csv|parquet)$")
#: What the inbox watchers claim: CRM extracts (as above) and outcomes extracts; the ingest routes by name.
INBOX_PATTERN = re.compile(FILENAME_PATTERN.pattern + r"|^outcomes_\d{4}-\d{2}-\d{2}\.(csv|parquet)$")
