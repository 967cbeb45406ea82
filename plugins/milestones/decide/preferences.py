"""Customers' own choices: the preference store and its append-only history.

One row per customer who ever chose something (``preferences``) and one row per
change (``preference_history``: what changed, old and new value, when, and from
where: ``one_click``, ``page``, ``webhook``, ``crm_import``).  Both live in the
ledger database (SQLite by default, PostgreSQL in deployment).  The history is
append-only: a database trigger refuses UPDATE and DELETE on it.

Changes are applied in one transaction per batch that serialises writers per
customer (``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on
PostgreSQL), so concurrent requests for one customer never lose a change and
record each real change once.  Rules:

* only the customer (``one_click``, ``page``) can undo an unsubscribe; the CRM
  and the webhook can only unsubscribe;
* a change that changes nothing records nothing.

The policy reads :meth:`Preferences.policy_view` (reasons ``unsubscribed``,
``opted_out_of_type``, ``paused``), which wins over ``marketing_opt_in = true``
in a later extract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from milestones.decide.policy import PolicyView

SOURCES = ("one_click", "page", "webhook", "crm_import")
CUSTOMER_SOURCES = ("one_click", "page")
PAUSE_MONTHS = (3, 6, 12)
LANGUAGES = ("en", "fi", "et", "zh")

metadata = sa.MetaData()
preferences = sa.Table(
    "preferences", metadata,
    sa.Column("customer_id", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320)),
    sa.Column("unsubscribed", sa.Boolean, nullable=False, default=False),
    #: Event types the customer does not want, comma-separated, sorted ("" = none).
    sa.Column("opted_out", sa.Text, nullable=False, default=""),
    sa.Column("paused_until", sa.Date),
    sa.Column("language", sa.String(16)),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("updated_by", sa.String(16), nullable=False),
)
history = sa.Table(
    "preference_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("field", sa.String(32), nullable=False),
    sa.Column("old", sa.Text),
    sa.Column("new", sa.Text),
    #: Consent proof (with ``source`` and ``at``): the version of the wording the customer saw...
    sa.Column("wording", sa.String(64)),
    #: ...and, for a page change, a keyed hash of the client's address (never the address).
    sa.Column("client_hash", sa.String(64)),
)
#: The wording of a change that no page showed.
WORDING = {"webhook": "sendgrid-event-webhook", "crm_import": "crm-import", "one_click": "list-unsubscribe"}

#: The one way rows leave the history: an erasure (:mod:`milestones.privacy.erase`) inserts a
#: permit, deletes the erased customers' rows and records a tombstone (when, how many rows,
#: never whose) in ``preference_erasures``, then removes the permit, in one transaction.
#: Without a permit the triggers refuse every UPDATE and DELETE.
erasure_permits = sa.Table(
    "preference_erasure_permits", metadata,
    sa.Column("id", sa.String(36), primary_key=True),
)
erasures = sa.Table(
    "preference_erasures", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
)

_REFUSE = "preference_history is append-only"
SQLITE_TRIGGERS = {
    "preference_history_no_update": "CREATE TRIGGER preference_history_no_update BEFORE UPDATE ON "
    f"preference_history BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END",
    "preference_history_no_delete": "CREATE TRIGGER preference_history_no_delete BEFORE DELETE ON "
    "preference_history WHEN NOT EXISTS (SELECT 1 FROM preference_erasure_permits) "
    f"BEGIN SELECT RAISE(ABORT, '{_REFUSE}'); END",
}
PG_FUNCTION = (
    "CREATE OR REPLACE FUNCTION preference_history_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM preference_erasure_permits) THEN RETURN OLD; "
    f"END IF; RAISE EXCEPTION '{_REFUSE}'; END $$")
for _ddl in SQLITE_TRIGGERS.values():
    sa.event.listen(history, "after_create", sa.DDL(_ddl).execute_if(dialect="sqlite"))
sa.event.listen(history, "after_create", sa.DDL(
    f"{PG_FUNCTION}; CREATE TRIGGER preference_history_append_only BEFORE UPDATE OR DELETE ON preference_history "
    "FOR EACH ROW EXECUTE FUNCTION preference_history_append_only()").execute_if(dialect="postgresql"))


def ensure_erasure_path(conn: sa.Connection) -> None:
    """Give a history made by an earlier version (triggers without the permit) the erasure path."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(PG_FUNCTION)
        return
    found = dict(conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                      "AND tbl_name = 'preference_history'").all())
    if "preference_erasure_permits" not in (found.get("preference_history_no_delete") or ""):
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS preference_history_no_delete")
        conn.exec_driver_sql(SQLITE_TRIGGERS["preference_history_no_delete"])


@dataclass(frozen=True)
class Change:
    """What a request asks to change; ``None`` leaves a field as it is."""

    unsubscribed: bool | None = None
    #: The complete set of event types the customer does not want.
    opted_out: frozenset[str] | None = None
    #: Pause until this day (exclusive); ``dt.date.min`` clears a pause.
    paused_until: dt.date | None = None
    language: str | None = None


@dataclass
class State:
    customer_id: str
    email: str | None = None
    unsubscribed: bool = False
    opted_out: frozenset[str] = frozenset()
    paused_until: dt.date | None = None
    language: str | None = None
    updated_at: dt.datetime | None = None
    updated_by: str | None = None
    exists: bool = False

    def paused(self, day: dt.date) -> bool:
        return self.paused_until is not None and day < self.paused_until


class PreferenceError(ValueError):
    """A change that is not allowed (e.g. the CRM undoing a customer's unsubscribe)."""


def pause_until(today: dt.date, months: int) -> dt.date:
    """The day a pause of ``months`` (3, 6, 12) ends: the same day of month, clamped."""
    if months not in PAUSE_MONTHS:
        raise PreferenceError(f"pause for 3, 6 or 12 months, not {months}")
    month = today.month - 1 + months
    year, month = today.year + month // 12, month % 12 + 1
    for day in (today.day, 30, 29, 28):
        try:
            return dt.date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def make_engine(url: str) -> sa.Engine:
    """An engine whose transactions serialise writers (SQLite: BEGIN IMMEDIATE)."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True, hide_parameters=True)
    # hide_parameters: a failing statement's error text never lists its rows (addresses, ids).
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                              hide_parameters=True)

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA busy_timeout=30000")

    @sa.event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _split(text: str | None) -> frozenset[str]:
    return frozenset(t for t in (text or "").split(",") if t)


def _join(types: Iterable[str]) -> str:
    return ",".join(sorted(types))


def _state(row: Any) -> State:
    return State(customer_id=row.customer_id, email=row.email, unsubscribed=bool(row.unsubscribed),
                 opted_out=_split(row.opted_out), paused_until=row.paused_until, language=row.language,
                 updated_at=row.updated_at, updated_by=row.updated_by, exists=True)


def _text(value: Any) -> str | None:
    if value is None or value == dt.date.min:
        return None
    if isinstance(value, frozenset):
        return _join(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


_VALUES = ("email", "unsubscribed", "opted_out", "paused_until", "language", "updated_at", "updated_by")


class Preferences:
    """The store. Build one per process (it holds an engine)."""

    def __init__(self, url: str, engine: sa.Engine | None = None):
        from milestones.core.schema import add_missing_columns
        from milestones.decide import erased

        self.engine = engine or make_engine(url)
        metadata.create_all(self.engine)
        erased.metadata.create_all(self.engine)
        add_missing_columns(self.engine, history)

    # --- writing ---------------------------------------------------------------------------

    def apply(self, customer_id: str, change: Change, source: str, *, email: str | None = None,
              now: dt.datetime | None = None, proof: dict[str, str] | None = None) -> list[dict[str, Any]]:
        """Apply one change; returns the history rows it recorded (none when nothing changed)."""
        return self.apply_many([(customer_id, change, source, email, proof)], now=now)[0]

    def apply_many(self, requests: list[tuple], *,
                   now: dt.datetime | None = None) -> list[list[dict[str, Any]]]:
        """Apply many changes in one transaction (in order); the history rows of each."""
        with self.engine.begin() as conn:
            return self.apply_in(conn, requests, now=now)

    def apply_in(self, conn: sa.Connection, requests: list[tuple], *,
                 now: dt.datetime | None = None) -> list[list[dict[str, Any]]]:
        """:meth:`apply_many` inside the caller's transaction (e.g. with the webhook events it stores).

        A request is ``(customer_id, change, source, email)`` or with a fifth item, the consent
        proof ``{"wording": version, "client_hash": hash}`` (the public app's pages give one)."""
        from milestones.decide.erased import guard

        requests = [(*r[:4], r[4] if len(r) > 4 and r[4] else {}) for r in requests]
        is_erased = guard(conn)  # an old link of an erased customer: their change is not stored
        for _cid, change, source, _email, _proof in requests:
            if source not in SOURCES:
                raise PreferenceError(f"unknown source {source!r}")
            if change.unsubscribed is False and source not in CUSTOMER_SOURCES:
                raise PreferenceError("only the customer can undo an unsubscribe")
        ids = sorted({r[0] for r in requests})
        current = self._lock(conn, ids)
        now = now or dt.datetime.now(dt.UTC)  # taken under the lock: history times follow commit order
        recorded: list[list[dict[str, Any]]] = []
        touched: dict[str, State] = {}
        for cid, change, source, email, proof in requests:
            if is_erased and is_erased(cid, email):
                recorded.append([])
                continue
            state = current.setdefault(cid, State(cid))
            consent = {"wording": (proof.get("wording") or WORDING.get(source) or "")[:64] or None,
                       "client_hash": proof.get("client_hash")}
            rows = []
            for name in ("unsubscribed", "opted_out", "paused_until", "language"):
                new = getattr(change, name)
                if new is None:
                    continue
                if name == "paused_until" and new == dt.date.min:
                    new = None
                old = getattr(state, name)
                if new != old:
                    setattr(state, name, new)
                    rows.append({"customer_id": cid, "at": now, "source": source, "field": name,
                                 "old": _text(old), "new": _text(new), **consent})
            if rows:
                state.email = (email or state.email or "").lower() or None
                state.updated_at, state.updated_by = now, source
                touched[cid] = state
            recorded.append(rows)
        self._write(conn, touched.values(), now)
        flat = [row for rows in recorded for row in rows]
        if flat:
            conn.execute(history.insert(), flat)
        return recorded

    def _lock(self, conn: sa.Connection, ids: list[str]) -> dict[str, State]:
        found: dict[str, State] = {}
        for i in range(0, len(ids), 500):
            query = sa.select(preferences).where(preferences.c.customer_id.in_(ids[i:i + 500]))
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            found.update((r.customer_id, _state(r)) for r in conn.execute(query))
        if conn.dialect.name == "postgresql":
            # Rows that do not exist yet cannot be locked: a transaction-scoped advisory
            # lock per customer serialises their first writers instead.
            missing = [cid for cid in ids if cid not in found]
            for cid in missing:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:c, 7))"), {"c": cid})
            if missing:
                query = sa.select(preferences).where(preferences.c.customer_id.in_(missing))
                found.update((r.customer_id, _state(r)) for r in conn.execute(query.with_for_update()))
        return found

    @staticmethod
    def _write(conn: sa.Connection, states: Iterable[State], now: dt.datetime) -> None:
        new, old = [], []
        for s in states:
            row = {"customer_id": s.customer_id, "email": s.email, "unsubscribed": s.unsubscribed,
                   "opted_out": _join(s.opted_out), "paused_until": s.paused_until, "language": s.language,
                   "updated_at": s.updated_at, "updated_by": s.updated_by}
            (old if s.exists else new).append(row)
        if new:
            conn.execute(preferences.insert(), new)
        if old:
            conn.execute(preferences.update().where(preferences.c.customer_id == sa.bindparam("cid"))
                         .values({c: sa.bindparam(c) for c in _VALUES}),
                         [{**{c: r[c] for c in _VALUES}, "cid": r["customer_id"]} for r in old])

    # --- reading ---------------------------------------------------------------------------

    def get(self, customer_id: str) -> State:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(preferences).where(preferences.c.customer_id == customer_id)).first()
        return _state(row) if row else State(customer_id)

    def history(self, customer_id: str) -> list[dict[str, Any]]:
        """The customer's changes in the order they were recorded (one request's in its order)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(history).where(history.c.customer_id == customer_id)
                .order_by(history.c.id)).mappings()]

    def policy_view(self, day: dt.date) -> PolicyView:
        """Who is unsubscribed, opted out of which types, or paused on ``day``."""
        from milestones.ingest.identity import inbox

        query = sa.select(preferences.c.customer_id, preferences.c.unsubscribed, preferences.c.opted_out,
                          preferences.c.paused_until, preferences.c.email).where(sa.or_(
                              preferences.c.unsubscribed.is_(True), preferences.c.opted_out != "",
                              preferences.c.paused_until > day))
        unsubscribed, opted_out, paused, boxes = set(), {}, set(), set()
        with self.engine.connect() as conn:
            for cid, unsub, types, until, email in conn.execute(query):
                if unsub:
                    unsubscribed.add(cid)
                    if email:
                        boxes.add(inbox(email))
                if types:
                    opted_out[cid] = _split(types)
                if until is not None and day < until:
                    paused.add(cid)
        return PolicyView(frozenset(unsubscribed), opted_out, frozenset(paused), frozenset(boxes))

    def languages(self) -> dict[str, str]:
        """Customers who chose the language of their emails."""
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(preferences.c.customer_id, preferences.c.language)
                                     .where(preferences.c.language.is_not(None))).all())

    def changed_since(self, since: dt.datetime | None = None) -> list[State]:
        query = sa.select(preferences).order_by(preferences.c.customer_id)
        if since is not None:
            query = query.where(preferences.c.updated_at >= since)
        with self.engine.connect() as conn:
            return [_state(r) for r in conn.execute(query)]
