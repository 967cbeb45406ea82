"""The feedback loop: SendGrid Event Webhook events, suppressions, and what they settle.

Events are verified (ECDSA P-256 over timestamp + raw body, as SendGrid signs
them), de-duplicated (``sg_event_id``, else a hash of the event's content),
stored, and acted on before the next send:

* unsubscribe, group_unsubscribe, a hard bounce, dropped, spamreport -> the address is
  suppressed at once (policy skips it, reason ``suppressed``); a ``blocked`` bounce or a
  ``deferred`` only after repeated soft failures (:mod:`milestones.measure.lifecycle`);
* processed, delivered, open, click with a ``key`` custom arg -> an email the
  ledger holds as ``unknown`` is settled ``accepted`` (it did go out), and the
  email's ledger row records when it was delivered, first opened, first clicked.

Tables live in the ledger's database (``settings.ledger_database_url``).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import math
from collections import Counter
from typing import Any

import sqlalchemy as sa

from milestones.deliver.ledger import ACCEPTED, UNKNOWN, Ledger, emails
from milestones.measure import lifecycle

CONFIRMING = {"processed", "delivered", "open", "click"}
#: Webhook events recorded on the email's ledger row.
TRACKED = {"delivered": "delivered_at", "open": "opened_at", "click": "clicked_at"}
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"

metadata = sa.MetaData()
webhook_events = sa.Table(
    "webhook_events", metadata,
    sa.Column("dedupe_key", sa.String(64), primary_key=True),
    sa.Column("event", sa.String(32), nullable=False, index=True),
    sa.Column("email", sa.String(320)),
    sa.Column("key", sa.String(64), index=True),
    sa.Column("customer_id", sa.String(64), index=True),
    sa.Column("event_type", sa.String(64)),
    sa.Column("occurred_at", sa.DateTime(timezone=True)),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)
rejected_events = sa.Table(
    "webhook_rejected_events", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("reason", sa.String(200), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
)
suppressions = sa.Table(
    "suppressions", metadata,
    sa.Column("email", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    #: The webhook event (its dedupe_key) that caused it.
    sa.Column("event_id", sa.String(64)),
)


class BadSignature(Exception):
    """The request is not SendGrid's (or is too old to trust)."""


def verify_signature(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes,
                     *, now: float | None = None, replay_window: float = 300.0) -> None:
    """Raise :class:`BadSignature` unless ``signature`` signs ``timestamp + body`` recently."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    if not signature_b64 or not timestamp:
        raise BadSignature("missing signature or timestamp header")
    try:
        sent = float(timestamp)
    except ValueError:
        raise BadSignature("timestamp is not a number") from None
    if not math.isfinite(sent):  # NaN and inf compare false with everything: no replay window
        raise BadSignature("timestamp is not a number")
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    if abs(now - sent) > replay_window:
        raise BadSignature(f"timestamp outside the {replay_window:.0f} s replay window")
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64))
        key.verify(base64.b64decode(signature_b64), timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, TypeError) as exc:
        raise BadSignature(f"signature does not verify ({type(exc).__name__})") from None


def parse_delivery(public_key_b64: str, signature_b64: str, timestamp: str, body: bytes, *,
                   replay_window: float = 300.0) -> tuple[int, Any]:
    """One webhook request: ``(200, events)`` for a signed JSON list, else ``(403 or 400, {"error": ...})``."""
    try:
        verify_signature(public_key_b64, signature_b64, timestamp, body, replay_window=replay_window)
    except BadSignature as exc:
        return 403, {"error": str(exc)}
    try:
        events = json.loads(body, parse_int=_parse_int)
    except (ValueError, RecursionError):
        return 400, {"error": "malformed JSON"}
    if not isinstance(events, list):
        return 400, {"error": "expected a JSON list of events"}
    return 200, events


#: Longest integer (digits) an event may carry; longer ones reject that event alone.
MAX_DIGITS = 40


class HugeNumber:
    """An integer of more than :data:`MAX_DIGITS` digits in a delivery: its event is rejected,
    not the batch (Python refuses to parse 4,300 digits and more, which failed the whole body)."""

    def __init__(self, digits: str):
        self.size = len(digits)

    def __str__(self) -> str:
        return f"<an integer of {self.size} digits>"


def _parse_int(text: str) -> int | HugeNumber:
    return int(text) if len(text) <= MAX_DIGITS else HugeNumber(text)


def _dedupe_key(event: dict[str, Any]) -> str:
    if event.get("sg_event_id") is not None:
        # Compared whole: ids up to 60 characters as they are, longer ones by their hash.
        given = str(event["sg_event_id"])
        return "sg:" + given if len(given) <= 60 else "sg#" + hashlib.sha256(given.encode()).hexdigest()[:60]
    # Events without an id: the same event, email, time and key is the same report.
    raw = json.dumps([event.get("event"), event.get("email"), event.get("timestamp"), event.get("key"),
                      event.get("sg_message_id")], sort_keys=True)
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:60]


#: Text fields of an event and their longest accepted length.
TEXT_FIELDS = {"event": 32, "email": 320, "key": 64, "customer_id": 64, "event_type": 64,
               "sg_event_id": 100, "sg_message_id": 255}
#: Accepted timestamps: 2000-01-01 up to 2100-01-01 (seconds since the epoch).
TIMESTAMP_RANGE = (946_684_800, 4_102_444_800)


class Rejected(ValueError):
    """One event that cannot be stored as it is (recorded as rejected; the rest of the batch goes on)."""


def event_row(event: Any, now: dt.datetime) -> dict[str, Any]:
    """The ``webhook_events`` row of one event, or :class:`Rejected` naming the field (never its value)."""
    if not isinstance(event, dict):
        raise Rejected("not a JSON object")
    try:
        payload = json.dumps(event, sort_keys=True)  # ASCII: surrogates and NUL stored as escapes
    except (TypeError, ValueError):
        raise Rejected(f"an integer of more than {MAX_DIGITS} digits") from None
    for name, longest in TEXT_FIELDS.items():
        value = event.get(name)
        if value is None and name != "event":
            continue
        if name == "sg_event_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value or len(value) > longest:
            raise Rejected(f"{name}: not a string of 1-{longest} characters")
        if "\x00" in value:  # PostgreSQL refuses NUL in text
            raise Rejected(f"{name}: contains a NUL character")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:  # a lone surrogate (valid JSON, not text any database stores)
                raise Rejected(f"{name}: not valid Unicode (a lone surrogate)") from None
    stamp = event.get("timestamp")
    occurred = None
    if stamp is not None:
        if isinstance(stamp, str) and stamp.strip().isdigit() and len(stamp.strip()) <= 12:
            stamp = int(stamp)
        if (isinstance(stamp, bool) or not isinstance(stamp, (int, float)) or not math.isfinite(stamp)
                or not TIMESTAMP_RANGE[0] <= stamp < TIMESTAMP_RANGE[1]):
            raise Rejected("timestamp: not seconds since the epoch between 2000 and 2100")
        occurred = dt.datetime.fromtimestamp(int(stamp), dt.UTC)
    return {
        "dedupe_key": _dedupe_key(event), "event": event["event"],
        "email": (event.get("email") or "").lower() or None,
        "key": event.get("key"), "customer_id": event.get("customer_id"), "event_type": event.get("event_type"),
        "occurred_at": occurred, "received_at": now, "payload": payload,
    }


def _insert(conn: sa.Connection, table: sa.Table):
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


#: What a database raises when it refuses a value (not a lock or a lost connection: those fail the
#: request, and SendGrid's retry brings the batch again).
_REFUSED = (sa.exc.StatementError, ValueError)


def _busy(exc: BaseException) -> bool:
    return isinstance(exc, sa.exc.OperationalError | sa.exc.InterfaceError | sa.exc.InternalError)


def _reject(event: Any, n: int, reason: str, now: dt.datetime | None = None, *, erased=None) -> dict[str, Any]:
    """The ``webhook_rejected_events`` row of the ``n``-th event of a chunk (0-based); without its
    payload when it is about a customer erased since (``erased``: :func:`decide.erased.guard`'s check)."""
    from milestones.decide.erased import stripped_payload

    try:
        late = erased and isinstance(event, dict) and erased(
            *(v if isinstance(v, str) else None for v in (event.get("customer_id"), event.get("email"))))
    except ValueError:  # a lone surrogate cannot be hashed: whether erased is unknown, keep nothing of it
        late = True
    return {"received_at": now or dt.datetime.now(dt.UTC), "reason": f"event {n + 1} of its chunk: {reason}"[:200],
            "payload": stripped_payload(None) if late else json.dumps(event, sort_keys=True, default=str)[:4000]}


class Feedback:
    """Stores webhook events and acts on them; one per process (it holds engines)."""

    #: Events stored per transaction: a large delivery never holds the write lock for long.
    CHUNK = 200

    def __init__(self, url: str, *, asm_group_id: int = 0, soft_failure_limit: int | None = None,
                 soft_failure_days: int | None = None):
        from milestones.core.schema import add_missing_columns
        from milestones.decide.preferences import Preferences, make_engine

        self.ledger = Ledger(url)
        # Writers serialise (SQLite: BEGIN IMMEDIATE): requests racing on one database wait, never fail.
        self.engine = make_engine(url)
        metadata.create_all(self.engine)
        lifecycle.log_metadata.create_all(self.engine)
        add_missing_columns(self.engine, suppressions)
        self.preferences = Preferences(url, engine=self.engine)
        self.asm_group_id = asm_group_id
        if soft_failure_limit is None or soft_failure_days is None:
            from milestones.core.config import load_settings

            settings = load_settings()
            soft_failure_limit = settings.soft_failure_limit if soft_failure_limit is None else soft_failure_limit
            soft_failure_days = settings.soft_failure_days if soft_failure_days is None else soft_failure_days
        self.soft_failure_limit, self.soft_failure_days = soft_failure_limit, soft_failure_days

    def ingest(self, events: list[Any]) -> Counter:
        """Store new events, suppress addresses, record unsubscribes as the customer's choice,
        settle unknown emails. A malformed event is recorded as rejected; the rest are kept."""
        counts: Counter = Counter()
        for i in range(0, len(events), self.CHUNK):
            counts.update(self.ingest_chunk(events[i:i + self.CHUNK]))
        return +counts  # without zero counts

    def _unsubscribes(self, row: dict[str, Any], event: dict[str, Any]) -> bool:
        """A customer's own unsubscribe (global, or from our ASM group), with the customer known."""
        if not row["customer_id"] or row["event"] not in ("unsubscribe", "group_unsubscribe"):
            return False
        if row["event"] == "group_unsubscribe":
            return bool(self.asm_group_id) and str(event.get("asm_group_id", self.asm_group_id)) == str(
                self.asm_group_id)
        return True

    def ingest_chunk(self, events: list[Any]) -> Counter:
        """Store one chunk of events in its own transaction."""
        with self.engine.begin() as conn:
            return self.ingest_in(conn, events)

    def ingest_in(self, conn: sa.Connection, events: list[Any]) -> Counter:
        """:meth:`ingest_chunk` inside the caller's transaction (e.g. with customers' changes).

        Should the database refuse the chunk for one event's sake (a value no check here
        foresaw), each event is stored in a savepoint of its own and the refused ones are
        recorded as rejected: one poison event never fails its batch."""
        from milestones.decide.erased import guard

        try:
            with conn.begin_nested():
                return self._ingest(conn, events, 0)
        except _REFUSED as exc:
            if _busy(exc):
                raise
        counts: Counter = Counter()
        is_erased = guard(conn)
        for n, event in enumerate(events):
            try:
                with conn.begin_nested():
                    counts.update(self._ingest(conn, [event], n))
            except _REFUSED as exc:
                if _busy(exc):
                    raise
                reason = f"the database refused it ({type(getattr(exc, 'orig', exc)).__name__})"
                conn.execute(rejected_events.insert(), [_reject(event, n, reason, erased=is_erased)])
                counts["rejected"] += 1
        return counts

    def _ingest(self, conn: sa.Connection, events: list[Any], first: int) -> Counter:
        from milestones.decide.erased import guard, stripped_payload
        from milestones.decide.preferences import Change

        counts: Counter = Counter()
        now = dt.datetime.now(dt.UTC)
        rows, rejects, by_key = [], [], {}
        # Events about a customer erased since (a late open, a bounce): stored without personal data.
        is_erased, gone = guard(conn), set()
        for n, event in enumerate(events, start=first):
            try:
                row = event_row(event, now)
            except Rejected as exc:
                rejects.append(_reject(event, n, str(exc), now, erased=is_erased))
                continue
            if is_erased and is_erased(row["customer_id"], row["email"]):
                row.update(email=None, customer_id=is_erased.pseudonym(row["customer_id"]),
                           payload=stripped_payload(event))
                gone.add(row["dedupe_key"])
            if row["dedupe_key"] not in by_key:
                by_key[row["dedupe_key"]] = event
                rows.append(row)
            else:
                counts["duplicate"] += 1
        if rejects:
            conn.execute(rejected_events.insert(), rejects)
            counts["rejected"] += len(rejects)
        stored = set()
        if rows:  # one cached statement, executemany with RETURNING (SQLAlchemy's insertmanyvalues)
            stored.update(conn.execute(
                _insert(conn, webhook_events).on_conflict_do_nothing(index_elements=["dedupe_key"])
                .returning(webhook_events.c.dedupe_key), rows).scalars())
        counts["duplicate"] += len(rows) - len(stored)
        fresh = [r for r in rows if r["dedupe_key"] in stored]
        counts["stored"] += len(fresh)
        suppress = lifecycle.to_suppress(conn, webhook_events, fresh, by_key, now,
                                         limit=self.soft_failure_limit, days=self.soft_failure_days)
        if suppress:
            known = set(conn.execute(sa.select(suppressions.c.email)
                                     .where(suppressions.c.email.in_(list(suppress)))).scalars())
            new = [{"email": e, "reason": why, "event_id": event_id, "created_at": now}
                   for e, (why, event_id) in suppress.items() if e not in known]
            if new:
                conn.execute(suppressions.insert(), new)
                conn.execute(lifecycle.suppression_log.insert(), [
                    {"at": now, "email": r["email"], "action": "added", "reason": r["reason"],
                     "event_id": r["event_id"], "actor": "webhook"} for r in new])
                counts["suppressed"] += len(new)
        choices = [(r["customer_id"], Change(unsubscribed=True), "webhook", r["email"])
                   for r in fresh if r["dedupe_key"] not in gone and self._unsubscribes(r, by_key[r["dedupe_key"]])]
        if choices:
            changed = self.preferences.apply_in(conn, choices, now=now)
            counts["unsubscribed"] += sum(1 for rows_ in changed if rows_)
        confirmed = [r for r in fresh if r["event"] in CONFIRMING and r["key"]]
        if confirmed:
            settled = conn.execute(
                emails.update().where(emails.c.key.in_({r["key"] for r in confirmed}), emails.c.state == UNKNOWN)
                .values(state=ACCEPTED, last_error="resolved by the event webhook", updated_at=now)
                .returning(emails.c.key)).scalars().all()
            if settled:
                counts["settled"] += len(settled)
        for event_name, column in TRACKED.items():
            # First report wins: later opens keep the first time.
            seen = [{"k": r["key"], "t": r["occurred_at"] or now} for r in fresh
                    if r["event"] == event_name and r["key"]]
            if seen:
                conn.execute(emails.update().where(emails.c.key == sa.bindparam("k"), emails.c[column].is_(None))
                             .values({column: sa.bindparam("t")}), seen)
        return counts

    def suppressed(self) -> dict[str, str]:
        with self.engine.connect() as conn:
            return dict(conn.execute(sa.select(suppressions.c.email, suppressions.c.reason)).all())

    def events_for(self, *, customer_id: str | None = None, key: str | None = None) -> list[dict]:
        query = sa.select(webhook_events).order_by(webhook_events.c.received_at)
        if customer_id:
            query = query.where(webhook_events.c.customer_id == customer_id)
        if key:
            query = query.where(webhook_events.c.key == key)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]
