"""The inbox watchers: Airflow event triggers that fire once per extract landing.

They run in the triggerer.  :class:`InboxTrigger` watches a local directory:
when a file matching ``customers_YYYY-MM-DD.(csv|parquet)`` (or ``outcomes_...``) appears and has
stopped growing, it claims it by an atomic rename into ``received/`` (so a file
is handed over exactly once, even with several triggerers) and yields its new
path as the event payload.  :class:`ObjectStorageInboxTrigger` does the same for
an inbox URL (``s3://bucket/prefix/``, ``file:///path/``...): the claim, a
streamed copy into ``received/`` and the move of the object out of the prefix
are in :mod:`milestones.ingest.sources`.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from pathlib import Path
from stat import S_ISREG
from typing import Any

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

from milestones.core.contract import INBOX_PATTERN

log = logging.getLogger(__name__)


def claim_next(inbox: Path, received: Path, settled: dict[str, tuple[int, float] | str]) -> Path | None:
    """Claim the oldest settled extract in ``inbox``; ``settled`` remembers sizes between polls.

    A file is settled when its size and mtime did not change since the previous
    poll: a half-copied extract is never picked up.
    """
    if not inbox.is_dir():
        return None
    candidates = sorted(p for p in inbox.iterdir() if INBOX_PATTERN.match(p.name))
    for path in candidates:
        try:
            stat = path.lstat()
        except FileNotFoundError:
            continue
        if not S_ISREG(stat.st_mode):
            # A symlink (to /etc/passwd, or anywhere), a FIFO or a directory is never
            # claimed: said once, left where it is for a person to look at.
            if settled.get(path.name) != "refused":
                log.warning("inbox: %s is not a regular file (a symbolic link?): refused, not claimed",
                            path.name)
                settled[path.name] = "refused"
            continue
        signature = (stat.st_size, stat.st_mtime)
        if settled.get(path.name) != signature:
            settled[path.name] = signature
            continue
        received.mkdir(parents=True, exist_ok=True)
        target = received / path.name
        if target.exists():
            # The same file name delivered again: keep both, never overwrite. The
            # copy goes to a subdirectory so its name still carries the snapshot date.
            target = received / str(int(stat.st_mtime_ns)) / path.name
            target.parent.mkdir(exist_ok=True)
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
            "milestones.airflow.triggers.InboxTrigger",
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


class ObjectStorageInboxTrigger(BaseEventTrigger):
    """Fires with ``{"path": <local copy>, "source": <object URL>}`` per extract landing at ``url``.

    ``conn_id`` is the Airflow connection holding the store's credentials
    (ignored for ``file://``).  Listing errors (a missing bucket, the network)
    are logged and polling goes on: the watcher recovers once the store does.
    """

    def __init__(self, url: str, conn_id: str | None, received: str, poke_interval: float = 5.0):
        super().__init__()
        self.url = url
        self.conn_id = conn_id
        self.received = received
        self.poke_interval = poke_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "milestones.airflow.triggers.ObjectStorageInboxTrigger",
            {"url": self.url, "conn_id": self.conn_id, "received": self.received,
             "poke_interval": self.poke_interval},
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        from milestones.ingest import sources

        settled: dict[str, tuple[int, str]] = {}
        last_error = None
        while True:
            try:
                # In a thread: the store's client blocks, and Airflow's s3 filesystem
                # runs an event loop of its own when it is first built.
                claimed = await asyncio.to_thread(sources.claim_next, self.url, self.conn_id,
                                                  Path(self.received), settled)
                last_error = None
            except Exception as exc:  # noqa: BLE001 - keep watching; say it once per new error
                claimed = None
                error = str(exc) if isinstance(exc, sources.SourceError) else f"{self.url}: {exc}"
                if error != last_error:
                    self.log.warning("cannot list the inbox %s", error)
                last_error = error
            if claimed is not None:
                path, source = claimed
                self.log.info("claimed extract %s from %s", path.name, source)
                yield TriggerEvent({"path": str(path), "source": source})
                return
            await asyncio.sleep(self.poke_interval)
