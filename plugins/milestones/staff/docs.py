"""Great Expectations Data Docs, served through the UI (behind its login), not as file:// paths."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, RedirectResponse

from milestones.core.config import load_settings

router = APIRouter(prefix="/docs")
#: Where GX writes the static site under ``DATA_DIR/docs``.
SITE = Path("gx") / "uncommitted" / "data_docs" / "local_site"


def site_root(data_dir: Path | str) -> Path:
    return Path(data_dir) / "docs" / SITE


def link_for(page: str | None, data_dir: Path | str) -> str | None:
    """The UI link (relative to the plugin root) of a Data Docs page recorded in a summary."""
    if not page:
        return None
    path = Path(page)
    root = site_root(data_dir)
    if not path.is_absolute():
        path = Path(data_dir) / "docs" / path
    try:
        return "docs/" + path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return None


@router.get("", include_in_schema=False)
def docs_root() -> RedirectResponse:
    return RedirectResponse("docs/index.html", status_code=307)


@router.get("/{path:path}")
def docs_file(path: str) -> FileResponse:
    root = site_root(load_settings().data_dir).resolve()
    target = (root / (path or "index.html")).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise HTTPException(status_code=404, detail=f"no Data Docs page {path!r}")
    return FileResponse(target, media_type=mimetypes.guess_type(target.name)[0] or "application/octet-stream")
