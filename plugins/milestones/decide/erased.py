"""Who was erased: keyed hashes of erased customers' ids and addresses, read by the policy.

Written by :mod:`milestones.privacy.erase`; the policy skips a customer whose id or address
hashes to one of them (reason ``erased``). The hash is keyed (:mod:`milestones.core.pseudonym`):
the table names nobody to whoever lacks the key.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
erased_subjects = sa.Table(
    "erased_subjects", metadata,
    sa.Column("hash", sa.String(64), primary_key=True),
    sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
)


def erased_hashes(engine: sa.Engine) -> frozenset[str]:
    metadata.create_all(engine)
    with engine.connect() as conn:
        return frozenset(conn.execute(sa.select(erased_subjects.c.hash)).scalars())


#: Webhook payload fields kept for an erased customer (none of them personal).
KEPT_PAYLOAD = ("event", "timestamp", "type", "sg_event_id", "sg_message_id", "key", "event_type", "asm_group_id",
                "category", "attempt", "bounce_classification")


def stripped_payload(event: object) -> str:
    """A webhook event's JSON with only :data:`KEPT_PAYLOAD` (a non-object: ``"[erased]"``)."""
    import json

    if isinstance(event, str):
        try:
            event = json.loads(event)
        except ValueError:
            event = None
    if not isinstance(event, dict):
        return json.dumps("[erased]")
    return json.dumps({k: event[k] for k in KEPT_PAYLOAD if k in event}, sort_keys=True, default=str)


class Guard:
    """Recognises erased customers by id or address (keyed hashes), for what arrives after an
    erasure: a late webhook event, an old link's preference change. ``None`` from :func:`guard`
    when nobody was ever erased (no key is read then)."""

    def __init__(self, key: bytes, hashes: frozenset[str]):
        self.key, self.hashes = key, hashes

    def __call__(self, customer_id: str | None, email: str | None) -> bool:
        from milestones.core.pseudonym import keyed_hash

        return bool((customer_id and keyed_hash(self.key, "customer_id", customer_id) in self.hashes)
                    or (email and keyed_hash(self.key, "email", email) in self.hashes))

    def pseudonym(self, customer_id: str | None) -> str | None:
        from milestones.core.pseudonym import pseudonym

        return pseudonym(self.key, customer_id) if customer_id else None


def guard(conn: sa.Connection, data_dir=None) -> Guard | None:
    """A :class:`Guard` over the registry (created with the preference store), inside the caller's
    transaction."""
    hashes = frozenset(conn.execute(sa.select(erased_subjects.c.hash)).scalars())
    if not hashes:
        return None
    key = _key(conn, data_dir)
    return Guard(key, hashes) if key else None


def _key(conn: sa.Connection, data_dir) -> bytes | None:
    """The privacy key erasure used: the environment's, else the one under ``data_dir``, the SQLite
    ledger's directory (by default data_dir itself) or the settings' data_dir; never a new one."""
    import logging
    import os
    from pathlib import Path

    from milestones.core.pseudonym import ENV, load_key

    if os.environ.get(ENV, "").strip():
        return load_key(".")
    places = [data_dir] if data_dir is not None else []
    database = conn.engine.url.database if conn.dialect.name == "sqlite" else None
    if database and database != ":memory:":
        places.append(Path(database).resolve().parent)
    from milestones.core.config import load_settings

    places.append(load_settings().data_dir)
    for place in places:
        if (Path(place) / "secrets" / "privacy_key").is_file():
            return load_key(place)
    logging.getLogger(__name__).warning("customers were erased but no privacy key is found: set %s", ENV)
    return None
