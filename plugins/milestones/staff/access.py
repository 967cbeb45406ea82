"""Who may see the staff pages: Airflow's logged-in users, and nobody else.

:func:`milestones.staff.create_app` puts :func:`guard` in front of every route. In the
Airflow UI the plugin hands it Airflow's own ``get_user`` (the auth manager's JWT, from
the UI's cookie or an ``Authorization: Bearer`` header), so the pages answer exactly as
Airflow's API does: 401 without a login (a browser asking for a page is redirected to
Airflow's login page instead), 200 with one. Without such a dependency every page answers
401: the staff pages are never served open.

The approver's name on the gallery's Approve action is the auth manager's user name
(:func:`staff_name`), never free text. Who may approve (:func:`may_approve`) is the auth
manager's answer too: the plugin asks it whether the user may change the DAG that sends the
emails (``outreach_delivery``; with Airflow's simple auth manager: roles ``user``, ``op`` and
``admin``, not ``viewer``). Without that question every user is refused: nobody approves by default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from fastapi import Depends, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse

NOT_SERVED = "login required: the milestones staff pages are served inside the Airflow UI"


def guard(current_user: Callable[..., Any] | None,
          approver: Callable[[Any], bool] | None = None) -> Callable[..., Any]:
    """A route dependency: the logged-in user (via ``current_user``) or 401; ``approver(user)``
    says whether that user may approve templates (and roll back, promote or retire them)."""
    if current_user is None:
        async def deny() -> None:
            raise HTTPException(status_code=401, detail=NOT_SERVED)

        return deny

    # The dependency is a closure variable: a string annotation (PEP 563) could not name it.
    async def check(request: Request, user: Any = Depends(current_user)) -> None:  # noqa: B008
        name = user.get_name() if hasattr(user, "get_name") else str(user or "")
        if not name:
            raise HTTPException(status_code=401, detail="not authenticated")
        request.state.staff_name = name
        request.state.may_approve = bool(approver and approver(user))

    return check


def staff_name(request: Request) -> str:
    """The logged-in user's name, as the auth manager knows it."""
    return request.state.staff_name


def may_approve(request: Request) -> bool:
    """Whether the logged-in user holds the approver role (the auth manager's answer)."""
    return bool(getattr(request.state, "may_approve", False))


def require_approver(request: Request) -> str | None:
    """Why this request may not change templates (None when it may): not an approver, or cross-site."""
    if not may_approve(request):
        return (f"{staff_name(request)} is not an approver: approving, rolling back, promoting and retiring "
                f"templates needs the approver role (see the marketing guide)")
    if not same_origin(request):
        return "the request did not come from the milestones pages"
    return None


def same_origin(request: Request) -> bool:
    """A state-changing request came from our own pages (Origin, else Referer, names this host)."""
    source = request.headers.get("origin") or request.headers.get("referer") or ""
    return bool(source) and urlsplit(source).netloc == request.headers.get("host", "")


def install_login_redirect(app, login_url: Callable[[str], str] | None) -> None:
    """Send a browser that asks for a page without a login to ``login_url(next)``; others get 401."""
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def _unauthenticated(request: Request, exc: StarletteHTTPException):
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and wants_page and login_url is not None:
            return RedirectResponse(login_url(str(request.url.path)), status_code=303)
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
