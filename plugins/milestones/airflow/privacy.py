"""Airflow glue of the privacy DAGs: erasure requests from the inbox, daily retention."""

from __future__ import annotations

import logging
from typing import Any

from milestones.core import storage
from milestones.core.config import load_settings

log = logging.getLogger(__name__)


def request_files(settings) -> list[Any]:
    """Erasure request files waiting in the inbox (local directory, and ``inbox_url`` when set)."""
    from milestones.privacy.erase import REQUEST_PATTERN

    found = sorted(settings.inbox.glob(REQUEST_PATTERN)) if settings.inbox.is_dir() else []
    if settings.inbox_url:
        remote = storage.locate(settings.inbox_url, settings.inbox_conn_id)
        found += sorted(remote.glob(REQUEST_PATTERN), key=str)
    return found


def erase_requests(context: dict[str, Any]) -> dict[str, Any]:
    """Erase the customers of every request file in the inbox, then delete the file (it names them).

    A file that cannot be read fails the task (retried, then an operator looks); the
    files before it are done. The summary holds counts only.
    """
    from milestones.privacy import erase

    settings = load_settings()
    run = context.get("run_id") or "manual"
    resumed = erase.resume(settings)
    done = {"files": 0, "customers": 0, "resumed": len(resumed)}
    for path in request_files(settings):
        ids = erase.read_requests(path)
        summary = erase.erase(settings, ids, operator=f"dag:privacy_erasure:{run}", source="inbox")
        storage.locate(path).unlink()
        done["files"] += 1
        done["customers"] += summary["customers"]
        log.info("erasure request file %d: %d customers erased", done["files"], summary["customers"])
    return done


def apply_retention(context: dict[str, Any]) -> dict[str, Any]:
    """Delete what is older than its retention period, counted back from the run's day."""
    from milestones.privacy import retention

    day = (context.get("data_interval_end") or context["logical_date"]).date()
    summary = retention.apply(load_settings(), today=day)
    log.info("retention: %s", {k: v.get("files", v.get("rows")) for k, v in summary["removed"].items()})
    return {**summary, "removed": {k: v.get("files", 0) for k, v in summary["removed"].items()}}
