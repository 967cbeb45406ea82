"""Retention: keep each class of data only as long as it is needed, then delete it.

``milestones retention apply [--dry-run] [--as-of DATE]`` and the daily ``privacy_retention``
DAG delete, per class (settings ``retain_<class>_days``; 0 keeps forever), what is older than
its period counted back from today (or ``--as-of``):

========== ========================================================================
extract    ``snapshots/D/`` (snapshot, quarantine, validation summary), ``received/`` copies
messages   ``messages/D/`` and the outbox's ``.eml`` files (by their time)
decisions  ``events/D/`` and ``decisions/D/`` (``milestones why`` reads them)
webhook    ``webhook_events`` and ``webhook_rejected_events`` rows (by receipt)
runs       ``runs/D.json``, ``approvals/D.json``
docs       Data Docs pages and stored validation results (by validation time)
outcomes   ``outcomes/D/``
exports    ``exports/preferences/preferences_D.csv``
========== ========================================================================

What never goes: the send ledger's rows (their keys keep every email from being sent
twice, whatever files are gone), preferences and their history (the consent proof), the
suppressions, the erasure registry and log. The newest snapshot always stays (the next
run's "previous"), and so does the newest one older than the period (the "previous" of the
oldest day kept, so that re-running it detects the same changes), as does the newest run record.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from milestones.core import storage
from milestones.core.config import Settings
from milestones.privacy.scrub import files_under

CLASSES = ("extract", "messages", "decisions", "webhook", "runs", "docs", "outcomes", "exports")
#: Stage directories of dated subdirectories ``D/`` and their class.
DAY_DIRS = {"snapshots": "extract", "messages": "messages", "events": "decisions", "decisions": "decisions",
            "outcomes": "outcomes"}
DATE = re.compile(r"(\d{4}-\d{2}-\d{2})")
#: GX's run time in Data Docs paths (20261207T033956.952079Z).
GX_TIME = re.compile(r"/(\d{8})T\d{6}")


def cutoffs(settings: Settings, today: dt.date) -> dict[str, dt.date | None]:
    """The first day each class keeps (None: kept forever)."""
    out = {}
    for name in CLASSES:
        days = getattr(settings, f"retain_{name}_days")
        out[name] = today - dt.timedelta(days=days) if days else None
    return out


def _day_of(name: str) -> dt.date | None:
    found = DATE.search(name)
    try:
        return dt.date.fromisoformat(found.group(1)) if found else None
    except ValueError:
        return None


def _class_of(name: str) -> tuple[str | None, dt.date | None]:
    """(class, day) of a stage file by its relative name; (None, None) for what retention leaves."""
    top = name.split("/", 1)[0]
    if top in DAY_DIRS and "/" in name:
        return DAY_DIRS[top], _day_of(name.split("/")[1])
    if top in ("runs", "approvals") and name.endswith(".json"):
        return "runs", _day_of(name)
    if top == "received":
        return "extract", _day_of(name)
    if name.startswith("exports/preferences/"):
        return "exports", _day_of(name.rsplit("/", 1)[-1])
    if top == "docs":
        found = GX_TIME.search("/" + name)
        if found:
            stamp = found.group(1)
            return "docs", dt.date(int(stamp[:4]), int(stamp[4:6]), int(stamp[6:8]))
    return None, None


def _files(settings: Settings) -> list[tuple[str, Any]]:
    seen, out = set(), []
    wheres = [storage.root(settings)] + ([Path(settings.data_dir)] if settings.data_url else [])
    for where in wheres:
        for name, path in files_under(where):
            if str(path) not in seen:
                seen.add(str(path))
                out.append((name, path))
    return out


def plan(settings: Settings, today: dt.date) -> dict[str, list[tuple[str, Any]]]:
    """Files each class would lose: {class: [(name, path)]}."""
    limit = cutoffs(settings, today)
    found: dict[str, list[tuple[str, Any]]] = {c: [] for c in CLASSES}
    snapshot_days = sorted({_day_of(n.split("/")[1]) for n, _ in _files(settings)
                            if n.startswith("snapshots/") and n.endswith("/snapshot.parquet")} - {None})
    # The newest snapshot (the next run's "previous") and the newest one older than the cutoff
    # (the "previous" of the oldest day kept: re-running it detects the same changes).
    keep_snapshots = set(snapshot_days[-1:])
    if limit["extract"] is not None:
        keep_snapshots |= set([d for d in snapshot_days if d < limit["extract"]][-1:])
    run_days = sorted({_day_of(n) for n, _ in _files(settings) if n.startswith("runs/")} - {None})
    newest_run = run_days[-1] if run_days else None
    for name, path in _files(settings):
        kind, day = _class_of(name)
        if kind is None or day is None or limit[kind] is None or day >= limit[kind]:
            continue
        if name.startswith("snapshots/") and day in keep_snapshots:
            continue
        if name.startswith("runs/") and day == newest_run:
            continue
        found[kind].append((name, path))
    outbox = Path(settings.data_dir) / "outbox"
    if limit["messages"] is not None and outbox.is_dir():
        edge = dt.datetime.combine(limit["messages"], dt.time(), tzinfo=dt.UTC).timestamp()
        found["messages"] += [(f"outbox/{p.name}", p) for p in sorted(outbox.glob("*.eml"))
                              if p.stat().st_mtime < edge]
    return found


def _webhook(settings: Settings, before: dt.date | None, *, delete: bool) -> dict[str, int]:
    from milestones.measure.feedback import Feedback, rejected_events, webhook_events

    if before is None:
        return {}
    edge = dt.datetime.combine(before, dt.time(), tzinfo=dt.UTC)
    engine = Feedback(settings.ledger_database_url, soft_failure_limit=0, soft_failure_days=1).engine
    out = {}
    with engine.begin() as conn:
        for table in (webhook_events, rejected_events):
            where = table.c.received_at < edge
            if delete:
                out[table.name] = conn.execute(table.delete().where(where)).rowcount
            else:
                out[table.name] = conn.execute(sa.select(sa.func.count()).select_from(table).where(where)).scalar()
    return {k: v for k, v in out.items() if v}


def apply(settings: Settings, *, today: dt.date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Delete (or with ``dry_run`` only list) what is older than its class keeps; a summary."""
    today = today or dt.datetime.now(dt.UTC).date()
    found = plan(settings, today)
    removed: dict[str, Any] = {}
    for kind, items in found.items():
        if not items:
            continue
        if not dry_run:
            for _name, path in items:
                target = storage.locate(path)
                if target.is_file():
                    target.unlink()
        removed[kind] = {"files": len(items), "names": sorted(name for name, _ in items)}
    rows = _webhook(settings, cutoffs(settings, today)["webhook"], delete=not dry_run)
    if rows:
        removed["webhook"] = {"rows": rows}
    if not dry_run:
        _prune_empty(settings)
    return {"today": str(today), "dry_run": dry_run, "removed": removed,
            "kept_days": {c: getattr(settings, f"retain_{c}_days") or "forever" for c in CLASSES}}


def _prune_empty(settings: Settings) -> None:
    """Remove day directories left empty (local only: object stores have no directories)."""
    for where in {storage.root(settings), Path(settings.data_dir)}:
        base = storage.locate(where)
        if storage.is_remote(base) or not base.is_dir():
            continue
        for path in sorted(base.rglob("*"), key=lambda p: len(p.parts), reverse=True):
            top = path.relative_to(base).parts[0]
            if path.is_dir() and (top in DAY_DIRS or top == "docs") and path != base / top \
                    and not any(path.iterdir()):
                try:
                    path.rmdir()
                except OSError:
                    pass
