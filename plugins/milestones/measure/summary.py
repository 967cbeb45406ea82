"""The results page's answers, computed once after each run and stored: words first, then numbers.

:func:`build` makes one pass over the decisions, messages, ledger and outcomes (as
``milestones report`` and ``milestones uplift`` do, the same functions, so the same
numbers) and returns everything the page shows: a sentence per event type ("Birthday
emails raise purchases within 14 days by 1.2 points (95% interval 0.4 to 2.0):
significant"), the uplift tables by event type, language and A/B variant, the A/B
decisions (:mod:`milestones.measure.abtest`), the template versions customers got, the
daily counts and the charts (SVG). :func:`write` stores it under ``results/`` of the data
directory with the two CSV downloads; the staff page only reads it, so it answers at once
whatever the size of the data (a DAG task writes it after each delivery run).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

RESULTS_DIR = "results"
SUMMARY = "summary.json"
REPORT_CSV = "results.csv"
UPLIFT_CSV = "uplift.csv"


def label(event_type: str) -> str:
    """``wedding_anniversary`` -> ``Wedding anniversary``."""
    return event_type.replace("_", " ").capitalize()


def points(x: float) -> str:
    return f"{100 * x:.1f}".replace("-0.0", "0.0")


def sentence(row: dict[str, Any], subject: str, outcome: str, window: int) -> tuple[str, str]:
    """``(kind, words)`` for an uplift row: kind is significant, decrease, too-few, none."""
    what = f"{outcome}s within {window} days"
    verdict = str(row.get("verdict") or "")
    if row.get("lift") is None:
        missing = "held-out" if not row.get("holdout") else "contacted"
        return "too-few", f"{subject}: no answer yet: too few {missing} customers (none so far)"
    lift, low, high = row["lift"], row["lift_ci_low"], row["lift_ci_high"]
    interval = f"(95% interval {points(low)} to {points(high)})"
    if verdict == "significant":
        return "significant", f"{subject} raise {what} by {points(lift)} points {interval}: significant"
    if verdict.startswith("significant decrease"):
        return "decrease", (f"{subject} lower {what} by {points(-lift)} points {interval}: significant decrease, "
                            "consider pausing them")
    if verdict.startswith("too few customers"):
        more = verdict.split("about ", 1)[1].split(" more", 1)[0]
        return "too-few", (f"{subject}: {points(lift)} points so far {interval}: too few held-out customers: "
                           f"about {more} more needed")
    return "none", f"{subject} make no clear difference to {what}: {points(lift)} points {interval}"


def _versions(ledger_url: str, templates_dir) -> list[dict[str, Any]]:
    """Emails accepted per event type and template version, with the approval of that version."""
    from milestones.measure.fates import _query
    from milestones.measure.feedback import Feedback
    from milestones.render import history

    rows = _query(Feedback(ledger_url).engine,
                  "SELECT event_type, template_version, COUNT(*), MIN(event_date), MAX(event_date) FROM emails "
                  "WHERE state = 'accepted' GROUP BY event_type, template_version ORDER BY event_type, MIN(event_date)")
    approved = history.by_ledger_version(templates_dir)
    out = []
    for event_type, version, count, first, last in rows:
        known = approved.get(str(version))
        out.append({"event_type": event_type, "template_version": version, "emails": int(count),
                    "first": str(first)[:10], "last": str(last)[:10],
                    "approved_by": known.by if known else None, "approved_at": known.at if known else None,
                    "note": known.note if known else None})
    return out


def build(settings, *, since: dt.date | None = None, until: dt.date | None = None,
          charts: bool = True) -> dict[str, Any]:
    """Everything the results page shows (JSON-ready)."""
    import pandas as pd

    from milestones.core import storage
    from milestones.measure import abtest, attribution, fates, outcomes, report, uplift
    from milestones.render import variants

    facts = fates.build(storage.root(settings), settings.ledger_database_url, since=since, until=until,
                        variant_of=variants.assigner(settings))
    conversions = outcomes.read_all(storage.root(settings), settings.conversion_outcome,
                                    columns=["customer_id", "occurred_at", "value"])
    attributed = attribution.attribute(facts, conversions, settings.conversion_window_days)
    rows = report.rows_from(facts)
    tables = {by: uplift.table(attributed, by) for by in uplift.BY}
    outcome, window = settings.conversion_outcome, settings.conversion_window_days
    answers = []
    for row in tables["event_type"]:
        subject = "All milestone emails" if row["group"] == "all" else f"{label(row['group'])} emails"
        kind, words = sentence(row, subject, outcome, window)
        answers.append({"group": row["group"], "kind": kind, "text": words})
    frame = pd.DataFrame(rows, columns=report.COLUMNS)
    by_day = frame.groupby("date")[report.COUNTS].sum()
    out: dict[str, Any] = {
        "generated_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "first_day": str(by_day.index.min()) if len(by_day) else None,
        "last_day": str(by_day.index.max()) if len(by_day) else None,
        "conversion": {"outcome": outcome, "window_days": window},
        "answers": answers, "uplift": tables,
        "ab": abtest.decide(attributed),
        "versions": _versions(settings.ledger_database_url, settings.templates_dir),
        "totals": {c: int(frame[c].sum()) for c in report.COUNTS},
        "by_day": {"dates": [str(d) for d in by_day.index], **{c: [int(v) for v in by_day[c]] for c in report.COUNTS}},
        "rows": rows,
    }
    if charts:
        out["charts"] = draw(out)
    return out


def draw(result: dict[str, Any]) -> dict[str, str]:
    """The page's charts as SVG: lift per event type, language and variant; counts per day."""
    import pandas as pd

    from milestones.measure import charts

    conv = result["conversion"]
    what = f"{conv['outcome']} within {conv['window_days']} days"
    out = {f"lift_{by}": charts.lift_chart(rows, f"Lift in {what}, by {by.replace('_', ' ')}")
           for by, rows in result["uplift"].items()}
    days = result["by_day"]
    frame = pd.DataFrame({k: v for k, v in days.items() if k != "dates"}, index=pd.to_datetime(days["dates"]))
    out["events"] = charts.trend_chart(frame, ["detected", "contacted", "holdout"], "Events per day", "events")
    out["engagement"] = charts.trend_chart(frame, ["delivered", "opened", "clicked", "unsubscribed"],
                                           "What the contacted customers did (webhook)", "emails")
    return out


def inputs_stamp(settings) -> str:
    """A fingerprint of what the results are computed from: the decisions, messages and outcomes
    files (name, size) and the ledger (emails by state, latest change, webhook events): when it is
    unchanged, the stored summary still holds."""
    import hashlib

    from milestones.core import storage
    from milestones.measure.fates import _query
    from milestones.measure.feedback import Feedback

    root = storage.root(settings)
    parts = []
    for stage, name in (("decisions", "decisions.parquet"), ("messages", "messages.parquet"),
                        ("outcomes", "outcomes.parquet")):
        parts += [f"{p.parent.name}/{p.name}:{p.stat().st_size}" for p in storage.day_files(root, stage, name)]
    engine = Feedback(settings.ledger_database_url).engine
    parts += [repr(_query(engine, "SELECT state, COUNT(*), MAX(updated_at) FROM emails GROUP BY state ORDER BY state")),
              repr(_query(engine, "SELECT COUNT(*), MAX(received_at) FROM webhook_events")),
              str(settings.conversion_outcome), str(settings.conversion_window_days)]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def refresh(settings) -> dict[str, Any]:
    """Write the summary unless its inputs are unchanged since the stored one (the DAG task)."""
    stamp = inputs_stamp(settings)
    stored = read(settings)
    if stored is not None and stored.get("inputs") == stamp:
        return {"summary": "unchanged", "inputs": stamp}
    result = build(settings)
    result["inputs"] = stamp
    return write(settings, result)


def write(settings, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """Compute (unless given) and store the summary and the two CSV downloads under ``results/``."""
    from milestones.core import csvsafe, storage
    from milestones.measure import report, uplift

    if result is None:
        stamp = inputs_stamp(settings)
        result = build(settings)
        result["inputs"] = stamp
    folder = storage.root(settings) / RESULTS_DIR
    rows = result.pop("rows")
    storage.write_text(report.to_csv(rows), folder / REPORT_CSV)
    storage.write_text(csvsafe.write_rows(result["uplift"]["event_type"], uplift.COLUMNS), folder / UPLIFT_CSV)
    storage.write_json(result, folder / SUMMARY)
    return {"summary": str(folder / SUMMARY), "days": len(result["by_day"]["dates"]),
            "answers": [a["text"] for a in result["answers"]]}


def read(settings) -> dict[str, Any] | None:
    """The stored summary (None before the first one is written)."""
    from milestones.core import storage

    path = storage.root(settings) / RESULTS_DIR / SUMMARY
    try:
        return storage.read_json(path)
    except (OSError, ValueError):
        return None
