"""Choices recorded in the CRM, brought into the preference store (source ``crm_import``).

``milestones preferences import FILE.csv`` reads the export's columns (``customer_id``
required; ``unsubscribed``, ``opted_out_types``, ``paused_until``, ``email_language``
optional, an empty cell changes nothing).  The CRM can unsubscribe a customer, opt them
out of kinds of email, pause them or set their language, but never undo an unsubscribe:
only the customer can (such rows are counted ``refused``, with their line numbers, and
their other columns applied).

All or nothing: the file passes the file gate (:mod:`milestones.ingest.gate`: a regular
UTF-8 file, well-formed CSV, no field over 4 KiB, ids without line breaks, NUL, bidi
characters or formulas, at most 64 characters) and every row is checked before the first
is applied, in one transaction. A bad file or a bad row refuses the whole file (exit 3), its
lines and columns named, never a value.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from milestones.decide.preferences import LANGUAGES, Change, Preferences

TRUE, FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
COLUMNS = ("customer_id", "unsubscribed", "opted_out_types", "paused_until", "email_language")


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


def import_csv(ledger_url: str, path: Path | str, event_types: set[str], *,
               follow_symlinks: bool = False) -> dict[str, Any]:
    """Apply a CRM export's choices; :class:`~milestones.ingest.extract.ExtractError` (nothing
    applied) for a file or a row the gate refuses."""
    from milestones.ingest import gate

    def check(row: dict[str, str]) -> list[str]:
        bad = _row_change(row, event_types)[1]
        return [f"{bad}: not valid"] if bad else []

    read = gate.read_rows(path, required=("customer_id",), id_columns=("customer_id",),
                          follow_symlinks=follow_symlinks, check=check)
    changes = [(line, row["customer_id"], _row_change(row, event_types)[0]) for line, row in read.rows]
    store = Preferences(ledger_url)
    refused: list[str] = []
    requests = []
    for line, customer, change in changes:
        if change.unsubscribed is False:  # only the customer can undo an unsubscribe
            if store.get(customer).unsubscribed:
                refused.append(f"line {line}: only the customer can undo an unsubscribe")
            change = Change(opted_out=change.opted_out, paused_until=change.paused_until,
                            language=change.language)
        requests.append((customer, change, "crm_import", None))
    results = store.apply_many(requests)  # one transaction: all rows or none
    applied = sum(1 for rows in results if rows)
    return {"file": str(path), "applied": applied, "unchanged": len(results) - applied,
            "refused": len(refused), "errors": refused[:100], "error_count": len(refused)}
