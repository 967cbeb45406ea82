"""The results page for marketing, from the stored summary (:mod:`milestones.measure.summary`).

The answer first, in words, one line per event type; then the A/B decisions; then the
numbers behind them with readable headers (rates in per cent, lifts in points), per event
type, language and A/B variant; the charts and the detail in collapsible sections. It fits
a 1280 px window: tables wrap their text and the wide detail table scrolls inside its own
box, never the page.
"""

from __future__ import annotations

import html
from typing import Any

from milestones.measure.summary import label, points

CSS = """body{font-family:system-ui,sans-serif;margin:20px;color:#222;max-width:1200px}
h1{margin:.2em 0}h2{margin-top:1.4em}table{border-collapse:collapse;margin:.6em 0;max-width:100%}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}th{background:#f3f4f6}
td.n{text-align:right;white-space:nowrap}svg{max-width:100%;height:auto;display:block}
ul.answers{list-style:none;padding:0}ul.answers li{margin:.45em 0;padding:.5em .8em;border-left:5px solid #9aa5b1;
background:#f7f7f8;font-size:1.05em}li.significant{border-color:#1a7f37!important}
li.decrease{border-color:#b42318!important}li.too-few{border-color:#d08c2f!important}
.verdict{font-weight:600}.wins{color:#1a7f37;font-weight:600}.loses{color:#b42318;font-weight:600}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}.scroll{overflow-x:auto;max-width:100%}
.muted{color:#666}form{display:inline}"""

UPLIFT_HEADERS = [("group", "Group"), ("contacted", "Emailed customers"), ("holdout", "Held-out customers"),
                  ("contacted_rate", "Converted, emailed"), ("holdout_rate", "Converted, held out"),
                  ("lift", "Lift (points)"), ("interval", "95% interval (points)"), ("p_value", "p-value"),
                  ("incremental_conversions", "Extra conversions"), ("verdict", "Verdict")]


def _fmt(key: str, value: Any) -> str:
    if value is None:
        return "–"
    if key.endswith("_rate") or key in ("rate", "base_rate"):
        return f"{100 * value:.1f}%"
    if key in ("lift", "difference"):
        return f"{'+' if value > 0 else ''}{points(value)}"
    if key == "p_value":
        return f"{value:.3g}"
    if key == "incremental_conversions":
        return f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _uplift_table(rows: list[dict[str, Any]], by: str) -> str:
    e = html.escape
    head = "".join(f'<th scope="col">{e(t if k != "group" else by)}</th>' for k, t in UPLIFT_HEADERS)
    body = []
    for r in rows:
        cells = []
        for k, _ in UPLIFT_HEADERS:
            if k == "interval":
                value = ("–" if r.get("lift_ci_low") is None
                         else f"{points(r['lift_ci_low'])} to {points(r['lift_ci_high'])}")
            elif k == "group":
                value = "All" if r["group"] == "all" else str(r["group"]).replace("_", " ")
            else:
                value = _fmt(k, r.get(k))
            cls = ' class="n"' if k not in ("group", "verdict") else (' class="verdict"' if k == "verdict" else "")
            cells.append(f"<td{cls}>{e(value)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _ab(rows: list[dict[str, Any]], approver: bool) -> str:
    e = html.escape
    if not rows:
        return ('<p class="muted">No A/B test is running: add a variant to a template in the catalog '
                "(see the marketing guide).</p>")
    items = []
    for r in rows:
        who = f"{label(r['event_type'])} · variant {r['variant']}"
        action = ""
        if approver and r["decision"] in ("wins", "loses"):
            verb = "promote" if r["decision"] == "wins" else "retire"
            text = "Promote it to the base template" if verb == "promote" else "Retire it"
            action = (f' <form method="post" action="../templates/{e(r["event_type"])}/{verb}">'
                      f'<input type="hidden" name="variant" value="{e(r["variant"])}">'
                      f'<input type="hidden" name="note" value="{e(r["text"])}"><button type="submit">{text}'
                      "</button></form>")
        rates = (f"converted {_fmt('rate', r['rate'])} of {r['contacted']:,} vs base {_fmt('rate', r['base_rate'])} "
                 f"of {r['base_contacted']:,}")
        cls = r["decision"] if r["decision"] in ("wins", "loses") else ""
        items.append(f'<li><strong>{e(who)}</strong>: <span class="{cls}">{e(r["text"])}</span> '
                     f'<span class="muted">({e(rates)})</span>{action}</li>')
    return (f"<ul>{''.join(items)}</ul><p class=\"muted\">Test: {e(rows[0]['test'])}. Promoting makes the variant "
            "the base (recorded in the template's history, and reversible by rolling the base back).</p>")


def _versions(rows: list[dict[str, Any]]) -> str:
    e = html.escape
    if not rows:
        return "<p>No email sent yet.</p>"
    body = "".join(
        f"<tr><td>{e(label(r['event_type']))}</td><td><code>{e(str(r['template_version']))}</code></td>"
        f'<td class="n">{r["emails"]:,}</td><td>{e(r["first"])} to {e(r["last"])}</td>'
        f"<td>{e(r['approved_by'] or 'approved before the history started')}"
        f"{(' at ' + e(r['approved_at'])) if r['approved_at'] else ''}</td><td>{e(r['note'] or '')}</td></tr>"
        for r in rows)
    return ("<table><thead><tr><th>Email</th><th>Template version</th><th>Emails sent</th><th>Event dates</th>"
            f"<th>Approved by</th><th>Note</th></tr></thead><tbody>{body}</tbody></table>")


def _detail(rows: list[dict[str, Any]], limit: int = 200) -> str:
    e = html.escape
    names = [("date", "Date"), ("event_type", "Event"), ("locale", "Language"), ("variant", "Variant"),
             ("detected", "Detected"), ("holdout", "Held out"), ("contacted", "Emailed"), ("delivered", "Delivered"),
             ("opened", "Opened"), ("clicked", "Clicked"), ("unsubscribed", "Unsubscribed")]
    head = "".join(f"<th>{t}</th>" for _, t in names)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(k, r.get(k)))}</td>" for k, _ in names) + "</tr>"
                   for r in rows[-limit:])
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def render(summary: dict[str, Any] | None, *, approver: bool = False, rows: list[dict[str, Any]] | None = None,
           csv_name: str = "report.csv", uplift_csv: str = "uplift.csv") -> str:
    """The whole page (``rows``: the detail rows, read from the CSV only when shown)."""
    e = html.escape
    if summary is None:
        body = ("<p>No results yet: they are computed after each delivery run (the <code>outreach_delivery</code> "
                "DAG's <code>summarize_results</code> task).</p>")
        return _page(body)
    conv = summary["conversion"]
    answers = "".join(f'<li class="{e(a["kind"])}">{e(a["text"])}</li>' for a in summary["answers"])
    charts = summary.get("charts") or {}
    span = (f"Events from {e(summary['first_day'])} to {e(summary['last_day'])}; computed {e(summary['generated_at'])}."
            if summary.get("first_day") else "No events yet.")
    parts = [f'<h1>Is it working?</h1><p class="muted">{span} A conversion is a {e(conv["outcome"])} within '
             f'{conv["window_days"]} days of the event. Emailed customers are compared with the held-out ones, who '
             "got nothing.</p>",
             f'<ul class="answers" id="answers">{answers}</ul>',
             f'<p><a href="{e(csv_name)}">Download the results CSV</a> · <a href="{e(uplift_csv)}">Download the '
             "uplift CSV</a></p>",
             f'<h2>A/B tests</h2><div id="ab">{_ab(summary.get("ab") or [], approver)}</div>',
             "<h2>Per email</h2>" + charts.get("lift_event_type", "")
             + _uplift_table(summary["uplift"]["event_type"], "Email")]
    for by, title in (("locale", "Per language"), ("variant", "Per A/B variant")):
        parts.append(f"<details><summary>{title}</summary>{charts.get('lift_' + by, '')}"
                     f"{_uplift_table(summary['uplift'][by], title.split()[-1].capitalize())}</details>")
    parts.append(f"<details><summary>Over time</summary>{charts.get('events', '')}{charts.get('engagement', '')}"
                 "</details>")
    parts.append(f"<details><summary>Which template version customers got</summary>"
                 f"{_versions(summary.get('versions') or [])}</details>")
    if rows is not None:
        parts.append(f"<details><summary>Detail (latest {min(len(rows), 200)} of {len(rows):,} rows; the CSV has "
                     f"all)</summary>{_detail(rows)}</details>")
    parts.append('<p class="muted">Lift: the emailed customers\' conversion rate minus the held-out customers\', in '
                 "percentage points, with its 95% interval (Newcombe). Significant: p &lt; 0.05 (two-proportion "
                 "z-test). The numbers are those of <code>milestones uplift</code>.</p>")
    return _page("".join(parts))


def _page(body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Milestones results</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
            f"<body>{body}</body></html>")
