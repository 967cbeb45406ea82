"""Rendering emails with sandboxed Jinja2: subject, HTML and text per customer.

Customer data is untrusted: the environment is sandboxed (a name like
``{{ 7*7 }}`` is data, never template code), HTML autoescapes (``<script>``
arrives as text), and undefined variables fail loudly (StrictUndefined) for
that one email, never as a blank.  Subjects are forced onto one line so that
customer data can never add a header.

Speed: a :class:`Renderer` compiles each template once.  CSS is inlined into
the *template source* when it is loaded (Jinja tags are swapped for inert
placeholders, css-inline runs, the tags are put back), so every email comes
out with inline styles without running the inliner per email.  Locale
resolution and Babel formatting are cached too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from milestones.core.brand import Brand, default_brand
from milestones.render import branding
from milestones.render.names import couple_name, display_name

PARTS = ("subject", "html", "text")
SUFFIX = {"subject": "subject.txt", "html": "html", "text": "txt"}
LAYOUT = "layouts/base.html"
#: Used when the catalog names no asset host (images must be https).
DEFAULT_ASSETS_URL = "https://milestones.example/email-assets"


class RenderError(Exception):
    """One email could not be rendered; the batch goes on."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str
    text: str
    template: str
    locale: str
    version: str
    #: The locale the customer asked for (before fallback).
    requested_locale: str = ""
    #: True when the customer's language has no translation and the default was used.
    missing_translation: bool = False


# --- locale handling -----------------------------------------------------------------------

def language_chain(locale: str | None, default: str = "en") -> list[str]:
    """``fi-FI`` -> ``["fi-FI", "fi", "en"]``; the default locale is always last."""
    chain: list[str] = []
    if locale:
        tag = locale.replace("_", "-")
        chain.append(tag)
        base = tag.split("-")[0].lower()
        if base not in chain:
            chain.append(base)
    if default not in chain:
        chain.append(default)
    return chain


def _language(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


@lru_cache(maxsize=256)
def babel_locale(requested: str | None, chosen: str):
    """The Babel locale for formatting: the customer's own (``en-GB``) when its
    language matches the template's, else the template's, so one email never
    mixes languages."""
    from babel import Locale, UnknownLocaleError

    for tag in (requested, chosen):
        if tag and _language(tag) == _language(chosen):
            try:
                return Locale.parse(tag.replace("-", "_"))
            except (UnknownLocaleError, ValueError):
                continue
    return Locale.parse("en")


# --- filters (Babel, cached: dates and ages repeat across a batch) -------------------------

@lru_cache(maxsize=4096)
def _format_date(value: dt.date, fmt: str, locale) -> str:
    from babel.dates import format_date

    return format_date(value, fmt, locale=locale)


@lru_cache(maxsize=4096)
def _format_number(value: int | float, locale) -> str:
    from babel.numbers import format_decimal

    return format_decimal(value, locale=locale)


_EN_ORDINAL = {"one": "st", "two": "nd", "few": "rd"}


@lru_cache(maxsize=4096)
def _ordinal(value: int, locale) -> str:
    """50 -> ``50th`` (en), ``50.`` (fi, et), ``第50`` (zh)."""
    lang = locale.language
    if lang == "en":
        return f"{value}{_EN_ORDINAL.get(locale.ordinal_form(value), 'th')}"
    if lang == "zh":
        return f"第{value}"
    return f"{value}."


def _fmt_locale(ctx) -> Any:
    return ctx.get("babel_locale") or babel_locale(None, "en")


@jinja2.pass_context
def format_date_filter(ctx, value: dt.date | dt.datetime | str, fmt: str = "long") -> str:
    """``{{ event.date|format_date }}`` in the email's locale; ``fmt``: short, medium, long, full or a pattern."""
    if value is None or isinstance(value, jinja2.Undefined):
        # Babel would print today's date for None: a missing date must fail the email instead.
        raise ValueError("format_date: the date is missing")
    if isinstance(value, dt.datetime):
        value = value.date()
    elif isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    return _format_date(value, fmt, _fmt_locale(ctx))


@jinja2.pass_context
def format_number_filter(ctx, value: int | float) -> str:
    return _format_number(value, _fmt_locale(ctx))


@jinja2.pass_context
def ordinal_filter(ctx, value: int) -> str:
    return _ordinal(int(value), _fmt_locale(ctx))


FILTERS: dict[str, Callable] = {
    "format_date": format_date_filter,
    "format_number": format_number_filter,
    "ordinal": ordinal_filter,
}


# --- CSS inlining at load time ---------------------------------------------------------------

_JINJA_TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
_STYLE = re.compile(r"<style[^>]*>(.*?)</style>", re.DOTALL | re.IGNORECASE)


def _protect(source: str) -> tuple[str, dict[str, str]]:
    """Swap each Jinja tag for an inert word the HTML parser leaves alone."""
    nonce = secrets.token_hex(4)
    saved: dict[str, str] = {}

    def swap(match: re.Match) -> str:
        key = f"jinja{nonce}x{len(saved)}x"
        saved[key] = match.group(0)
        return key

    return _JINJA_TAG.sub(swap, source), saved


def _restore(html: str, saved: dict[str, str], name: str) -> str:
    for key, tag in saved.items():
        if html.count(key) != 1:
            raise jinja2.TemplateSyntaxError(
                f"CSS inlining moved or dropped a template tag ({tag!r}); keep template tags inside "
                "element content or attribute values", 1, name)
        html = html.replace(key, tag)
    return html


#: Text directly inside these elements is moved out of them by every HTML parser ("foster parenting").
_NO_TEXT_INSIDE = frozenset({"table", "thead", "tbody", "tfoot", "tr", "colgroup"})


def _check_tag_positions(protected: str, saved: dict[str, str], name: str) -> None:
    """Refuse template tags the HTML parser would move (e.g. ``{% if %}`` between ``<tr>`` and ``<td>``)."""
    from html.parser import HTMLParser

    class Walker(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.stack: list[str] = []

        def handle_starttag(self, tag, attrs):
            if tag not in ("br", "img", "meta", "link", "hr", "input", "col", "source", "wbr"):
                self.stack.append(tag)

        def handle_endtag(self, tag):
            if tag in self.stack:
                del self.stack[len(self.stack) - 1 - self.stack[::-1].index(tag):]

        def handle_data(self, data):
            if self.stack and self.stack[-1] in _NO_TEXT_INSIDE:
                for key in saved:
                    if key in data:
                        raise jinja2.TemplateSyntaxError(
                            f"CSS inlining moved or dropped a template tag ({saved[key]!r} directly inside "
                            f"<{self.stack[-1]}>); put it inside a <td> or around the whole table", 1, name)

    Walker().feed(protected)


#: Put first in the kept <style>: no client's default 8 px margin around the email (the layout has
#: no <body> tag to put it on). Gmail's basic mobile webmail ignores type selectors: its own frame stays.
RESET_CSS = "body { margin: 0 !important; padding: 0 !important; } "
_CHARSET = re.compile(r"\s*<meta charset=\"utf-8\">", re.IGNORECASE)


def _charset_first(html: str) -> str:
    """``<meta charset>`` as the head's first element (the inliner puts the kept <style>
    before it): the HTML spec wants it within the first 1,024 bytes."""
    if not _CHARSET.search(html):
        return html
    html = _CHARSET.sub("", html, count=1)
    return re.sub(r"<head>", '<head><meta charset="utf-8">', html, count=1, flags=re.IGNORECASE)


def inline_source(source: str, name: str, layout_css: str) -> str:
    """Inline CSS into a template's source: a whole document (the layout) or a fragment (a child)."""
    import css_inline

    protected, saved = _protect(source)
    _check_tag_positions(protected, saved, name)
    if "<html" in protected.lower():
        # Media queries cannot be inlined: keep them in a <style> for responsive clients.
        out = css_inline.CSSInliner(keep_at_rules=True).inline(protected)
        if "<body" not in protected.lower():
            # A layout without <body> (HTML implies it; Outlook for Mac drops it) stays without one.
            out = re.sub(r"</?body>", "", out)
        out = _charset_first(out.replace("<style>", "<style>" + RESET_CSS, 1))
    else:
        out = css_inline.inline_fragment(protected, layout_css)
    return _restore(out, saved, name)


class InliningLoader(jinja2.FileSystemLoader):
    """A file loader that returns ``.html`` sources with the layout's CSS already inlined."""

    def __init__(self, searchpath: str | Path, brand: Brand | None = None):
        super().__init__(str(searchpath))
        self.inlined: list[str] = []  # names inlined, for tests and the benchmark
        self.brand = brand

    def layout_css(self, environment: jinja2.Environment) -> str:
        source, _, _ = super().get_source(environment, LAYOUT)
        # Styles inside comments (Outlook's <!--[if mso]> block) are for those clients alone.
        return "\n".join(_STYLE.findall(re.sub(r"<!--.*?-->", "", source, flags=re.DOTALL)))

    def get_source(self, environment, template):
        source, filename, uptodate = super().get_source(environment, template)
        if template.endswith(".html"):
            source = branding.recolour(inline_source(source, template, self.layout_css(environment)), self.brand)
            self.inlined.append(template)
        return source, filename, uptodate


# --- the renderer ----------------------------------------------------------------------------

#: How every email's template source is compiled (besides the sandbox and autoescaping).
SYNTAX = {"trim_blocks": True, "lstrip_blocks": True, "keep_trailing_newline": False}


def _bytecode_cache(inline_css: bool) -> jinja2.BytecodeCache | None:
    """Compiled templates kept between processes: compiling the catalog's templates was
    about half a second of every rendering process.

    In Jinja's per-user temporary directory (mode 0700, checked to be the user's own), one
    file per template, used only while its source (after CSS inlining) is unchanged. What
    else shapes the compiled code (the sandbox, autoescaping, :data:`SYNTAX`, inlining) is
    in the file names, so no other environment reads these files.
    """
    shape = repr((ImmutableSandboxedEnvironment.__name__, "autoescape:html", sorted(SYNTAX.items()), inline_css))
    pattern = f"__milestones_{hashlib.sha256(shape.encode()).hexdigest()[:12]}_%s.cache"
    try:
        return jinja2.FileSystemBytecodeCache(pattern=pattern)
    except (OSError, RuntimeError):  # no safe temporary directory: compile every time
        return None


def make_environment(templates_dir: Path | str, *, inline_css: bool = True,
                     brand: Brand | None = None) -> jinja2.Environment:
    """The sandboxed, autoescaping, strict environment every email is rendered in (HTML in ``brand``'s colours)."""
    loader = (InliningLoader(templates_dir, brand) if inline_css
              else jinja2.FileSystemLoader(str(templates_dir)))
    env = ImmutableSandboxedEnvironment(
        loader=loader,
        bytecode_cache=_bytecode_cache(inline_css),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        auto_reload=False,  # a Renderer is built per batch: no stat() per email
        **SYNTAX,
    )
    env.filters.update(FILTERS)
    return env


class Renderer:
    """Renders the emails of one batch from one templates directory.

    Build one per batch (or per gallery build): it caches compiled templates,
    locale resolution and version hashes, so edits made between batches are
    picked up and nothing is re-read per email.
    """

    def __init__(self, templates_dir: Path | str, default_locale: str = "en", *,
                 assets_url: str | None = None, brand: Brand | None = None):
        self.templates_dir = Path(templates_dir)
        self.default_locale = default_locale
        self.brand = brand or default_brand()
        self.env = make_environment(self.templates_dir, brand=self.brand)
        catalog = self._catalog()
        self.assets_url = (assets_url or (catalog.assets_url if catalog else "") or DEFAULT_ASSETS_URL).rstrip("/")
        self.env.globals["assets_url"] = self.assets_url
        #: The main action of each event type (catalog ``action``): an https URL or a path on the website.
        self.actions = {e.event_type: e.action for e in catalog.templates.values()} if catalog else {}
        self._resolved: dict[tuple[str, str | None], tuple[str, bool]] = {}
        self._templates: dict[str, tuple[jinja2.Template, ...]] = {}
        self._branded: dict[tuple[str, str, str], dict[str, Any]] = {}

    def _catalog(self):
        from milestones.render.catalog import CatalogError, load_catalog

        try:
            return load_catalog(self.templates_dir)
        except CatalogError:
            return None

    def branded(self, event_type: str, chosen: str, variant: str, view_url: str) -> dict[str, Any]:
        """The brand's part of the context: cached per event, language and variant; the email's own
        view link (tagged) is added to the footer's links."""
        key = (event_type, chosen, variant)
        found = self._branded.get(key)
        if found is None:
            found = self._branded[key] = branding.context(
                self.brand, self.templates_dir, chosen, self.assets_url, event_type=event_type, variant=variant,
                action=self.actions.get(event_type, ""))
        if not view_url:
            return found
        view = branding.tag(view_url, source=self.brand.utm_source, campaign=event_type, content=variant)
        return {**found, "footer_links": [*found["footer_links"], (view, found["words"]["view_online"])]}

    def resolve(self, event_type: str, locale: str | None) -> tuple[str, bool]:
        """``(chosen locale, missing translation?)`` following ``fi-FI -> fi -> default``."""
        key = (event_type, locale)
        if key not in self._resolved:
            chain = language_chain(locale, self.default_locale)
            for candidate in chain:
                if all((self.templates_dir / event_type / f"{candidate}.{SUFFIX[p]}").is_file() for p in PARTS):
                    missing = bool(locale) and _language(candidate) != _language(locale)
                    self._resolved[key] = (candidate, missing)
                    break
            else:
                raise RenderError(f"no template for event {event_type!r} in any of {chain}")
        return self._resolved[key]

    def templates(self, event_type: str, chosen: str, variant: str = "") -> tuple[jinja2.Template, ...]:
        """The three parts; an A/B ``variant``'s own files (``<event>/variants/<v>/``) replace the base's."""
        name = f"{event_type}/{chosen}"
        key = f"{name}#{variant}"
        if key not in self._templates:
            parts = []
            for p in PARTS:
                own = f"{event_type}/variants/{variant}/{chosen}.{SUFFIX[p]}"
                parts.append(own if variant and (self.templates_dir / own).is_file() else f"{name}.{SUFFIX[p]}")
            try:
                loaded = tuple(self.env.get_template(part) for part in parts)
            except jinja2.TemplateError as exc:
                raise RenderError(f"{name}: template error: {type(exc).__name__}: {exc}") from None
            for template in loaded:
                # Jinja keeps a template's globals as a ChainMap over the environment's and
                # copies them, key by key in Python, into every render's context (a third of
                # the time of an email's three renders). This environment's globals are set
                # before any template loads and never change: one plain dict does the same.
                template.globals = dict(template.globals)
            self._templates[key] = loaded
        return self._templates[key]

    def render(self, event_type: str, locale: str | None, context: dict[str, Any], variant: str = "") -> Rendered:
        """Subject, HTML and text for one customer (of A/B ``variant``, base if empty or ``base``);
        :class:`RenderError` says why not."""
        chosen, missing = self.resolve(event_type, locale)
        subject_t, html_t, text_t = self.templates(event_type, chosen, "" if variant == "base" else variant)
        person = context.get("customer") or {}
        ctx = {**context, **self.branded(event_type, chosen, variant or "base", context.get("view_url") or ""),
               "babel_locale": babel_locale(locale, chosen), "template_locale": chosen,
               "display_name": couple_name(person, person["partner"], chosen) if person.get("partner")
               else display_name(person.get("first_name"), person.get("last_name"), chosen)}
        try:
            subject, html, text = subject_t.render(ctx), html_t.render(ctx), text_t.render(ctx)
        except jinja2.UndefinedError as exc:
            raise RenderError(f"{event_type}/{chosen}: undefined variable ({exc.message})") from None
        except jinja2.TemplateError as exc:
            raise RenderError(f"{event_type}/{chosen}: {type(exc).__name__}: {exc}") from None
        except (TypeError, ValueError, AttributeError) as exc:
            # A filter given a value of the wrong kind, e.g. a date that is not a date.
            raise RenderError(f"{event_type}/{chosen}: {type(exc).__name__}: {exc}") from None
        subject = one_line(subject)
        if not subject:
            raise RenderError(f"{event_type}/{chosen}: empty subject")
        if not text.strip() or not html.strip():
            raise RenderError(f"{event_type}/{chosen}: empty body")
        return Rendered(subject=subject, html=html, text=text.strip() + "\n", template=event_type,
                        locale=chosen, version=template_version(str(self.templates_dir), event_type, chosen),
                        requested_locale=locale or "", missing_translation=missing)


@lru_cache(maxsize=256)
def template_version(templates_dir: str, event_type: str, locale: str) -> str:
    """Content hash of a template's three parts and the shared layouts (the ledger's version)."""
    root = Path(templates_dir)
    digest = hashlib.sha256()
    files = [root / event_type / f"{locale}.{SUFFIX[p]}" for p in PARTS]
    files += sorted((root / "layouts").glob("*"))
    for f in files:
        digest.update(f.name.encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def one_line(text: str) -> str:
    """Collapse all whitespace (CR, LF, tabs, Unicode line separators) into single spaces."""
    return " ".join(text.split())


@lru_cache(maxsize=8)
def _renderer(templates_dir: str, default_locale: str) -> Renderer:
    return Renderer(templates_dir, default_locale)


def render_email(templates_dir: Path, event_type: str, locale: str | None,
                 context: dict[str, Any], default_locale: str = "en") -> Rendered:
    """Render subject, HTML and text for one customer and event (cached renderer per directory)."""
    return _renderer(str(templates_dir), default_locale).render(event_type, locale, context)


def _as_date(value: Any) -> dt.date | None:
    if value is None or value == "" or value != value:  # NaN and NaT are not equal to themselves
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if hasattr(value, "date"):  # pandas Timestamp
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


def email_context(customer: dict[str, Any], event: dict[str, Any], *, unsubscribe_url: str,
                  locale: str, preferences_url: str | None = None, view_url: str = "") -> dict[str, Any]:
    """The variables a template sees. Only these: nothing else of the customer's record.

    ``name`` is the first name as given (templates put it where no case ending
    is needed); ``event.milestone`` is the milestone year count (0 when this
    year is not a milestone), so templates can say "50th" only when it is one.
    ``preferences_url`` is the customer's preference center (default: the
    unsubscribe URL, whose GET shows the same page); ``view_url`` the email's web version.
    ``event.inferred`` is true when the event was inferred from a change in the customer's
    data (``source`` ``change``), not read from a recorded date: its words never say "today".
    """
    first = str(customer.get("first_name") or "").strip()
    milestone = int(event.get("milestone") or 0)
    partner = customer.get("partner")
    source = str(event.get("source") or "")
    return {
        "name": first,
        "customer": {
            "first_name": first,
            "last_name": str(customer.get("last_name") or "").strip(),
            "since": _as_date(customer.get("customer_since")),
            # A couple on one address (decide.inbox): the greeting names both.
            **({"partner": {"first_name": str(partner.get("first_name") or "").strip(),
                            "last_name": str(partner.get("last_name") or "").strip()}} if partner else {}),
        },
        "event": {
            "type": event["event_type"],
            "date": _as_date(event["event_date"]),
            "years": int(event.get("years") or 0),
            "milestone": milestone,
            "is_milestone": milestone > 0,
            # Inferred from a change between two snapshots (student -> employed), not a recorded
            # date: the wording must not claim "our records show ... today".
            "source": source,
            "inferred": source == "change",
        },
        "unsubscribe_url": unsubscribe_url,
        "view_url": view_url,
        "preferences_url": preferences_url or unsubscribe_url,
        "locale": locale,
    }
