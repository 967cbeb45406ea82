"""The template gallery inside the Airflow UI: the same pages ``milestones preview`` writes.

Pages are built in memory and cached until a template file changes (its path,
size or mtime), so marketing sees an edit on the next reload.
"""

from __future__ import annotations

import mimetypes
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from milestones.core.config import load_settings

router = APIRouter(prefix="/gallery")
_lock = threading.Lock()
_cache: dict[bool, dict[str, object]] = {True: {"stamp": None, "pages": {}}, False: {"stamp": None, "pages": {}}}


def _stamp(templates_dir: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in templates_dir.rglob("*") if p.is_file()))


def pages(approver: bool = False) -> dict[str, bytes]:
    """The gallery's pages, rebuilt when the templates directory changed; Approve buttons only for approvers,
    a link to each template's history and changes for everyone."""
    from milestones.render.history import keep_approved
    from milestones.render.preview import gallery_pages

    settings = load_settings()
    templates_dir = Path(settings.templates_dir)
    keep_approved(templates_dir)  # before anyone edits them: the approved versions to compare with
    stamp = (str(templates_dir), _stamp(templates_dir))
    cache = _cache[approver]
    with _lock:
        if cache["stamp"] != stamp:
            from milestones.core.brand import brand_of

            cache["pages"] = gallery_pages(templates_dir, settings.default_locale, approve=approver, history=True,
                                           brand=brand_of(settings))
            cache["stamp"] = stamp
        return cache["pages"]  # type: ignore[return-value]


@router.get("", include_in_schema=False)
def gallery_root() -> RedirectResponse:
    # Relative links in the pages need the trailing slash.
    return RedirectResponse("gallery/", status_code=307)


@router.post("/approve")
async def approve(request: Request) -> HTMLResponse:
    """Approve a template or one of its A/B variants as the logged-in Airflow user.

    Refused (409, the reasons named) when it fails to render or lint for a sample customer;
    403 for a user without the approver role or a request that did not come from our own pages.
    """
    from milestones.render.catalog import CatalogError
    from milestones.render.templatecheck import approve as approve_checked
    from milestones.staff.access import require_approver, staff_name

    refused = require_approver(request)
    if refused:
        return HTMLResponse(_result_page("Not approved", refused), 403)
    form = await request.form()
    name, variant = str(form.get("template") or ""), str(form.get("variant") or "base")
    settings = load_settings()
    try:
        approval = approve_checked(settings.templates_dir, name, staff_name(request), variant=variant,
                                   default_locale=settings.default_locale, note=str(form.get("note") or ""))
    except CatalogError as exc:
        return HTMLResponse(_result_page("Not approved", str(exc)), 409)
    label = name if variant == "base" else f"{name} (variant {variant})"
    return HTMLResponse(_result_page("Approved", f"{label} approved by {approval.by} at {approval.at} "
                                                 f"({approval.hash[:19]}…)."))


def _result_page(title: str, text: str) -> str:
    import html

    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title></head>'
            f'<body style="font-family:system-ui,sans-serif;margin:2em"><h1>{html.escape(title)}</h1>'
            f'<p id="result">{html.escape(text)}</p><p><a href="./">Back to the templates</a></p></body></html>')


@router.get("/")
def gallery_index(request: Request) -> Response:
    return gallery_file("index.html", request)


@router.get("/{path:path}")
def gallery_file(path: str, request: Request) -> Response:
    from milestones.render.catalog import CatalogError
    from milestones.staff.access import may_approve

    try:
        data = pages(may_approve(request)).get(path)
    except CatalogError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None
    if data is None:
        raise HTTPException(status_code=404, detail=f"no gallery page {path!r}")
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return Response(content=data, media_type=media)
