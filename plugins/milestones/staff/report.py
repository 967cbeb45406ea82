"""Results page for marketing and its CSV downloads, from the summary stored after each run.

The ``outreach_delivery`` DAG's ``summarize_results`` task writes ``results/`` in the data
directory (:func:`milestones.measure.summary.write`); the page and the downloads only read
it, so they answer at once at any size. Before the first summary exists the page computes
it once (small installations, tests) and stores it.
"""

from __future__ import annotations

import csv
import io

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from milestones.core import storage
from milestones.core.config import load_settings
from milestones.measure import summary

router = APIRouter()


def _stored(settings, name: str) -> str | None:
    path = storage.root(settings) / summary.RESULTS_DIR / name
    try:
        return storage.locate(path).read_text(encoding="utf-8")
    except OSError:
        return None


def _ensure(settings) -> dict | None:
    found = summary.read(settings)
    if found is None:
        summary.write(settings)
        found = summary.read(settings)
    return found


@router.get("/report/", response_class=HTMLResponse)
def report_page(request: Request) -> str:
    from milestones.measure import results_page
    from milestones.staff.access import may_approve

    settings = load_settings()
    result = _ensure(settings)
    text = _stored(settings, summary.REPORT_CSV)
    rows = list(csv.DictReader(io.StringIO(text))) if text else []
    for row in rows:
        for key, value in row.items():
            if value.isdigit():
                row[key] = int(value)
    return results_page.render(result, approver=may_approve(request), rows=rows)


def _download(settings, name: str, filename: str) -> Response:
    _ensure(settings)
    return Response(_stored(settings, name) or "", media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/report/report.csv")
def report_csv() -> Response:
    return _download(load_settings(), summary.REPORT_CSV, "results.csv")


@router.get("/report/uplift.csv")
def uplift_csv() -> Response:
    return _download(load_settings(), summary.UPLIFT_CSV, "uplift.csv")
