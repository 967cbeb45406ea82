"""What must hold before a template (or one of its A/B variants) may be approved.

Every locale of the catalog entry x every sample variant the gallery shows (regular,
milestone years) x sample customers (one per language, and every distinct first name of
the bundled samples, hostile names included) must render, and each rendered email must
pass the lint: no ``http://`` links, the unsubscribe link present, a non-empty subject,
an HTML part under Gmail's 100 KB clipping limit, names escaped. ``milestones approve``
and the gallery's Approve action both refuse a template with any problem, naming it.
"""

from __future__ import annotations

import csv
import hashlib
import re
import threading
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[1] / "samples"
HTML_BUDGET = 100_000
MAX_PROBLEMS = 10
_HTTP = re.compile(r"""(?:href|src)\s*=\s*["']http://""", re.IGNORECASE)


@lru_cache(maxsize=1)
def sample_customers() -> tuple[dict[str, str], ...]:
    """One bundled sample customer per distinct first name (hostile names included)."""
    seen: dict[str, dict[str, str]] = {}
    for path in sorted(SAMPLES.glob("customers_*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if (row.get("first_name") or "").strip() and re.fullmatch(r"\d{4}-\d{2}-\d{2}",
                                                                         row.get("customer_since") or ""):
                    seen.setdefault(row["first_name"], row)
    return tuple(seen.values())


#: Answers of :func:`problems` by the templates' content: the same files give the same answer.
_ANSWERS: OrderedDict[tuple, tuple[str, ...]] = OrderedDict()
_ANSWERS_KEPT = 32
_ANSWERS_LOCK = threading.Lock()


def content_digest(templates_dir: Path) -> str:
    """A digest of every file under ``templates_dir``: its path there and its bytes."""
    digest = hashlib.blake2b(digest_size=20)
    for path in sorted(p for p in templates_dir.rglob("*") if p.is_file()):
        digest.update(path.relative_to(templates_dir).as_posix().encode() + b"\0")
        digest.update(hashlib.blake2b(path.read_bytes(), digest_size=20).digest())
    return digest.hexdigest()


def problems(templates_dir: Path | str, template: str, variant: str | None = None,
             default_locale: str = "en") -> list[str]:
    """Why ``template`` (A/B ``variant``) may not be approved: empty when it may.

    Rendering every locale x variant x sample customer takes a second or two; the answer
    depends only on the files under ``templates_dir`` (templates, catalog, brands, history),
    so it is kept for the same content (by :func:`content_digest`, wherever the files
    are) and computed again after any file changed.
    """
    templates_dir = Path(templates_dir)
    key = (content_digest(templates_dir), template, variant or "", default_locale)
    with _ANSWERS_LOCK:
        held = _ANSWERS.get(key)
    if held is None:
        held = tuple(_problems(templates_dir, template, variant, default_locale))
        with _ANSWERS_LOCK:
            _ANSWERS[key] = held
            while len(_ANSWERS) > _ANSWERS_KEPT:
                _ANSWERS.popitem(last=False)
    return list(held)


def _problems(templates_dir: Path, template: str, variant: str | None, default_locale: str) -> list[str]:
    from milestones.render.catalog import load_catalog
    from milestones.render.preview import PERSONAS, sample_context, variants_for
    from milestones.render.rendering import Renderer, RenderError

    catalog = load_catalog(templates_dir)
    entry = catalog.entry(template)
    if variant and variant != "base":
        entry.variant(variant)  # a CatalogError names the known variants
    renderer = Renderer(templates_dir, default_locale or catalog.default_locale)
    found: list[str] = []

    def note(text: str) -> None:
        if text not in found:
            found.append(text)

    people = [None, *PERSONAS.values(), *sample_customers()]
    for locale in entry.locales:
        for label, years, milestone in variants_for(entry.event_type):
            for person in people:
                context = sample_context(entry.event_type, locale, years, milestone, customer=person)
                who = "sample customer" if person is None else f"customer {person.get('customer_id') or 'persona'}"
                try:
                    r = renderer.render(entry.event_type, locale, context, variant=variant or "")
                except RenderError as exc:
                    note(f"{locale} {label}: {exc}")
                    continue
                for problem in lint(r.subject, r.html, context["unsubscribe_url"]):
                    note(f"{locale} {label} ({who}): {problem}")
                if len(found) >= MAX_PROBLEMS:
                    return found
    return found


def lint(subject: str, html: str, unsubscribe_url: str) -> list[str]:
    """The lint of one rendered email (no values of the customer in the messages)."""
    out = []
    if not subject.strip():
        out.append("empty subject")
    if _HTTP.search(html):
        out.append("a link or image over http:// (https only)")
    if unsubscribe_url.replace("&", "&amp;") not in html and unsubscribe_url not in html:
        out.append("no unsubscribe link")
    size = len(html.encode())
    if size > HTML_BUDGET:
        out.append(f"HTML part is {size:,} bytes (Gmail clips above {HTML_BUDGET:,})")
    if re.search(r"<script", html, re.IGNORECASE):
        out.append("a <script> element (a name was not escaped, or the template has one)")
    return out


def approve(templates_dir: Path | str, name: str, by: str, *, variant: str | None = None,
            default_locale: str = "en", note: str = ""):
    """Approve ``name`` (A/B ``variant``) for ``by`` if it has no :func:`problems`; else CatalogError naming them.

    The approved files are kept in the template's history with ``note`` (:mod:`milestones.render.history`).
    """
    from milestones.render import history
    from milestones.render.catalog import CatalogError, load_catalog

    found = problems(templates_dir, name, variant, default_locale)
    if found:
        label = f"{name}/{variant}" if variant and variant != "base" else name
        raise CatalogError(f"template {label!r} cannot be approved: " + "; ".join(found))
    approval = load_catalog(templates_dir).approve(name, by, variant=variant)
    history.record_approval(templates_dir, name, approval, variant=variant, note=note)
    return approval
