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
