"""Subject access (GDPR art. 15): everything held about one customer, as one JSON file.

``milestones subject-export --customer ID --out FILE.json``: the extract rows by day
(valid and quarantined), the events detected, the decisions taken (with their reasons),
the emails rendered and their fates in the ledger (states and times), the preferences
with their whole history (with consent proof), webhook events (as SendGrid sent them),
outcomes, and suppressions of their addresses. Written atomically (a local temporary
file renamed, or one PUT in object storage).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from milestones.core import storage
from milestones.core.config import Settings

#: (section, stage directory, file name, columns left out: the rendered bodies are summarised).
DAY_FILES = (
    ("extract_rows", "snapshots", "snapshot.parquet", ()),
    ("quarantined_rows", "snapshots", "quarantine.parquet", ()),
    ("events", "events", "events.parquet", ()),
    ("decisions", "decisions", "decisions.parquet", ()),
    ("emails_rendered", "messages", "messages.parquet", ("html",)),
    ("outcomes", "outcomes", "outcomes.parquet", ()),
)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _rows(settings: Settings, stage: str, name: str, customer_id: str, leave_out) -> dict[str, list]:
    out: dict[str, list] = {}
    for path in storage.day_files(storage.root(settings), stage, name):
        rows = storage.parquet_records(path, "customer_id", customer_id) if _has(path) else []
        if rows:
            out[path.parent.name] = [{k: v for k, v in r.items() if k not in leave_out} for r in rows]
    return out


def _has(path) -> bool:
    import pyarrow.parquet as pq

    with storage.locate(path).open("rb") as fh:
        return "customer_id" in pq.ParquetFile(fh).schema_arrow.names


def collect(settings: Settings, customer_id: str) -> dict[str, Any]:
    from milestones.decide.preferences import Preferences, history
    from milestones.deliver.ledger import emails
    from milestones.measure.feedback import Feedback, suppressions

    data: dict[str, Any] = {"customer_id": customer_id,
                            "exported_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    for section, stage, name, leave_out in DAY_FILES:
        data[section] = _rows(settings, stage, name, customer_id, leave_out)
    feedback = Feedback(settings.ledger_database_url, soft_failure_limit=0, soft_failure_days=1)
    with feedback.engine.connect() as conn:
        data["emails"] = [dict(r) for r in conn.execute(
            sa.select(emails).where(emails.c.customer_id == customer_id).order_by(emails.c.created_at)).mappings()]
        data["preference_history"] = [dict(r) for r in conn.execute(
            sa.select(history).where(history.c.customer_id == customer_id).order_by(history.c.id)).mappings()]
    state = Preferences(settings.ledger_database_url, engine=feedback.engine).get(customer_id)
    data["preferences"] = ({"email": state.email, "unsubscribed": state.unsubscribed,
                            "opted_out": sorted(state.opted_out), "paused_until": state.paused_until,
                            "language": state.language, "updated_at": state.updated_at,
                            "updated_by": state.updated_by} if state.exists else None)
    data["webhook_events"] = [{**{k: v for k, v in e.items() if k != "payload"}, "payload": json.loads(e["payload"])}
                              for e in feedback.events_for(customer_id=customer_id)]
    addresses = {r.get("email", "").lower() for rows in data["extract_rows"].values() for r in rows if r.get("email")}
    addresses |= {e["email"] for e in data["webhook_events"] if e.get("email")}
    if state.email:
        addresses.add(state.email)
    with feedback.engine.connect() as conn:
        data["suppressions"] = [dict(r) for r in conn.execute(
            sa.select(suppressions).where(suppressions.c.email.in_(sorted(addresses) or [""]))).mappings()]
    data["addresses"] = sorted(addresses)
    return _plain(data)


def export(settings: Settings, customer_id: str, out: Path | str) -> dict[str, Any]:
    """Write :func:`collect` to ``out``; a summary of what was found (counts, no values)."""
    data = collect(settings, customer_id)
    storage.write_text(json.dumps(data, indent=2, sort_keys=True, default=str, ensure_ascii=False), out)
    counts = {k: (sum(len(v) for v in data[k].values()) if isinstance(data[k], dict) else len(data[k]))
              for k in ("extract_rows", "quarantined_rows", "events", "decisions", "emails_rendered", "outcomes",
                        "emails", "preference_history", "webhook_events", "suppressions")}
    return {"out": str(out), "customer_id": customer_id, **counts, "preferences": data["preferences"] is not None}
