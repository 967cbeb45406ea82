"""Glue between Airflow task contexts and the stage functions in :mod:`milestones.pipeline`.

DAG files stay thin: each task body is one call here.  Everything passed
between tasks is a path or a small dict (XCom-safe), never a DataFrame.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

from milestones import pipeline
from milestones.core import storage
from milestones.core.config import load_settings

log = logging.getLogger(__name__)


def _trigger_payloads(context: dict[str, Any], asset_name: str) -> list[dict[str, Any]]:
    """Extras of the asset events that triggered this run, for one asset, oldest first."""
    events = context.get("triggering_asset_events") or {}
    found: list[dict[str, Any]] = []
    for key, items in events.items():
        name = getattr(key, "name", key)
        if name != asset_name and getattr(key, "uri", None) != asset_name:
            continue
        for item in items:
            extra = dict(getattr(item, "extra", None) or {})
            found.append(extra.get("payload", extra) if extra.get("from_trigger") else extra)
    return found


def locate_extract(context: dict[str, Any]) -> str:
    """The extract this run processes: the claimed inbox file, else the ``extract`` param.

    A param that is a URL (``s3://bucket/customers_2026-11-22.csv``) is copied into
    ``data_dir/received/`` first, with the credentials of the ``inbox_conn_id`` connection.
    """
    from milestones.airflow.assets import INBOX

    for payload in _trigger_payloads(context, INBOX.name):
        if payload.get("path"):
            if not Path(payload["path"]).is_file() and payload.get("source"):
                return _archived_extract(payload["source"])
            return payload["path"]
    param = (context.get("params") or {}).get("extract")
    if param:
        from milestones.ingest import sources

        settings = load_settings()
        return str(sources.local_file(param, settings.data_dir, settings.inbox_conn_id))
    raise FileNotFoundError("no extract: not triggered by the inbox and no 'extract' param given")


def _archived_extract(source: str) -> str:
    """An object-storage extract claimed by a triggerer on another machine (no shared
    ``data_dir``): its copy in the inbox's ``received/`` prefix, fetched here."""
    from milestones.ingest import sources

    settings = load_settings()
    prefix, name = source.rsplit("/", 1)
    return str(sources.fetch(f"{prefix}/{sources.ARCHIVE}/{name}", settings.data_dir, settings.inbox_conn_id))


def validate(extract: str, context: dict[str, Any]) -> dict[str, Any]:
    """Validate and publish the snapshot; the asset event carries its path and date."""
    from milestones.airflow.assets import SNAPSHOT
    from milestones.ingest.errors import ExtractError

    settings = load_settings()
    try:
        day = pipeline.snapshot_day(extract)
        previous = storage.latest_snapshot_before(storage.root(settings), day)
        summary = pipeline.validate_stage(extract, settings, previous=previous)
    except ExtractError as exc:
        record_ingest_failure(extract, "customers", exc, settings)
        raise _not_retried(exc) from exc
    log.info("validated %s: %s rows, %s quarantined; quarantine file %s; Data Docs %s",
             Path(extract).name, summary["rows"], summary["quarantined"], summary["quarantine"],
             summary["data_docs"])
    context["outlet_events"][SNAPSHOT].extra = {"snapshot": summary["snapshot"],
                                                "snapshot_date": summary["snapshot_date"]}
    return summary


def _not_retried(exc: Exception) -> Exception:
    """A gate failure as Airflow's "fail now, no retry": a bad file stays bad.

    Anything else the ingest tasks raise (a worker killed, a locked database, a
    full disk) is retried as the DAG says, so a claimed extract is not left
    behind by a passing fault.
    """
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(str(exc))


def route(extract: str) -> str:
    """The ingest task for this file: ``load_outcomes`` for an outcomes extract, else ``validate``."""
    from milestones.measure.outcomes import outcomes_date

    return "load_outcomes" if outcomes_date(extract) else "validate"


def load_outcomes(extract: str) -> dict[str, Any]:
    """Validate and store an outcomes extract (no snapshot asset: detection does not run on it)."""
    from milestones.ingest.errors import ExtractError
    from milestones.measure import outcomes

    settings = load_settings()
    try:
        summary = outcomes.load(extract, settings)
    except ExtractError as exc:
        record_ingest_failure(extract, "outcomes", exc, settings)
        raise _not_retried(exc) from exc
    log.info("outcomes %s: %s rows, %s quarantined, %s stored; Data Docs on the runs page",
             Path(extract).name, summary["rows"], summary["quarantined"], summary["stored"])
    return summary


def record_ingest_failure(extract: str, kind: str, exc: Exception, settings) -> None:
    """Keep a file refused before validation (unreadable, not UTF-8, a missing column) for the runs page."""
    name = Path(extract).name
    storage.write_json({"kind": kind, "extract": name, "error": str(exc),
                        "date": dt.datetime.now(dt.UTC).date().isoformat()},
                       storage.root(settings) / "ingest_failures" / f"{name}.json")


def snapshot_for_run(context: dict[str, Any]) -> dict[str, str]:
    """The snapshot to detect on: from the triggering asset event, else the ``date`` param."""
    from milestones.airflow.assets import SNAPSHOT

    payloads = _trigger_payloads(context, SNAPSHOT.name)
    if payloads:
        latest = payloads[-1]
        return {"snapshot": latest["snapshot"], "as_of": latest["snapshot_date"]}
    settings = load_settings()
    day = (context.get("params") or {}).get("date") or str(context["logical_date"].date())
    path = storage.snapshot_path(storage.root(settings), day)
    if not path.is_file():
        raise FileNotFoundError(f"no validated snapshot for {day}: {path}")
    return {"snapshot": str(path), "as_of": str(day)}


def run_instant(context: dict[str, Any], snapshot_date: str) -> dt.datetime | None:
    """The moment this detection run stands for: each customer's "today" is their local date then.

    That is the run's logical date, or for an asset-triggered run (which has none in
    Airflow 3) the time it was triggered, i.e. when the snapshot was published. None
    (the calendar day of the snapshot for every customer, as ``milestones run --as-of``)
    for a manual re-run of one snapshot (the ``date`` param), and when the run's clock
    is more than a day away from the snapshot's date (an old extract processed late):
    its own clock is not that day's.
    """
    if (context.get("params") or {}).get("date"):
        return None
    instant = context.get("logical_date") or getattr(context.get("dag_run"), "run_after", None)
    if instant is None:
        return None
    instant = instant if instant.tzinfo else instant.replace(tzinfo=dt.UTC)
    gap = abs((instant.astimezone(dt.UTC).date() - dt.date.fromisoformat(str(snapshot_date))).days)
    if gap > 1:
        log.warning("the run's time %s is %d days from the snapshot's date %s: detecting for that "
                    "calendar day in every zone", instant.isoformat(), gap, snapshot_date)
        return None
    return instant


def detect(run: dict[str, str], context: dict[str, Any]) -> dict[str, Any]:
    days = (context.get("params") or {}).get("days")
    days = int(days) if days else None  # None: the catch_up_days setting
    instant = run_instant(context, run["as_of"])
    if instant is not None:
        log.info("customers' dates: their local date at %s", instant.isoformat())
    return pipeline.detect_stage(run["as_of"], load_settings(), snapshot=run["snapshot"], days=days,
                                 instant=instant)


def decide(run: dict[str, str]) -> dict[str, Any]:
    return pipeline.decide_stage(run["as_of"], load_settings(), snapshot=run["snapshot"])


def render(run: dict[str, str], detected: dict[str, Any], decided: dict[str, Any],
           context: dict[str, Any]) -> dict[str, Any]:
    """Render, then write the run record (the same summary ``milestones run`` prints)."""

    from milestones.airflow.assets import MESSAGES

    settings = load_settings()
    result = pipeline.render_stage(run["as_of"], settings, snapshot=run["snapshot"])
    for failure in result["render_failed"]:
        log.warning("not rendered: %s (%s)", failure["key"], failure["reason"])
    for event_type, held in result.get("not_approved", {}).items():
        log.warning("%d %s emails held back: %s", held["emails"], event_type, held["reason"])
    validated = storage.read_json(storage.locate(run["snapshot"]).with_name("validation.json"))
    pipeline.summarise(run["as_of"], validated, detected, decided, result,
                       {"transport": "scheduled (outreach_delivery)"}, settings)
    context["outlet_events"][MESSAGES].extra = {"messages": result["messages"], "as_of": run["as_of"]}
    return {**result, "render_failed": len(result["render_failed"])}


def days_to_deliver(context: dict[str, Any], lookback_days: int = 3) -> list[str]:
    """Dates whose rendered messages may still hold due emails.

    The recent days, and the dates of the rendered-messages asset events that
    triggered this run (a catch-up or re-run of an older date is delivered at once).
    """
    from milestones.airflow.assets import MESSAGES

    settings = load_settings()
    param = (context.get("params") or {}).get("date")
    if param:
        return [str(param)]
    root = storage.root(settings) / "messages"
    today = dt.datetime.now(dt.UTC).date()
    wanted = {str(today - dt.timedelta(days=n)) for n in range(-1, lookback_days + 1)}
    wanted |= {str(p["as_of"]) for p in _trigger_payloads(context, MESSAGES.name) if p.get("as_of")}
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.name in wanted and (p / "messages.parquet").is_file())


def plan_shards(context: dict[str, Any]) -> list[dict[str, Any]]:
    """One shard (date, row range) per mapped delivery task."""
    settings = load_settings()
    return [shard for day in days_to_deliver(context) for shard in pipeline.shards_for(day, settings)]


def deliver(shard: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Send what is due in one shard; the ledger makes a retry or re-run send nothing twice."""
    params = context.get("params") or {}
    at = dt.datetime.fromisoformat(params["at"]) if params.get("at") else None  # a replay's hand-over
    param = params.get("due_before")
    due = dt.datetime.fromisoformat(param) if param else (at or dt.datetime.now(dt.UTC))
    settings = load_settings()
    delivered = pipeline.deliver_stage(shard["date"], settings, due_before=due, at=at,
                                       start=shard["start"], stop=shard["stop"])
    pipeline.record_delivery(shard["date"], settings, delivered)
    return {**shard, **delivered}


def summarize_results() -> dict[str, Any]:
    """Precompute the results page (answers, uplift, A/B decisions, charts, CSVs) when its inputs changed."""
    from milestones.measure import summary

    return summary.refresh(load_settings())


def export_preferences(context: dict[str, Any]) -> dict[str, Any]:
    """Write the day's preference export (every customer's current choices) and publish it."""
    from milestones.airflow.assets import PREFERENCES_EXPORT
    from milestones.decide.preferences_export import daily_path, export

    settings = load_settings()
    day = (context.get("data_interval_end") or context["logical_date"]).date()
    summary = export(settings.ledger_database_url, daily_path(storage.root(settings), day))
    context["outlet_events"][PREFERENCES_EXPORT].extra = {"path": summary["out"], "date": str(day),
                                                          "customers": summary["customers"]}
    return summary
