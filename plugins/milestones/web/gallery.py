"""The template gallery inside the Airflow UI: the same pages ``milestones preview`` writes.

Pages are built in memory and cached until a template file changes (its path,
size or mtime), so marketing sees an edit on the next reload.
"""

from __future__ import annotations

import mimetypes
import threading
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import RedirectResponse, Response

from milestones.config import load_settings

router = APIRouter(prefix="/gallery")
_lock = threading.Lock()
_cache: dict[str, object] = {"stamp": None, "pages": {}}


def _stamp(templates_dir: Path) -> tuple:
    return tuple(sorted((str(p), p.stat().st_size, p.stat().st_mtime_ns)
                        for p in templates_dir.rglob("*") if p.is_file()))


def pages() -> dict[str, bytes]:
    """The gallery's pages, rebuilt when the templates directory changed."""
    from milestones.preview import gallery_pages

    settings = load_settings()
    templates_dir = Path(settings.templates_dir)
    stamp = (str(templates_dir), _stamp(templates_dir))
    with _lock:
        if _cache["stamp"] != stamp:
            _cache["pages"] = gallery_pages(templates_dir, settings.default_locale)
            _cache["stamp"] = stamp
        return _cache["pages"]  # type: ignore[return-value]


@router.get("", include_in_schema=False)
def gallery_root() -> RedirectResponse:
    # Relative links in the pages need the trailing slash.
    return RedirectResponse("gallery/", status_code=307)


@router.get("/")
def gallery_index() -> Response:
    return gallery_file("index.html")


@router.get("/{path:path}")
def gallery_file(path: str) -> Response:
    from milestones.catalog import CatalogError

    try:
        data = pages().get(path)
    except CatalogError as exc:
        raise HTTPException(status_code=500, detail=str(exc)) from None
    if data is None:
        raise HTTPException(status_code=404, detail=f"no gallery page {path!r}")
    media = mimetypes.guess_type(path)[0] or "application/octet-stream"
    if media.startswith("text/"):
        media += "; charset=utf-8"
    return Response(content=data, media_type=media)
