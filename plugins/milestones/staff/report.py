"""Results page for marketing (matplotlib SVG charts) and its CSV downloads."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from milestones.core import storage
from milestones.core.config import load_settings
from milestones.measure import report

router = APIRouter()


@router.get("/report/", response_class=HTMLResponse)
def report_page() -> str:
    return report.to_html(report.results(load_settings()), csv_name="report.csv", uplift_csv="uplift.csv")


@router.get("/report/report.csv")
def report_csv() -> Response:
    settings = load_settings()
    rows = report.build(storage.root(settings), settings.ledger_database_url)
    return Response(report.to_csv(rows), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="results.csv"'})


@router.get("/report/uplift.csv")
def uplift_csv() -> Response:
    from milestones.core import csvsafe
    from milestones.measure import uplift

    rows = uplift.compute(load_settings(), by="event_type")
    return Response(csvsafe.write_rows(rows, uplift.COLUMNS), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="uplift.csv"'})
