"""Run summaries page: what each run validated, detected, skipped and sent."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, JSONResponse

from milestones.config import load_settings

router = APIRouter()


def _summaries() -> list[dict]:
    from milestones import storage

    root = storage.root(load_settings()) / "runs"
    out = []
    for path in sorted(root.glob("*.json") if root.is_dir() else [], key=lambda p: p.name, reverse=True):
        try:
            out.append(storage.read_json(path))
        except (OSError, ValueError):
            continue
    return out


@router.get("/runs.json")
def runs_json() -> JSONResponse:
    return JSONResponse(_summaries())


@router.get("/", response_class=HTMLResponse)
def runs_page() -> str:
    rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(s.get(k, '')))}</td>" for k in
                         ("as_of", "rows", "quarantined", "events", "emails_sent", "skipped", "transport"))
        + "</tr>"
        for s in _summaries()
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Milestones runs</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{border:1px solid #ccc;padding:4px 8px}}
table{{border-collapse:collapse}}</style></head><body><h1>Milestones runs</h1>
<table><thead><tr><th>date</th><th>rows</th><th>quarantined</th><th>events</th><th>sent</th>
<th>skipped</th><th>transport</th></tr></thead><tbody>{rows or '<tr><td colspan=7>no runs yet</td></tr>'}
</tbody></table></body></html>"""
