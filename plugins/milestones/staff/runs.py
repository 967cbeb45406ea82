"""Runs page: every run (validated, detected, skipped, sent) and every ingest, failed ones too.

An ingest is one extract the pipeline read: a CRM extract (``snapshots/D/validation.json``),
an outcomes extract (``outcomes/D/validation.json``), or a file refused before validation
(``ingest_failures/*.json``: unreadable, not UTF-8, a missing column). Failed ingests show
why, the quarantine count, the reasons as a table and a link to their Data Docs, served
through the UI. Neither the page nor ``runs.json`` holds a server path: paths are shown
relative to the data directory, extracts by file name.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse
from markupsafe import Markup

from milestones.core.config import load_settings
from milestones.staff.docs import link_for

router = APIRouter()


def relative(value: Any, data_dir: Path) -> Any:
    """``value`` with every absolute path made relative to ``data_dir`` (or cut to its file name)."""
    if isinstance(value, dict):
        return {k: relative(v, data_dir) for k, v in value.items()}
    if isinstance(value, list):
        return [relative(v, data_dir) for v in value]
    if isinstance(value, str) and value.startswith("/"):
        path = Path(value)
        try:
            return path.relative_to(data_dir).as_posix()
        except (ValueError, TypeError):
            return path.name
    return value


def _root():
    """The data directory (local, or the object-storage ``data_url``)."""
    from milestones.core import storage

    return storage.root(load_settings())


def _load(paths) -> list[dict[str, Any]]:
    from milestones.core import storage

    out = []
    for path in paths:
        try:
            out.append(storage.read_json(path))
        except (OSError, ValueError):
            continue
    return out


def summaries(data_dir: Path) -> list[dict[str, Any]]:
    runs = _load(sorted((data_dir / "runs").glob("*.json"), key=lambda p: p.name, reverse=True))
    return [relative({k: v for k, v in r.items() if k != "validation"}, data_dir) for r in runs]


def ingests(data_dir: Path) -> list[dict[str, Any]]:
    """Every ingest, newest first: kind, extract, date, counts, reasons, gate verdict, Data Docs link."""
    out = []
    for kind, pattern in (("customers", "snapshots/*/validation.json"), ("outcomes", "outcomes/*/validation.json")):
        for record in _load(data_dir.glob(pattern)):
            out.append({"kind": kind, "extract": Path(str(record.get("extract", ""))).name,
                        "date": record.get("snapshot_date") or record.get("date"),
                        "rows": record.get("rows"), "valid": record.get("valid"),
                        "quarantined": record.get("quarantined"), "reasons": record.get("reasons") or {},
                        "ok": bool(record.get("gate_passed")), "why": record.get("gate_message") or "",
                        "data_docs": link_for(record.get("data_docs"), data_dir)})
    for record in _load((data_dir / "ingest_failures").glob("*.json")):
        out.append({"kind": record.get("kind", "customers"), "extract": record.get("extract"),
                    "date": record.get("date"), "rows": None, "valid": None, "quarantined": None, "reasons": {},
                    "ok": False, "why": record.get("error", ""), "data_docs": None})
    return sorted(out, key=lambda r: (str(r["date"] or ""), str(r["extract"] or "")), reverse=True)


@router.get("/runs.json")
def runs_json() -> JSONResponse:
    data_dir = _root()
    return JSONResponse({"runs": summaries(data_dir), "ingests": ingests(data_dir)})


def _cell(value: Any) -> str:
    """A value as HTML: mappings as a small two-column table, never a Python dict."""
    if isinstance(value, Markup):
        return str(value)
    if isinstance(value, dict):
        if not value:
            return ""
        rows = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in value.items())
        return f'<table class="inner">{rows}</table>'
    if isinstance(value, list):
        return html.escape(", ".join(str(v) for v in value))
    return "" if value is None else html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], empty: str) -> str:
    head = "".join(f'<th scope="col">{html.escape(title)}</th>' for _, title in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(k))}</td>" for k, _ in columns) + "</tr>" for r in rows)
    return (f"<table><thead><tr>{head}</tr></thead><tbody>"
            f"{body or f'<tr><td colspan={len(columns)}>{empty}</td></tr>'}</tbody></table>")


@router.get("/", response_class=HTMLResponse)
def runs_page() -> str:
    data_dir = _root()
    shown = []
    for item in ingests(data_dir):
        docs = Markup('<a href="{}">Data Docs</a>').format(item["data_docs"]) if item["data_docs"] else ""
        shown.append({**item, "status": "passed" if item["ok"] else f"FAILED: {item['why']}", "docs": docs})
    ingest_table = _table(shown, [("kind", "kind"), ("extract", "extract"), ("date", "date"), ("status", "gate"),
                                  ("rows", "rows"), ("quarantined", "quarantined"), ("reasons", "reasons"),
                                  ("docs", "evidence")], "no extracts ingested yet")
    run_table = _table(summaries(data_dir), [("as_of", "date"), ("rows", "rows"), ("quarantined", "quarantined"),
                                             ("events", "events"), ("emails_sent", "sent"), ("skipped", "skipped"),
                                             ("transport", "transport")], "no runs yet")
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Milestones runs</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}
table{{border-collapse:collapse}}table.inner td{{border:none;padding:0 8px 0 0}}</style></head><body>
<h1>Milestones runs</h1><p><a href="runs.json">runs.json</a></p>
<h2>Runs</h2>{run_table}<h2>Ingested extracts</h2>{ingest_table}</body></html>"""
