"""The send ledger: one row per email, the single source of truth for "was it sent?".

SendGrid has no idempotency key, so exactly-once is ours to enforce.  The
email's key is the primary key; a send is *claimed* by a conditional UPDATE
(``pending -> sending``) that only one worker can win, whatever the database
(SQLite by default, PostgreSQL in production), just before it is handed to the
transport (:meth:`Ledger.step`).  A crash between claim and answer leaves the
row ``sending``: in doubt, like ``unknown``, and never resent automatically;
:meth:`Ledger.mark_stale_unknown` turns such rows into ``unknown`` once no live
worker can still be waiting for their answer (see README, "Resolving unknown
emails").
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from milestones.core.logsafe import mask_secrets

PENDING, SENDING, ACCEPTED, FAILED, UNKNOWN = "pending", "sending", "accepted", "failed", "unknown"
#: Never handed over: the customer's choices changed after rendering (cancelled), or it was
#: too late (expired: more than the event's max_age_days after its day). Final, with the reason.
CANCELLED, EXPIRED = "cancelled", "expired"
STATES = (PENDING, SENDING, ACCEPTED, FAILED, UNKNOWN, CANCELLED, EXPIRED)

metadata = sa.MetaData()
emails = sa.Table(
    "emails",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), nullable=False, index=True),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("event_date", sa.String(10), nullable=False),
    sa.Column("template_version", sa.String(64), nullable=False, default=""),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("transport", sa.String(32), nullable=False, default=""),
    sa.Column("message_id", sa.String(255)),
    sa.Column("send_at", sa.DateTime(timezone=True)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.Text),
    # What the SendGrid event webhook reported back for this email (first time seen).
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("opened_at", sa.DateTime(timezone=True)),
    sa.Column("clicked_at", sa.DateTime(timezone=True)),
    sa.CheckConstraint(f"state IN {STATES!r}".replace(",)", ")"), name="emails_state_valid"),
)

#: The customers one email was for beyond its own (a couple greeted in one email: both are
#: linked to it and count as contacted).
recipients = sa.Table(
    "email_recipients",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.String(64), primary_key=True, index=True),
)


# The send loop's statements (register, claim, outcome), in plain SQL that SQLite and
# PostgreSQL both take, run on the driver's own cursor, one statement for up to CHUNK rows:
# SQLAlchemy Core per row cost about 140 µs of CPU per email here (README, "Speed."), and
# executemany runs (and lets go of the GIL) once per row.
CHUNK = 500
_REGISTER = ("INSERT INTO emails (key, customer_id, event_type, event_date, template_version, state,"
             " attempts, transport, created_at, updated_at) VALUES {rows} ON CONFLICT (key) DO NOTHING")
_REGISTER_ROW = "(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)"
# An outcome without a transport keeps the one the email was registered with, as finish() does.
# VALUES' columns are column1... in SQLite and PostgreSQL alike.
_FINISH = ("UPDATE emails SET state = v.column1, message_id = v.column2, last_error = v.column3,"
           " transport = COALESCE(v.column4, emails.transport), updated_at = ?"
           " FROM (VALUES {rows}) AS v WHERE emails.key = v.column5")
_FINISH_ROW = "(?, ?, ?, ?, ?)"
# {state} is the state column, written so that the database finds the rows by key: SQLite's
# planner otherwise picks the index on state and reads every pending row for each claim (a
# claim of 40 keys cost 34 µs of CPU per email with 20,000 rows pending, growing with them).
# ``+state`` is SQLite's way to say "not through an index"; PostgreSQL's planner needs no hint.
_CLAIM = ("UPDATE emails SET state = 'sending', attempts = attempts + 1, updated_at = ?"
          " WHERE key IN ({keys}) AND {state} = 'pending' RETURNING key")
_HELD = "SELECT key, state FROM emails WHERE key IN ({})"
# Close (cancelled/expired) what nobody took: found by key, as a claim ({state}: see _CLAIM).
_CLOSE = ("UPDATE emails SET state = v.column1, last_error = v.column2, updated_at = ?"
          " FROM (VALUES {rows}) AS v WHERE emails.key = v.column3 AND {state} = 'pending' RETURNING key")
_CLOSE_ROW = "(?, ?, ?)"
#: PostgreSQL's "deadlock detected": two workers' steps locked the same rows in opposite order
#: (one recording an outcome for a row the other is claiming). The step is rolled back as a
#: whole (nothing of it was handed over yet) and taken again.
_DEADLOCK = "40P01"
_STEP_TRIES = 5


@dataclass
class Step:
    """What one :meth:`Ledger.step` did: rows new to the ledger, keys closed, keys won, and the
    state held by each key asked for and not won."""

    new: int = 0
    closed: dict[str, str] = field(default_factory=dict)
    won: set[str] = field(default_factory=set)
    held: dict[str, str] = field(default_factory=dict)


def _rows(row: str, count: int) -> str:
    """``row`` ``count`` times, comma-separated: the VALUES rows or ``IN (...)`` marks of a statement."""
    return ", ".join([row] * count)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: How long a SQLite ledger waits for another process's lock before giving up.
LOCK_WAIT_SECONDS = 30.0

#: Databases whose state check (:func:`~milestones.deliver.ledger_upgrade.widen_state_check`)
#: this process made current: a ledger is opened by every task, CLI command and page, and the
#: check (a transaction; on PostgreSQL a round trip) need not run again. A SQLite file is known
#: by its inode too, so a file deleted and made again (an older release's, a restore) is
#: checked again. Tables are still created at each open (a dropped table comes back).
_CURRENT: set[tuple[str, int]] = set()
_CURRENT_LOCK = threading.Lock()


def _identity(url: str) -> tuple[str, int] | None:
    """The database behind ``url`` (None for an in-memory SQLite database: new at each open)."""
    if url.startswith("sqlite"):
        path = url.partition(":///")[2].partition("?")[0]
        if not path or path == ":memory:" or "mode=memory" in url:
            return None
        return url, os.stat(path).st_ino  # made by create_all before this is asked
    return url, 0


def forget_checked() -> None:
    """Check every database again at its next open (after a schema was changed under a running process)."""
    with _CURRENT_LOCK:
        _CURRENT.clear()


class Ledger:
    """Thin, explicit access to the ``emails`` table."""

    def __init__(self, url: str):
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        # hide_parameters: a failing statement's error text never lists its rows (addresses, ids).
        kwargs: dict[str, Any] = {"future": True, "hide_parameters": True}
        if url.startswith("sqlite"):
            # Several processes may share the file: wait for the lock instead of failing.
            kwargs["connect_args"] = {"timeout": LOCK_WAIT_SECONDS}
        self.engine = sa.create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            @sa.event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn, _record):  # pragma: no cover - trivial
                dbapi_conn.execute("PRAGMA journal_mode=WAL")
                dbapi_conn.execute(f"PRAGMA busy_timeout={int(LOCK_WAIT_SECONDS * 1000)}")
        metadata.create_all(self.engine)
        identity = _identity(url)
        if identity is None or identity not in _CURRENT:  # once per process and database
            from milestones.deliver.ledger_upgrade import widen_state_check

            widen_state_check(self.engine, STATES)  # a ledger from before cancelled/expired
            if identity is not None:
                with _CURRENT_LOCK:
                    _CURRENT.add(identity)
        dialect = self.engine.dialect
        # A timestamp as SQLAlchemy would write it (SQLite: text; PostgreSQL: the datetime itself).
        self._stamp = emails.c.updated_at.type.dialect_impl(dialect).bind_processor(dialect) or (lambda v: v)
        self._sql = (lambda sql: sql) if dialect.paramstyle == "qmark" else (lambda sql: sql.replace("?", "%s"))
        self._state_column = "+state" if dialect.name == "sqlite" else "state"

    def register(self, rows: Iterable[dict[str, Any]]) -> int:
        """Insert emails as ``pending`` unless their key is already known. Returns how many were new.

        ``INSERT ... ON CONFLICT (key) DO NOTHING``: a key registered meanwhile by a racing
        worker (or twice in ``rows``) is left as it is, the rest of the batch goes in."""
        return self.step(register=rows).new

    def claim(self, key: str) -> bool:
        """Move ``key`` from pending to sending. True only for the one caller that wins."""
        return key in self.claim_many([key])

    def claim_many(self, keys: list[str]) -> set[str]:
        """Claim keys in one transaction; returns the keys this caller won."""
        return self.step(claim=keys).won

    def finish_many(self, outcomes: list[dict[str, Any]]) -> None:
        """Record many outcomes in one transaction: dicts with key, state, message_id, error, transport."""
        self.step(outcomes=outcomes)

    def close(self, verdicts: dict[str, tuple[str, str]]) -> dict[str, str]:
        """``{key: (cancelled|expired, reason)}``: close those keys that are still ``pending`` (never
        claimed, never handed over); returns {key: state} of those closed. A key sent, failed or in doubt
        meanwhile keeps its state: only an email nobody took can be stopped."""
        return self.step(close=verdicts).closed

    def step(self, *, register: Iterable[dict[str, Any]] = (), close: dict[str, tuple[str, str]] | None = None,
             outcomes: Iterable[dict[str, Any]] = (), claim: Iterable[str] = ()) -> Step:
        """One step of the send loop in one transaction (one commit, one fsync): register new
        emails (as :meth:`register`), close what may no longer go (as :meth:`close`), record
        outcomes (as :meth:`finish_many`), then claim ``claim`` but the keys just closed.

        Nothing is handed over before this commit returns, so a step that fails (a PostgreSQL
        deadlock between two workers' steps is taken again) leaves nothing to doubt."""
        verdicts = close or {}
        if any(state not in (CANCELLED, EXPIRED) for state, _ in verdicts.values()):
            raise ValueError("close to cancelled or expired")
        rows, outcomes, claim = list(register), list(outcomes), list(claim)
        if not (rows or verdicts or outcomes or claim):
            return Step()
        for attempt in range(_STEP_TRIES):
            try:
                with self.engine.begin() as conn, contextlib.closing(conn.connection.cursor()) as cursor:
                    return self._step(conn, cursor, rows, verdicts, outcomes, claim)
            except sa.exc.OperationalError as exc:
                if getattr(exc.orig, "sqlstate", None) != _DEADLOCK or attempt == _STEP_TRIES - 1:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _step(self, conn, cursor, rows, verdicts, outcomes, claim) -> Step:
        done = Step()
        now = self._stamp(_now())
        # Register first: the transaction's first statement writes, so SQLite takes its write
        # lock at once (a read first could later find the lock taken and fail without waiting).
        params = sorted((r["key"], r["customer_id"], r["event_type"], r["event_date"], r.get("template_version", ""),
                         r.get("transport", ""), now, now) for r in rows)
        for i in range(0, len(params), CHUNK):
            chunk = params[i:i + CHUNK]
            cursor.execute(self._sql(_REGISTER.format(rows=_rows(_REGISTER_ROW, len(chunk)))),
                           [value for row in chunk for value in row])
            done.new += cursor.rowcount
        links = [{"key": r["key"], "customer_id": r["partner_id"]} for r in rows if r.get("partner_id")]
        if links:
            known = set(conn.execute(sa.select(recipients.c.key, recipients.c.customer_id)
                                     .where(recipients.c.key.in_([r["key"] for r in links]))).all())
            fresh = [r for r in links if (r["key"], r["customer_id"]) not in known]
            if fresh:
                conn.execute(recipients.insert(), fresh)
        closing = [(state, reason[:2000], key) for key, (state, reason) in sorted(verdicts.items())]
        for i in range(0, len(closing), CHUNK):
            chunk = closing[i:i + CHUNK]
            cursor.execute(self._sql(_CLOSE.format(rows=_rows(_CLOSE_ROW, len(chunk)), state=self._state_column)),
                           [now, *(value for row in chunk for value in row)])
            done.closed.update((key, verdicts[key][0]) for (key,) in cursor.fetchall())
        finished = sorted(((o["state"], o.get("message_id"), mask_secrets(o.get("error")), o.get("transport"),
                            o["key"]) for o in outcomes), key=lambda row: row[-1])  # by key, as the claims below
        for i in range(0, len(finished), CHUNK):
            chunk = finished[i:i + CHUNK]
            cursor.execute(self._sql(_FINISH.format(rows=_rows(_FINISH_ROW, len(chunk)))),
                           [now, *(value for row in chunk for value in row)])
        keys = sorted(k for k in claim if k not in done.closed)  # one lock order for every worker
        for i in range(0, len(keys), CHUNK):
            chunk = keys[i:i + CHUNK]
            cursor.execute(self._sql(_CLAIM.format(keys=_rows("?", len(chunk)), state=self._state_column)),
                           (now, *chunk))
            done.won.update(k for (k,) in cursor.fetchall())
            lost = [k for k in chunk if k not in done.won]
            if lost:
                cursor.execute(self._sql(_HELD.format(_rows("?", len(lost)))), lost)
                done.held.update(cursor.fetchall())
                done.held.update((k, PENDING) for k in lost if k not in done.held)
        return done

    def settle(self, states: dict[str, str], *, transport: str) -> int:
        """Settle rows left ``sending`` from what the transport knows it did (``accepted`` or ``pending``)."""
        if any(state not in (ACCEPTED, PENDING) for state in states.values()):
            raise ValueError("settle to accepted or pending")
        now = _now()
        note = {ACCEPTED: f"recovered: the {transport} transport holds this email",
                PENDING: f"recovered: the {transport} transport never took this email; owed again"}
        with self.engine.begin() as conn:
            res = conn.execute(
                emails.update().where(emails.c.key == sa.bindparam("k"), emails.c.state == SENDING)
                .values(state=sa.bindparam("s"), last_error=sa.bindparam("e"), updated_at=now),
                [{"k": k, "s": s, "e": note[s]} for k, s in states.items()],
            )
        return res.rowcount

    def in_doubt(self, limit: int = 100) -> dict[str, Any]:
        """Rows that may or may not have been sent: ``sending`` (claimed, no answer recorded yet:
        in flight, or its worker died) and ``unknown``. Counts and up to ``limit`` keys of each."""
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for state in (SENDING, UNKNOWN):
                where = emails.c.state == state
                total = conn.execute(sa.select(sa.func.count()).where(where)).scalar_one()
                keys = conn.execute(sa.select(emails.c.key).where(where).order_by(emails.c.updated_at,
                                                                                   emails.c.key)
                                    .limit(limit)).scalars().all()
                out[state] = {"total": total, "keys": list(keys)}
        return out

    def finish(self, key: str, state: str, *, message_id: str | None = None,
               error: str | None = None, transport: str | None = None) -> None:
        """Record the outcome of a claimed send. ``pending`` puts it back for a retry."""
        if state not in STATES:
            raise ValueError(f"unknown state {state!r}")
        values: dict[str, Any] = {"state": state, "updated_at": _now(), "last_error": mask_secrets(error)}
        if message_id is not None:
            values["message_id"] = message_id
        if transport is not None:
            values["transport"] = transport
        with self.engine.begin() as conn:
            conn.execute(emails.update().where(emails.c.key == key).values(**values))

    def get(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(emails).where(emails.c.key == key)).mappings().first()
        return dict(row) if row else None

    def states(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        query = sa.select(emails.c.key, emails.c.state)
        with self.engine.connect() as conn:
            if keys is None:
                return dict(conn.execute(query).all())
            keys = list(keys)
            out: dict[str, str] = {}
            for i in range(0, len(keys), 500):
                out.update(conn.execute(query.where(emails.c.key.in_(keys[i:i + 500]))).all())
            return out

    def contacted_since(self, day: str) -> list[tuple[str, str]]:
        """(customer_id, key) of emails sent, or possibly sent, for events on or after ``day``
        (a couple's partner, linked in ``email_recipients``, too)."""
        where = (emails.c.event_date >= day, emails.c.state.in_((ACCEPTED, SENDING, UNKNOWN)))
        with self.engine.connect() as conn:
            own = conn.execute(sa.select(emails.c.customer_id, emails.c.key).where(*where)).all()
            linked = conn.execute(sa.select(recipients.c.customer_id, recipients.c.key)
                                  .join(emails, emails.c.key == recipients.c.key).where(*where)).all()
            return [*own, *linked]

    def recipients_of(self, key: str) -> list[str]:
        """Every customer one email was for: its own, then any linked (a couple's partner)."""
        with self.engine.connect() as conn:
            own = conn.execute(sa.select(emails.c.customer_id).where(emails.c.key == key)).scalars().all()
            linked = conn.execute(sa.select(recipients.c.customer_id).where(recipients.c.key == key)
                                  .order_by(recipients.c.customer_id)).scalars().all()
        return [*own, *linked]

    def counts(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(emails.c.state, sa.func.count()).group_by(emails.c.state)).all()
        return {state: n for state, n in rows}

    def mark_stale_unknown(self, older_than: dt.timedelta = dt.timedelta(minutes=15)) -> int:
        """Rows stuck in ``sending`` (a worker died mid-send) become ``unknown``."""
        with self.engine.begin() as conn:
            res = conn.execute(
                emails.update()
                .where(emails.c.state == SENDING, emails.c.updated_at < _now() - older_than)
                .values(state=UNKNOWN, last_error="worker stopped between claim and answer",
                        updated_at=_now())
            )
        return res.rowcount

    def resolve(self, key: str, state: str, note: str) -> bool:
        """Operator decision for an ``unknown`` email: ``accepted`` (it went out) or ``pending`` (resend)."""
        if state not in (ACCEPTED, PENDING, FAILED):
            raise ValueError("resolve to accepted, pending or failed")
        with self.engine.begin() as conn:
            res = conn.execute(
                emails.update().where(emails.c.key == key, emails.c.state == UNKNOWN)
                .values(state=state, last_error=f"resolved by operator: {note}", updated_at=_now())
            )
        return res.rowcount == 1
