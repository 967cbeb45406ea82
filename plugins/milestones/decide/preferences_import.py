"""Choices recorded in the CRM, brought into the preference store (source ``crm_import``).

``milestones preferences import FILE.csv`` reads the export's columns (``customer_id``
required; ``unsubscribed``, ``opted_out_types``, ``paused_until``, ``email_language``
optional, an empty cell changes nothing).  The CRM can unsubscribe a customer, opt them
out of kinds of email, pause them or set their language, but never undo an unsubscribe:
only the customer can (such rows are counted ``refused``, with their line numbers).
Bad rows are reported by line and column, never by value, and the rest are applied.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

from milestones.decide.preferences import LANGUAGES, Change, Preferences

TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}


def _row_change(row: dict[str, str], event_types: set[str]) -> tuple[Change, str | None]:
    """The change a row asks for, or the column at fault."""
    values: dict[str, Any] = {}
    flag = (row.get("unsubscribed") or "").strip().lower()
    if flag:
        if flag not in TRUE | FALSE:
            return Change(), "unsubscribed"
        values["unsubscribed"] = flag in TRUE
    types = (row.get("opted_out_types") or "").split()
    if row.get("opted_out_types") is not None and row["opted_out_types"].strip():
        if not set(types) <= event_types:
            return Change(), "opted_out_types"
        values["opted_out"] = frozenset(types)
    until = (row.get("paused_until") or "").strip()
    if until:
        try:
            values["paused_until"] = dt.date.fromisoformat(until)
        except ValueError:
            return Change(), "paused_until"
    language = (row.get("email_language") or "").strip().lower()
    if language:
        if language not in LANGUAGES:
            return Change(), "email_language"
        values["language"] = language
    return Change(**values), None


def import_csv(ledger_url: str, path: Path | str, event_types: set[str]) -> dict[str, Any]:
    store = Preferences(ledger_url)
    applied = refused = unchanged = 0
    errors: list[str] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        if "customer_id" not in (reader.fieldnames or []):
            raise ValueError(f"{path}: no customer_id column")
        for line, row in enumerate(reader, start=2):
            customer = (row.get("customer_id") or "").strip()
            change, bad = _row_change(row, event_types)
            if not customer or bad:
                errors.append(f"line {line}: {bad or 'customer_id'} is not valid")
                continue
            if change.unsubscribed is False:
                if store.get(customer).unsubscribed:
                    refused += 1
                    errors.append(f"line {line}: only the customer can undo an unsubscribe")
                change = Change(opted_out=change.opted_out, paused_until=change.paused_until,
                                language=change.language)
            if store.apply(customer, change, "crm_import"):
                applied += 1
            else:
                unchanged += 1
    return {"file": str(path), "applied": applied, "unchanged": unchanged, "refused": refused,
            "errors": errors[:100], "error_count": len(errors)}
