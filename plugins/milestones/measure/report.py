"""Results for marketing: per run and over time, by event type, locale and A/B variant.

One row per (date, event type, locale, variant): events detected, held out, contacted
(emails accepted), and what the webhook reported back on those emails (delivered,
opened, clicked, unsubscribed; each email counted once). Computed by one group-by over
:func:`milestones.measure.fates.build`, never a loop over decisions. The page beside it adds
the uplift (contacted vs held out, :mod:`milestones.measure.uplift`) with its intervals as a
chart, trends over time and per-variant rates.
"""

from __future__ import annotations

import datetime as dt
import html
from pathlib import Path
from typing import Any

from milestones.measure.fates import FLAGS

KEYS = ["date", "event_type", "locale", "variant"]
COUNTS = ["detected", "holdout", "contacted", *FLAGS]
COLUMNS = KEYS + COUNTS
#: Rows of the detail table on the page (the CSV holds every row).
DETAIL_ROWS = 500


def rows_from(facts) -> list[dict[str, Any]]:
    """The report rows of :func:`milestones.measure.fates.build`'s frame."""
    # Grouped by the day itself; only the grouped rows' days are formatted as text.
    by = ["event_date", *KEYS[1:]]
    counted = facts[by].copy()
    counted["detected"] = 1
    counted["holdout"] = facts["holdout"].to_numpy()
    counted["contacted"] = facts["contacted"].to_numpy()
    for flag in FLAGS:
        counted[flag] = facts[flag].to_numpy()
    grouped = counted.groupby(by, sort=True, observed=True)[COUNTS].sum().reset_index()
    grouped.insert(0, "date", grouped.pop("event_date").dt.strftime("%Y-%m-%d"))
    grouped[COUNTS] = grouped[COUNTS].astype("int64")
    return [{k: (v if isinstance(v, str) else int(v)) for k, v in rec.items()}
            for rec in grouped.astype({k: object for k in KEYS}).to_dict("records")]


def build(data_dir: Path | str, ledger_url: str, *, since: dt.date | None = None,
          until: dt.date | None = None) -> list[dict[str, Any]]:
    """The report rows, from the decisions and messages files and the ledger."""
    from milestones.measure import fates

    return rows_from(fates.build(data_dir, ledger_url, since=since, until=until))


def results(settings, *, since: dt.date | None = None, until: dt.date | None = None) -> dict[str, Any]:
    """Everything the results page shows, from one pass over the data: report rows and uplift tables."""
    from milestones.core import storage
    from milestones.measure import attribution, clicks, fates, outcomes, uplift
    from milestones.render import variants

    facts = fates.build(storage.root(settings), settings.ledger_database_url, since=since, until=until,
                        variant_of=variants.assigner(settings))
    conversions = outcomes.read_all(storage.root(settings), settings.conversion_outcome,
                                    columns=["customer_id", "occurred_at", "value"])
    attributed = attribution.attribute(facts, conversions, settings.conversion_window_days)
    skipped = facts.loc[facts["decision"] == "skip", "reason"].value_counts()
    return {"rows": rows_from(facts),
            # Why events were not sent, by their specific reason ("sensitive: marital_status widowed").
            "skipped": {str(k): int(v) for k, v in sorted(skipped.items())},
            "uplift": {by: uplift.table(attributed, by) for by in ("event_type", "variant")},
            "links": clicks.clicks(settings.ledger_database_url, since=since, until=until),
            "conversion": {"outcome": settings.conversion_outcome, "window_days": settings.conversion_window_days}}


def to_csv(rows: list[dict[str, Any]]) -> str:
    from milestones.core import csvsafe

    return csvsafe.write_rows(rows, COLUMNS)


def _table(rows: list[dict[str, Any]], columns: list[str], formats: dict[str, str] | None = None) -> str:
    formats = formats or {}

    def cell(row, c):
        value = row.get(c)
        if value is None:
            return ""
        if c in formats and isinstance(value, (int, float)):
            return formats[c].format(value)
        return str(value)

    head = "".join(f'<th scope="col">{html.escape(c)}</th>' for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(cell(r, c))}</td>" for c in columns) + "</tr>"
                   for r in rows) or f'<tr><td colspan="{len(columns)}">no data yet</td></tr>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


UPLIFT_FORMATS = {"contacted_rate": "{:.2%}", "holdout_rate": "{:.2%}", "lift": "{:+.2%}", "lift_ci_low": "{:+.2%}",
                  "lift_ci_high": "{:+.2%}", "p_value": "{:.3g}", "incremental_conversions": "{:,.1f}",
                  "incremental_value": "{:,.2f}"}


def to_html(result: dict[str, Any] | list[dict[str, Any]], csv_name: str = "report.csv",
            uplift_csv: str | None = None) -> str:
    """The results page: uplift chart and table, trends, per-variant rates, the detail table."""
    import pandas as pd

    from milestones.measure import charts, uplift

    if isinstance(result, list):
        result = {"rows": result, "uplift": {}, "conversion": {}}
    rows = result["rows"]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    by_day = frame.groupby("date")[COUNTS].sum()
    by_day.index = pd.to_datetime(by_day.index)
    parts = []
    conv = result.get("conversion") or {}
    for by, rows_up in (result.get("uplift") or {}).items():
        parts.append(f"<h2>Uplift by {html.escape(by.replace('_', ' '))}</h2>")
        parts.append(charts.lift_chart(rows_up, f"Lift by {by.replace('_', ' ')} ({conv.get('outcome', '')} "
                                                f"within {conv.get('window_days', '')} days)"))
        parts.append(_table(rows_up, uplift.COLUMNS, UPLIFT_FORMATS))
    parts.append("<h2>Over time</h2>")
    parts.append(charts.trend_chart(by_day, ["detected", "contacted", "holdout"], "Events per day", "events"))
    parts.append(charts.trend_chart(by_day, ["delivered", "opened", "clicked", "unsubscribed"],
                                    "What the contacted customers did (webhook)", "emails"))
    tested = frame[(frame["contacted"] > 0) & ~frame["variant"].isin(["", "base"])]["event_type"].unique()
    contacted = frame[(frame["contacted"] > 0) & frame["event_type"].isin(tested)]
    variants = contacted.groupby(contacted["event_type"] + "/" + contacted["variant"].replace("", "base"))[COUNTS].sum()
    if len(variants):
        labels = [str(v) for v in variants.index]
        rates = {name: list(variants[name] / variants["contacted"]) for name in ("opened", "clicked")}
        parts.append("<h2>A/B variants</h2>" + charts.rate_bars(labels, rates, "Open and click rate per variant"))
    if result.get("links") is not None:
        from milestones.measure.clicks import COLUMNS as LINK_COLUMNS

        parts.append("<h2>Clicks per link</h2><p>Each link by host and path (tokens shown as …), per event "
                     "type and A/B variant: clicks the webhook reported, and emails with a click on it.</p>")
        parts.append(_table(result["links"], LINK_COLUMNS))
    detail_note = (f"<p>The latest {DETAIL_ROWS} of {len(rows):,} rows; the CSV holds them all.</p>"
                   if len(rows) > DETAIL_ROWS else "")
    downloads = f'<a href="{html.escape(csv_name)}">Download the results CSV</a>'
    if uplift_csv:
        downloads += f' · <a href="{html.escape(uplift_csv)}">Download the uplift CSV</a>'
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Milestones results</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}td,th{{border:1px solid #ccc;padding:3px 8px}}
table{{border-collapse:collapse;margin:1em 0}}td{{white-space:nowrap}}td:last-child{{white-space:normal;min-width:18em}}svg{{max-width:100%;height:auto;display:block}}</style></head>
<body><h1>Milestones results</h1><p>{downloads}</p>
<p>Lift is the contacted customers' conversion rate minus the held-out customers' rate, in points, with its
95% interval (Newcombe's hybrid score method); see the README, "Measuring results".</p>
{''.join(parts)}
<h2>Detail</h2>{detail_note}{_table(rows[-DETAIL_ROWS:], COLUMNS)}</body></html>"""
