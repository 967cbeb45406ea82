"""The public app (``milestones serve``): what customers and SendGrid reach.

* ``GET /u/{token}``, ``GET /preferences/{token}``: the preference page (a GET never changes anything:
  mail scanners follow links);
* ``POST /u/{token}`` with the body ``List-Unsubscribe=One-Click`` (RFC 8058): unsubscribe from all
  milestone emails, 200, no redirect, cookie or login;
* ``POST /preferences/{token}``: the page's forms (CSRF-protected), then a redirect to the page;
* ``POST /webhook/sendgrid``: the SendGrid event webhook;
* ``GET /v/{token}``: an email's web version ("view in your browser", :mod:`milestones.public.webview`);
* ``GET /assets/...``: the email images from ``templates/assets``; ``GET /healthz``.

Database work runs on worker threads, never on the event loop.  A bad, tampered or
expired link gets a friendly page in the customer's language and a 4xx status.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from functools import partial
from pathlib import Path
from urllib.parse import quote

import anyio
from fastapi import FastAPI, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from milestones.core import links, pseudonym
from milestones.core.config import Settings, load_settings
from milestones.decide.preferences import LANGUAGES, Change, Preferences, State, pause_until
from milestones.public import csrf, pages
from milestones.public.bodies import BadForm, read_form
from milestones.public.writer import Writer
from milestones.public.writer_process import WriterProcess

ONE_CLICK_BODY = "List-Unsubscribe=One-Click"


class PublicApp:
    """The state one server process shares between requests."""

    def __init__(self, settings: Settings):
        from milestones.detect.events import load_rules

        self.settings = settings
        self.keys = links.load_keys(settings.data_dir)
        self.store = Preferences(settings.ledger_database_url)
        self.event_types = [rule.event_type for rule in load_rules()]
        if settings.writer_process:
            self.writer: Writer | WriterProcess = WriterProcess(
                settings.ledger_database_url, settings.asm_group_id, settings.webhook_public_key,
                settings.webhook_replay_seconds)
        else:
            self.writer = Writer(self.store, self._feedback)

    def close(self) -> None:
        """Stop the database writer once what it holds is written and answered."""
        self.writer.close()

    def _feedback(self):
        from milestones.measure.feedback import Feedback

        return Feedback(self.settings.ledger_database_url, asm_group_id=self.settings.asm_group_id)

    def link(self, token: str) -> links.Link:
        return links.verify(self.keys, token)


def _bad_link(request: Request, exc: links.LinkError) -> Response:
    lang = pages.pick_language(request.query_params.get("lang"), accept=request.headers.get("accept-language", ""))
    expired = "expired" in str(exc)
    return pages.message(lang, "bad_link_title", "expired_text" if expired else "bad_link_text",
                         status=410 if expired else 400)


def _refused_form(exc: BadForm) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def create_app(settings: Settings | None = None) -> FastAPI:
    from milestones.core import logsafe

    logsafe.install()  # no credential in any log line or traceback of the server
    settings = settings or load_settings()
    public = PublicApp(settings)
    privacy_key = pseudonym.load_key(settings.data_dir)  # consent proof: the client address, hashed
    from milestones.core.brand import brand_of

    brand = brand_of(settings)
    pages.use_brand(brand, settings.templates_dir)

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        await anyio.to_thread.run_sync(public.close)

    app = FastAPI(title="milestones public", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.public = public
    # Few threads for the server's own database reads (pages, healthz); writes go to the writer.
    db_threads = anyio.CapacityLimiter(4)

    async def in_thread(fn, *args, **kwargs):
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), limiter=db_threads)

    async def page(request: Request, token: str, *, focus_unsubscribe: bool) -> Response:
        try:
            link = public.link(token)
        except links.LinkError as exc:
            return _bad_link(request, exc)
        state: State = await in_thread(public.store.get, link.customer_id)
        lang = pages.pick_language(request.query_params.get("lang"), state.language, link.language,
                                   accept=request.headers.get("accept-language", ""))
        done = request.query_params.get("done", "")
        return pages.preferences_page(
            lang=lang, state=state, email=link.email, email_language=_email_language(state, link),
            event_types=public.event_types, csrf=csrf.issue(public.keys, token),
            action=f"../preferences/{quote(token, safe='')}", today=dt.date.today(),
            done=done if done in ("saved", "unsubscribed_done", "resubscribed_done") else "",
            focus_unsubscribe=focus_unsubscribe)

    @app.api_route("/u/{token}", methods=["GET", "HEAD"])  # HEAD: the same answer, no body
    async def unsubscribe_page(request: Request, token: str) -> Response:
        return await page(request, token, focus_unsubscribe=True)

    @app.api_route("/preferences/{token}", methods=["GET", "HEAD"])  # HEAD: the same answer, no body
    async def preferences_page(request: Request, token: str) -> Response:
        return await page(request, token, focus_unsubscribe=False)

    async def one_click(request: Request) -> Response:
        token = request.path_params["token"]
        try:
            link = public.link(token)
        except links.LinkError as exc:
            return _bad_link(request, exc)
        try:
            form = await read_form(request)
        except BadForm as exc:
            return _refused_form(exc)
        if form.get("List-Unsubscribe") != ["One-Click"]:
            return pages.message(pages.pick_language(link.language), "bad_link_title", "bad_link_text", status=400)
        await public.writer.choice(link.customer_id, Change(unsubscribed=True), "one_click", link.email)
        return pages.message(pages.pick_language(link.language), "heading", "unsubscribed_done")

    app.add_route("/u/{token}", one_click, methods=["POST"])
    app.state.one_click = one_click

    @app.post("/preferences/{token}")
    async def save(request: Request, token: str) -> Response:
        try:
            link = public.link(token)
        except links.LinkError as exc:
            return _bad_link(request, exc)
        try:
            form = await read_form(request)
        except BadForm as exc:
            return _refused_form(exc)
        first = {k: v[0] for k, v in form.items() if v}
        lang = pages.pick_language(first.get("lang"), link.language)
        if not csrf.same_site(request.headers, settings.public_url) or \
                not csrf.valid(public.keys, token, first.get("csrf", "")):
            state = await in_thread(public.store.get, link.customer_id)
            return pages.preferences_page(
                lang=lang, state=state, email=link.email, email_language=_email_language(state, link),
                event_types=public.event_types, csrf=csrf.issue(public.keys, token),
                action=f"../preferences/{quote(token, safe='')}", today=dt.date.today(),
                error="form_expired", status=403)
        action = first.get("action", "save")
        if action == "unsubscribe":
            change, done = Change(unsubscribed=True), "unsubscribed_done"
        elif action == "resubscribe":
            change, done = Change(unsubscribed=False), "resubscribed_done"
        else:
            change, done = _choices(form, first, public.event_types), "saved"
        if change.language and change.language == first.get("language_was"):
            change = dataclasses.replace(change, language=None)  # left as shown: nothing to record
        client = request.client.host if request.client else ""
        proof = {"wording": pages.wording_version(lang),
                 "client_hash": pseudonym.keyed_hash(privacy_key, "client", client) if client else None}
        await public.writer.choice(link.customer_id, change, "page", link.email, proof)
        target = f"../preferences/{quote(token, safe='')}?done={done}&lang={lang}"
        return RedirectResponse(target, status_code=303, headers=pages.HEADERS)

    from milestones.public.webhook import add_webhook

    add_webhook(app, public)

    from milestones.public.webview import add_webview

    add_webview(app, public, _bad_link)

    @app.api_route("/healthz", methods=["GET", "HEAD"])  # HEAD: the same answer, no body
    async def healthz() -> Response:
        await in_thread(public.store.get, "healthz")
        return JSONResponse({"ok": True})

    assets = Path(settings.templates_dir) / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=str(assets)), name="assets")
    app.mount("/static", StaticFiles(directory=str(pages.HERE / "static")), name="static")

    brand_css = pages.brand_css(brand)

    @app.get("/brand.css")
    async def brand_stylesheet() -> Response:
        return Response(brand_css, media_type="text/css", headers={"Cache-Control": "max-age=3600"})

    return app


class OneClickFastPath:
    """ASGI wrapper: ``POST /u/{token}``, the busiest request, skips the framework's middleware
    and routing (about a third of its CPU); everything else goes to the FastAPI app."""

    def __init__(self, app: FastAPI):
        self.app = app
        self.state = app.state
        self._handler = app.state.one_click

    async def __call__(self, scope, receive, send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or scope["method"] != "POST" or not path.startswith("/u/") or \
                "/" in path[3:] or len(path) < 4:
            return await self.app(scope, receive, send)
        request = Request({**scope, "path_params": {"token": path[3:]}}, receive)
        try:
            response = await self._handler(request)
        except Exception:  # noqa: BLE001 - answered 500 like the framework would, logged
            import logging

            logging.getLogger(__name__).exception("one-click failed")
            response = Response("Internal Server Error", status_code=500, media_type="text/plain")
        await response(scope, receive, send)


def _email_language(state: State, link: links.Link) -> str:
    return pages.pick_language(state.language, link.language)


def _choices(form: dict[str, list[str]], first: dict[str, str], event_types: list[str]) -> Change:
    """The save form: the kinds of email ticked, a pause, the language of future emails."""
    receive = set(form.get("receive", []))
    pause = first.get("pause", "")
    paused = None
    if pause == "resume":
        paused = dt.date.min
    elif pause.isdigit() and int(pause) in (3, 6, 12):
        paused = pause_until(dt.date.today(), int(pause))
    language = first.get("language")
    return Change(opted_out=frozenset(t for t in event_types if t not in receive), paused_until=paused,
                  language=language if language in LANGUAGES else None)
