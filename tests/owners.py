"""Whose email an outbox file is: the messages files map each email's opaque key to its customer.

The customer id is in no header of a sent email (issue 24); tests that need to know who
an outbox email was for look its ``X-Milestones-Key`` up here, as support would.
"""

from __future__ import annotations

from pathlib import Path


def owners(data_dir: Path | str) -> dict[str, str]:
    """``{key: customer_id}`` of every email rendered under ``data_dir``."""
    import pyarrow.parquet as pq

    found: dict[str, str] = {}
    for path in sorted(Path(data_dir).glob("messages/*/messages.parquet")):
        table = pq.read_table(path, columns=["key", "customer_id"])
        found.update(zip(table.column("key").to_pylist(), table.column("customer_id").to_pylist(), strict=True))
    return found


def customer_of(mail, data_dir: Path | str) -> str:
    return owners(data_dir)[str(mail["X-Milestones-Key"])]
