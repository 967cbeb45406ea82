"""The inbox watcher: an Airflow event trigger that fires once per extract landing.

It runs in the triggerer.  When a file matching ``customers_YYYY-MM-DD.(csv|parquet)``
appears in the inbox and has stopped growing, the trigger claims it by an
atomic rename into ``received/`` (so a file is handed over exactly once, even
with several triggerers) and yields its new path as the event payload.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from milestones.contract import FILENAME_PATTERN


def claim_next(inbox: Path, received: Path, settled: dict[str, tuple[int, float]]) -> Path | None:
    """Claim the oldest settled extract in ``inbox``; ``settled`` remembers sizes between polls.

    A file is settled when its size and mtime did not change since the previous
    poll: a half-copied extract is never picked up.
    """
    if not inbox.is_dir():
        return None
    candidates = sorted(p for p in inbox.iterdir() if p.is_file() and FILENAME_PATTERN.match(p.name))
    for path in candidates:
        stat = path.stat()
        signature = (stat.st_size, stat.st_mtime)
        if settled.get(path.name) != signature:
            settled[path.name] = signature
            continue
        received.mkdir(parents=True, exist_ok=True)
        target = received / path.name
        if target.exists():  # the same file name delivered again: keep both, never overwrite
            target = received / f"{path.stem}.{int(stat.st_mtime)}{path.suffix}"
        try:
            os.rename(path, target)
        except FileNotFoundError:  # another triggerer won the race
            continue
        settled.pop(path.name, None)
        return target
    return None


class InboxTrigger(BaseEventTrigger):
    """Fires with ``{"path": <claimed extract>}`` for each extract landing in ``inbox``."""

    def __init__(self, inbox: str, received: str, poke_interval: float = 5.0):
        super().__init__()
        self.inbox = inbox
        self.received = received
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "milestones.triggers.InboxTrigger",
            {"inbox": self.inbox, "received": self.received, "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        settled: dict[str, tuple[int, float]] = {}
        while True:
            claimed = await asyncio.to_thread(claim_next, Path(self.inbox), Path(self.received), settled)
            if claimed is not None:
                self.log.info("claimed extract %s", claimed.name)
                yield TriggerEvent({"path": str(claimed)})
                return
            await asyncio.sleep(self.poke_interval)
