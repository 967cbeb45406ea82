"""An email's web version: ``GET /v/{token}`` ("view in your browser").

The token (:func:`milestones.core.links.sign_view`) holds the email's key and the day it
was rendered for, enciphered and signed: nothing in the URL says who it is for, and it
stops working after :data:`~milestones.core.links.VIEW_LIFETIME`. The page is the HTML
that was rendered for that email (the day's messages file), byte for byte: the email as
it was sent, not a new rendering. A bad, expired or unknown link gets the same friendly
page as a bad preference link.
"""

from __future__ import annotations

import datetime as dt

import anyio
from fastapi import FastAPI, Request
from starlette.responses import HTMLResponse, Response

from milestones.core import links, storage

#: The web version shows the email's own styles and its images (https), and runs nothing; no
#: link in it sends this page's address (which opens this email) in a Referer.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src https: 'self'; "
                               "form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "private, no-store",
    "X-Robots-Tag": "noindex",
}


def email_html(settings, key: str, day: str) -> str | None:
    """The HTML rendered for the email ``key`` on ``day``, or None when there is none."""
    try:
        when = dt.date.fromisoformat(day)
    except ValueError:
        return None
    path = storage.stage_dir(storage.root(settings), "messages", when) / "messages.parquet"
    try:
        rows = storage.parquet_records(path, "key", key)
    except (FileNotFoundError, OSError):
        return None
    return str(rows[0]["html"]) if rows else None


def add_webview(app: FastAPI, public, bad_link) -> None:
    settings = public.settings

    @app.get("/v/{token}")
    async def web_version(request: Request, token: str) -> Response:
        try:
            key, day = links.verify_view(public.keys, token)
        except links.LinkError as exc:
            return bad_link(request, exc)
        html = await anyio.to_thread.run_sync(email_html, settings, key, day)
        if html is None:
            return bad_link(request, links.LinkError("the email is no longer kept"))
        return HTMLResponse(html, headers=HEADERS)
