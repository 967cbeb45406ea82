"""Rendering emails with sandboxed Jinja2: subject, HTML and text per customer.

Customer data is untrusted: the environment is sandboxed (a name like
``{{ 7*7 }}`` is data, never template code), HTML autoescapes (``<script>``
arrives as text), and undefined variables fail loudly (StrictUndefined) for
that one email, never as a blank.  Subjects are forced onto one line so that
customer data can never add a header.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

PARTS = ("subject", "html", "text")
SUFFIX = {"subject": "subject.txt", "html": "html", "text": "txt"}


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


@lru_cache(maxsize=8)
def environment(templates_dir: str) -> jinja2.Environment:
    """One environment per templates directory: compiled templates are cached in it."""
    env = ImmutableSandboxedEnvironment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )
    return env


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


def resolve(templates_dir: Path, event_type: str, locale: str | None, default: str = "en") -> str:
    """The locale whose templates exist for ``event_type`` (following the fallback chain)."""
    for candidate in language_chain(locale, default):
        if all((templates_dir / event_type / f"{candidate}.{SUFFIX[p]}").is_file() for p in PARTS):
            return candidate
    raise RenderError(f"no template for event {event_type!r} in any of {language_chain(locale, default)}")


@lru_cache(maxsize=256)
def template_version(templates_dir: str, event_type: str, locale: str) -> str:
    """Content hash of a template's three parts and the shared layouts."""
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


def render_email(templates_dir: Path, event_type: str, locale: str | None,
                 context: dict[str, Any], default_locale: str = "en") -> Rendered:
    """Render subject, HTML and text for one customer and event."""
    chosen = resolve(templates_dir, event_type, locale, default_locale)
    env = environment(str(templates_dir))
    try:
        parts = {p: env.get_template(f"{event_type}/{chosen}.{SUFFIX[p]}").render(context)
                 for p in PARTS}
    except jinja2.UndefinedError as exc:
        raise RenderError(f"{event_type}/{chosen}: undefined variable ({exc.message})") from None
    except jinja2.TemplateError as exc:
        raise RenderError(f"{event_type}/{chosen}: {type(exc).__name__}: {exc}") from None
    subject = one_line(parts["subject"])
    if not subject:
        raise RenderError(f"{event_type}/{chosen}: empty subject")
    return Rendered(
        subject=subject,
        html=parts["html"],
        text=parts["text"].strip() + "\n",
        template=event_type,
        locale=chosen,
        version=template_version(str(templates_dir), event_type, chosen),
    )


def email_context(customer: dict[str, Any], event: dict[str, Any], *, unsubscribe_url: str,
                  locale: str) -> dict[str, Any]:
    """The variables a template sees. Only these: nothing else of the customer's record."""
    event_date = event["event_date"]
    if hasattr(event_date, "date"):
        event_date = event_date.date()
    return {
        "customer": {
            "first_name": customer.get("first_name") or "",
            "last_name": customer.get("last_name") or "",
        },
        "event": {
            "type": event["event_type"],
            "date": event_date if isinstance(event_date, dt.date) else dt.date.fromisoformat(str(event_date)[:10]),
            "years": int(event.get("years") or 0),
            "milestone": int(event.get("milestone") or 0),
        },
        "unsubscribe_url": unsubscribe_url,
        "locale": locale,
    }
