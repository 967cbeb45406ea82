"""Customers' choices back to the CRM: one CSV row per customer who chose something.

``milestones preferences export [--since DATE] --out FILE.csv`` and the daily
``preferences_export`` DAG write the same file (the DAG publishes it as the asset
``milestones_preferences_export``), under ``data_url`` when that is set.  Cells go through :mod:`milestones.core.csvsafe`, so a
value starting with ``=``, ``+``, ``-`` or ``@`` is never evaluated by a spreadsheet.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from milestones.core import csvsafe, storage
from milestones.decide.preferences import Preferences

COLUMNS = ["customer_id", "email", "unsubscribed", "opted_out_types", "paused_until", "email_language",
           "updated_at", "updated_by"]


def rows(store: Preferences, since: dt.date | None = None) -> list[dict[str, Any]]:
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None
    return [{
        "customer_id": s.customer_id, "email": s.email or "", "unsubscribed": "true" if s.unsubscribed else "false",
        "opted_out_types": " ".join(sorted(s.opted_out)), "paused_until": str(s.paused_until or ""),
        "email_language": s.language or "",
        "updated_at": s.updated_at.replace(tzinfo=dt.UTC).isoformat(timespec="seconds") if s.updated_at else "",
        "updated_by": s.updated_by or "",
    } for s in store.changed_since(start)]


def export(ledger_url: str, out: Path | str, since: dt.date | None = None) -> dict[str, Any]:
    """Write the export atomically (a reader never sees half a file; in object storage one
    PUT, :mod:`milestones.core.storage`); a one-line summary."""
    out = storage.locate(out)
    found = rows(Preferences(ledger_url), since)
    if storage.is_remote(out):
        storage.write_text(csvsafe.write_rows(found, COLUMNS), out)
    else:
        storage.replace_from_temp(out, lambda tmp: csvsafe.write_rows(found, COLUMNS, tmp))
    return {"out": str(out), "customers": len(found), "since": str(since) if since else None,
            "unsubscribed": sum(r["unsubscribed"] == "true" for r in found)}


def daily_path(data_dir: Path | str, day: dt.date | str) -> Path:
    """Where the DAG writes day ``day``'s export under ``data_dir`` (or the ``data_url`` prefix)."""
    return storage.locate(data_dir) / "exports" / "preferences" / f"preferences_{day}.csv"
