"""Results page for marketing (HTML with inline SVG charts) and its CSV."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, PlainTextResponse

from milestones import report
from milestones.config import load_settings

router = APIRouter()


def _rows():
    settings = load_settings()
    return report.build(settings.data_dir, settings.ledger_database_url)


@router.get("/report/", response_class=HTMLResponse)
def report_page() -> str:
    return report.to_html(_rows())


@router.get("/report/report.csv", response_class=PlainTextResponse)
def report_csv() -> PlainTextResponse:
    return PlainTextResponse(report.to_csv(_rows()), media_type="text/csv")
