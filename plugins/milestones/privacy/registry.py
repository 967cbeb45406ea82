"""What erasure keeps, in the ledger's database: keyed hashes and the erasure log.

* ``erased_subjects``: one row per keyed hash (:func:`milestones.core.pseudonym.keyed_hash`)
  of an erased customer's id or address, with the day it was erased. The policy skips any
  customer matching one (reason ``erased``) for as long as the CRM keeps sending them.
* ``erasure_log``: every erasure run: when, who ran it, how many customers, what it changed
  (counts per place). Never whom it was about.
* ``erasure_journal``: an erasure in progress (its identifiers), so a re-run after a crash
  completes it; the row is deleted when the erasure is done.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import sqlalchemy as sa

from milestones.decide.erased import erased_hashes, erased_subjects
from milestones.decide.erased import metadata as erased_metadata

__all__ = ["erased_hashes", "erased_subjects", "erasure_journal", "erasure_log"]

metadata = sa.MetaData()
erasure_log = sa.Table(
    "erasure_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("customers", sa.Integer, nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    #: JSON: rows / files changed per place.
    sa.Column("changed", sa.Text, nullable=False),
)
erasure_journal = sa.Table(
    "erasure_journal", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("operator", sa.String(100), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    #: JSON: the identifiers being erased (removed with the row when the erasure completes).
    sa.Column("subjects", sa.Text, nullable=False),
)


def engine_for(url: str) -> sa.Engine:
    from milestones.decide.preferences import make_engine

    engine = make_engine(url)
    if engine.dialect.name == "sqlite":
        @sa.event.listens_for(engine, "connect")
        def _secure(dbapi_conn, _record):  # deleted rows (the journal's identifiers) are overwritten
            dbapi_conn.execute("PRAGMA secure_delete = ON")
    metadata.create_all(engine)
    erased_metadata.create_all(engine)
    return engine


def remember(conn: sa.Connection, hashes: set[str], now: dt.datetime) -> int:
    known = set(conn.execute(sa.select(erased_subjects.c.hash)
                             .where(erased_subjects.c.hash.in_(sorted(hashes)))).scalars()) if hashes else set()
    new = [{"hash": h, "erased_at": now} for h in sorted(hashes - known)]
    if new:
        conn.execute(erased_subjects.insert(), new)
    return len(new)


def log(engine: sa.Engine, *, operator: str, customers: int, source: str, changed: dict[str, Any],
        now: dt.datetime) -> dict[str, Any]:
    row = {"at": now, "operator": operator, "customers": customers, "source": source,
           "changed": json.dumps(changed, sort_keys=True)}
    with engine.begin() as conn:
        conn.execute(erasure_log.insert(), [row])
    return row


def history(engine: sa.Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [{**dict(r), "changed": json.loads(r["changed"])}
                for r in conn.execute(sa.select(erasure_log).order_by(erasure_log.c.id)).mappings()]
