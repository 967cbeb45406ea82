"""Small, additive schema upgrades for tables created by ``metadata.create_all``.

``create_all`` creates a missing table but never adds a column to one that exists: a
ledger database made by an earlier version would lack a column added since.
:func:`add_missing_columns` adds such columns (always nullable, no default) with
``ALTER TABLE ... ADD COLUMN``, which SQLite and PostgreSQL both take; nothing is ever
dropped or changed.
"""

from __future__ import annotations

import sqlalchemy as sa


def add_missing_columns(engine: sa.Engine, *tables: sa.Table) -> list[str]:
    """Add the columns of ``tables`` their database table lacks; the ``table.column`` names added."""
    added: list[str] = []
    inspector = sa.inspect(engine)
    for table in tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing = [c for c in table.columns if c.name not in present]
        if not missing:
            continue
        guard = "IF NOT EXISTS " if engine.dialect.name == "postgresql" else ""
        for column in missing:
            kind = column.type.compile(dialect=engine.dialect)
            try:
                with engine.begin() as conn:
                    conn.exec_driver_sql(f'ALTER TABLE {table.name} ADD COLUMN {guard}"{column.name}" {kind}')
            except sa.exc.OperationalError as exc:  # SQLite: another process added it first
                if "duplicate column" not in str(exc):
                    raise
                continue
            added.append(f"{table.name}.{column.name}")
    return added
