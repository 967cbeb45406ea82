"""The public pages' HTML: Jinja2 templates with the words of each language.

Languages are those of the emails (en, fi, et, zh) with the same fallback
(``fi-FI`` -> ``fi`` -> ``en``).  Pages need no JavaScript: plain forms, labels
for every control, the page's ``lang``, and security headers that forbid
scripts, framing and leaking the link in a Referer.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from starlette.responses import HTMLResponse

from milestones.decide.preferences import LANGUAGES, PAUSE_MONTHS, State
from milestones.render.rendering import language_chain

HERE = Path(__file__).parent
#: The brand the pages carry and the templates directory its words and logo come from (set by
#: :func:`use_brand` when the app is created; the project's neutral brand until then).
_BRAND: dict[str, Any] = {"brand": None, "templates_dir": None}
LANGUAGE_NAMES = {"en": "English", "fi": "suomi", "et": "eesti", "zh": "中文"}
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "same-origin",  # the link never leaves in a Referer; forms keep their Origin
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(HERE / "templates")), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return env


@lru_cache(maxsize=8)
def texts(lang: str) -> dict[str, Any]:
    from milestones.core.yamlload import safe_load

    with open(HERE / "texts" / f"{lang}.yaml", encoding="utf-8") as fh:
        return safe_load(fh)


@lru_cache(maxsize=8)
def wording_version(lang: str) -> str:
    """The version of the wording a page in ``lang`` shows: its texts file's digest (consent proof)."""
    import hashlib

    digest = hashlib.sha256((HERE / "texts" / f"{lang}.yaml").read_bytes()).hexdigest()[:12]
    return f"page-{lang}-{digest}"


def pick_language(*candidates: str | None, accept: str = "") -> str:
    """The first supported language among the candidates, then the browser's, then English."""
    wanted = [c for c in candidates if c]
    for part in accept.split(","):
        tag = part.split(";")[0].strip()
        if tag and tag != "*":
            wanted.append(tag)
    for tag in wanted:
        for option in language_chain(tag, "")[:2]:
            if option.lower() in LANGUAGES:
                return option.lower()
    return "en"


def format_day(day: dt.date, lang: str) -> str:
    from babel.dates import format_date

    return format_date(day, "long", locale=lang)


def use_brand(brand, templates_dir: Path | str) -> None:
    """Carry ``brand`` (its name or logo on top, its legal name, address and links below) on every page."""
    _BRAND.update(brand=brand, templates_dir=Path(templates_dir))
    _message_body.cache_clear()


def brand_context(lang: str) -> dict[str, Any]:
    """The brand's part of a page: header, footer and its words in ``lang``."""
    from milestones.core.brand import default_brand
    from milestones.render import branding

    brand = _BRAND["brand"] or default_brand()
    words = branding.words(_BRAND["templates_dir"] or HERE, lang)
    links = [(getattr(brand, attr), words.get(word, word)) for attr, word in branding.FOOTER_LINKS
             if getattr(brand, attr)]
    logo = None
    if brand.logo:
        src = brand.logo.src if brand.logo.src.startswith("https://") else f"../assets/{brand.logo.src}"
        logo = {"src": src, "width": brand.logo.width, "height": brand.logo.height}
    return {"brand": brand.view(lang, ""), "brand_logo": logo, "brand_links": links}


def brand_css(brand) -> str:
    """The brand's colours on the pages (a stylesheet: the pages allow no inline styles)."""
    c = brand.colours
    return (f"html {{ background: {c['background']}; }}\n"
            f"h1, h2, .brand-name, .languages a, .sender a {{ color: {c['primary']}; }}\n"
            f"button {{ background: {c['primary']}; border-color: {c['primary']}; }}\n"
            "button.secondary { background: #ffffff; color: #8a1c1c; border-color: #8a1c1c; }\n")


def headers() -> dict[str, str]:
    """The security headers, with a hosted logo's origin allowed as an image source."""
    brand = _BRAND["brand"]
    if brand is None or brand.logo is None or not brand.logo.src.startswith("https://"):
        return HEADERS
    from urllib.parse import urlsplit

    parts = urlsplit(brand.logo.src)
    csp = HEADERS["Content-Security-Policy"].replace("img-src 'self'", f"img-src 'self' https://{parts.netloc}")
    return {**HEADERS, "Content-Security-Policy": csp}


def html(template: str, lang: str, status: int = 200, **context: Any) -> HTMLResponse:
    t = texts(lang)
    brand = brand_context(lang)
    body = environment().get_template(template).render(
        lang=lang, t=t, languages=list(LANGUAGE_NAMES.items()), root="../",
        title=f"{t['title']} · {brand['brand']['name']}", **brand, **context)
    return HTMLResponse(body, status_code=status, headers=headers())


def message(lang: str, heading_key: str, text_key: str, status: int = 200) -> HTMLResponse:
    """A page with one heading and one sentence (the same bytes every time: rendered once)."""
    return HTMLResponse(_message_body(lang, heading_key, text_key, status < 400), status_code=status,
                        headers=headers())


@lru_cache(maxsize=64)
def _message_body(lang: str, heading_key: str, text_key: str, confirm: bool) -> bytes:
    t = texts(lang)
    return html("message.html", lang, heading=t[heading_key], text=t[text_key], confirm=confirm).body


def preferences_page(*, lang: str, state: State, email: str, email_language: str, event_types: list[str],
                     csrf: str, action: str, today: dt.date, done: str = "", error: str = "",
                     focus_unsubscribe: bool = False, status: int = 200) -> HTMLResponse:
    from milestones.core.logsafe import mask_email

    t = texts(lang)
    paused = state.paused(today)
    if state.unsubscribed:
        summary = t["status_unsubscribed"]
    elif paused:
        summary = t["status_paused"].format(date=format_day(state.paused_until, lang))
    else:
        summary = t["status_receiving"]
    if paused:
        pause_options = [("", t["pause_keep"].format(date=format_day(state.paused_until, lang))),
                         ("resume", t["pause_resume"])]
    else:
        pause_options = [("", t["pause_none"])]
    pause_options += [(str(n), t["pause_months"].format(n=n)) for n in PAUSE_MONTHS]
    names = t["events"]
    return html("preferences.html", lang, status, state=state, summary=summary,
                address_line=t["address"].format(address=mask_email(email)),
                event_types=[(code, names.get(code, code.replace("_", " "))) for code in event_types],
                pause_options=pause_options, email_language=email_language, csrf=csrf, action=action,
                done=t[done] if done else "", error=t[error] if error else "",
                focus_unsubscribe=focus_unsubscribe)
