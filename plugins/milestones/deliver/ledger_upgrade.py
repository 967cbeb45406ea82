"""Bringing a ledger created by an older release up to the current schema, in place.

``metadata.create_all`` adds missing tables but never changes an existing one. The
``emails.state`` CHECK constraint lists the states a row may take; a release that adds a state
(``cancelled`` and ``expired``, for choices re-read at hand-over) must widen it, or the first
cancellation would fail the delivery run. :func:`widen_state_check` does that once, on
SQLite and PostgreSQL, and does nothing on a ledger that already allows every state.
"""

from __future__ import annotations

import re

import sqlalchemy as sa

CONSTRAINT = "emails_state_valid"


def _check(states: tuple[str, ...]) -> str:
    return f"state IN {states!r}".replace(",)", ")")


def _allows_all(definition: str | None, states: tuple[str, ...]) -> bool:
    return definition is None or all(f"'{state}'" in definition for state in states)


def widen_state_check(engine: sa.Engine, states: tuple[str, ...]) -> bool:
    """Make ``emails.state``'s CHECK allow ``states``; True when an older constraint was replaced.

    SQLite cannot alter a constraint: the table's stored definition is rewritten under
    ``PRAGMA writable_schema`` and the schema version raised, the procedure SQLite documents for
    changes that existing rows already satisfy (a wider list of allowed values is one).
    PostgreSQL drops and adds the constraint in one transaction.
    """
    if engine.dialect.name == "sqlite":
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            row = cursor.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'emails'").fetchone()
            if row is None or _allows_all(row[0], states):
                return False
            widened = re.sub(r"state IN \([^)]*\)", _check(states), row[0], count=1)
            if widened == row[0]:
                return False
            raw.commit()
            version = cursor.execute("PRAGMA schema_version").fetchone()[0]
            cursor.execute("BEGIN IMMEDIATE")
            cursor.execute("PRAGMA writable_schema = ON")
            cursor.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'emails'", (widened,))
            cursor.execute(f"PRAGMA schema_version = {int(version) + 1}")
            cursor.execute("PRAGMA writable_schema = OFF")
            cursor.execute("COMMIT")
            bad = cursor.execute("PRAGMA integrity_check").fetchone()[0]
            if bad != "ok":  # pragma: no cover - never seen; refuse to go on with a damaged file
                raise RuntimeError(f"ledger integrity check failed after widening {CONSTRAINT}")
        finally:
            raw.close()
        engine.dispose()  # other pooled connections re-read the schema
        return True
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            definition = conn.exec_driver_sql(
                "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid"
                " WHERE c.conname = %(name)s AND t.relname = 'emails'", {"name": CONSTRAINT}).scalar()
            if _allows_all(definition, states):
                return False
            conn.exec_driver_sql(f"ALTER TABLE emails DROP CONSTRAINT {CONSTRAINT}")
            conn.exec_driver_sql(f"ALTER TABLE emails ADD CONSTRAINT {CONSTRAINT} CHECK ({_check(states)})")
        return True
    return False
