"""Results for marketing: per run and over time, by event type and locale.

One row per (date, event type, locale): events detected, held out, contacted
(emails sent), and what the webhook reported back (delivered, opened, clicked,
unsubscribed). Holdout vs contacted is the comparison uplift is measured on.
"""

from __future__ import annotations

import csv
import html
import io
from pathlib import Path
from typing import Any

import sqlalchemy as sa

COLUMNS = ["date", "event_type", "locale", "detected", "holdout", "contacted", "delivered", "opened",
           "clicked", "unsubscribed"]
WEBHOOK = {"delivered": "delivered", "open": "opened", "click": "clicked", "unsubscribe": "unsubscribed",
           "group_unsubscribe": "unsubscribed"}


def build(data_dir: Path | str, ledger_url: str) -> list[dict[str, Any]]:
    """The report rows, from the decisions and messages files, the ledger and webhook events."""
    import pandas as pd

    from milestones.feedback import Feedback, webhook_events
    from milestones.ledger import emails

    data_dir = Path(data_dir)
    feedback = Feedback(ledger_url)
    with feedback.engine.connect() as conn:
        sent = {k for (k,) in conn.execute(sa.select(emails.c.key).where(emails.c.state == "accepted"))}
        seen = pd.DataFrame(conn.execute(sa.select(webhook_events.c.key, webhook_events.c.event)).all(),
                            columns=["key", "event"])
    rows: dict[tuple, dict[str, Any]] = {}
    for path in sorted((data_dir / "decisions").glob("*/decisions.parquet")):
        day = path.parent.name
        decisions = pd.read_parquet(path)
        messages_path = data_dir / "messages" / day / "messages.parquet"
        locales = (pd.read_parquet(messages_path, columns=["key", "locale"]).set_index("key")["locale"]
                   if messages_path.is_file() else pd.Series(dtype="string"))
        snapshot_path = data_dir / "snapshots" / day / "snapshot.parquet"
        if snapshot_path.is_file():  # events not rendered: the customer's own language
            people = pd.read_parquet(snapshot_path, columns=["customer_id", "locale"]).set_index("customer_id")
            own = decisions["customer_id"].map(people["locale"].str.split("-").str[0].str.lower())
        else:
            own = pd.Series("-", index=decisions.index)
        decisions["locale"] = decisions["key"].map(locales).fillna(own).fillna("-")
        for rec in decisions.itertuples():
            row = rows.setdefault((day, rec.event_type, rec.locale),
                                  dict.fromkeys(COLUMNS, 0) | {"date": day, "event_type": rec.event_type,
                                                               "locale": rec.locale})
            row["detected"] += 1
            row["holdout"] += rec.reason == "holdout"
            if rec.key in sent:
                row["contacted"] += 1
                for event in seen.loc[seen["key"] == rec.key, "event"].unique():
                    if event in WEBHOOK:
                        row[WEBHOOK[event]] += 1
    return [rows[k] for k in sorted(rows)]


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def _bars(totals: dict[str, dict[str, int]], series: tuple[str, ...]) -> str:
    """A grouped bar chart as inline SVG (no scripts, no external assets)."""
    colors = {"detected": "#9aa5b1", "holdout": "#e0a458", "contacted": "#2f5d62", "delivered": "#5e8c61",
              "opened": "#7fb685", "clicked": "#3e6e8e", "unsubscribed": "#c0504d"}
    labels = list(totals)
    peak = max([totals[label][s] for label in labels for s in series] + [1])
    bar, gap, height = 14, 18, 160
    width = len(labels) * (len(series) * bar + gap) + 40
    parts = [f'<svg role="img" aria-label="results chart" width="{width}" height="{height + 60}" '
             f'xmlns="http://www.w3.org/2000/svg">']
    for i, label in enumerate(labels):
        x0 = 30 + i * (len(series) * bar + gap)
        for j, name in enumerate(series):
            value = totals[label][name]
            h = int(height * value / peak)
            parts.append(f'<rect x="{x0 + j * bar}" y="{height - h + 10}" width="{bar - 2}" height="{h}" '
                         f'fill="{colors[name]}"><title>{html.escape(label)} {name}: {value}</title></rect>')
        parts.append(f'<text x="{x0}" y="{height + 28}" font-size="11">{html.escape(label)}</text>')
    for j, name in enumerate(series):
        parts.append(f'<rect x="{30 + j * 95}" y="{height + 40}" width="10" height="10" fill="{colors[name]}"/>'
                     f'<text x="{44 + j * 95}" y="{height + 49}" font-size="11">{name}</text>')
    parts.append("</svg>")
    return "".join(parts)


def to_html(rows: list[dict[str, Any]]) -> str:
    series = ("detected", "holdout", "contacted", "delivered", "opened", "clicked", "unsubscribed")
    by_date: dict[str, dict[str, int]] = {}
    by_type: dict[str, dict[str, int]] = {}
    for row in rows:
        for bucket, label in ((by_date, row["date"]), (by_type, row["event_type"])):
            target = bucket.setdefault(label, dict.fromkeys(series, 0))
            for name in series:
                target[name] += row[name]
    table = "".join("<tr>" + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS) + "</tr>"
                    for r in rows) or f'<tr><td colspan="{len(COLUMNS)}">no runs yet</td></tr>'
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Milestones results</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:3px 8px}}
table{{border-collapse:collapse}}</style></head><body><h1>Milestones results</h1>
<p><a href="report.csv">Download CSV</a></p>
<h2>Over time</h2>{_bars(by_date, series)}
<h2>By event type</h2>{_bars(by_type, series)}
<h2>Detail</h2><table><thead><tr>{head}</tr></thead><tbody>{table}</tbody></table></body></html>"""
