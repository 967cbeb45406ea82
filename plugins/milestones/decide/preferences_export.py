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


#: With ``--with-consent``: the proof of each customer's latest change.
CONSENT_COLUMNS = ["consent_source", "consent_at", "consent_wording", "consent_client_hash"]


def _stamp(value: dt.datetime | None) -> str:
    return value.replace(tzinfo=dt.UTC).isoformat(timespec="seconds") if value else ""


def consent(store: Preferences) -> dict[str, dict[str, str]]:
    """{customer_id: proof of their latest recorded change}."""
    import sqlalchemy as sa

    from milestones.decide.preferences import history

    latest = sa.select(sa.func.max(history.c.id)).group_by(history.c.customer_id)
    query = sa.select(history.c.customer_id, history.c.source, history.c.at, history.c.wording,
                      history.c.client_hash).where(history.c.id.in_(latest))
    with store.engine.connect() as conn:
        return {r.customer_id: {"consent_source": r.source, "consent_at": _stamp(r.at),
                                "consent_wording": r.wording or "", "consent_client_hash": r.client_hash or ""}
                for r in conn.execute(query)}


def rows(store: Preferences, since: dt.date | None = None, with_consent: bool = False) -> list[dict[str, Any]]:
    start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC) if since else None
    proofs = consent(store) if with_consent else {}
    blank = dict.fromkeys(CONSENT_COLUMNS, "") if with_consent else {}
    return [{
        "customer_id": s.customer_id, "email": s.email or "", "unsubscribed": "true" if s.unsubscribed else "false",
        "opted_out_types": " ".join(sorted(s.opted_out)), "paused_until": str(s.paused_until or ""),
        "email_language": s.language or "",
        "updated_at": _stamp(s.updated_at),
        "updated_by": s.updated_by or "", **proofs.get(s.customer_id, blank),
    } for s in store.changed_since(start)]


def export(ledger_url: str, out: Path | str, since: dt.date | None = None,
           with_consent: bool = False) -> dict[str, Any]:
    """Write the export atomically (a reader never sees half a file; in object storage one
    PUT, :mod:`milestones.core.storage`); a one-line summary. ``with_consent`` adds the
    consent proof of each customer's latest change (:data:`CONSENT_COLUMNS`)."""
    out = storage.locate(out)
    found = rows(Preferences(ledger_url), since, with_consent)
    columns = COLUMNS + (CONSENT_COLUMNS if with_consent else [])
    if storage.is_remote(out):
        storage.write_text(csvsafe.write_rows(found, columns), out)
    else:
        storage.replace_from_temp(out, lambda tmp: csvsafe.write_rows(found, columns, tmp))
    return {"out": str(out), "customers": len(found), "since": str(since) if since else None,
            "unsubscribed": sum(r["unsubscribed"] == "true" for r in found)}


def daily_path(data_dir: Path | str, day: dt.date | str) -> Path:
    """Where the DAG writes day ``day``'s export under ``data_dir`` (or the ``data_url`` prefix)."""
    return storage.locate(data_dir) / "exports" / "preferences" / f"preferences_{day}.csv"
