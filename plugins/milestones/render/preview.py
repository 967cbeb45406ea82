"""The review gallery: every template x locale x variant rendered for sample customers.

:func:`gallery_pages` builds the whole gallery in memory as ``{relative path:
bytes}``; ``milestones preview --out DIR`` writes it to disk and the web router
(:mod:`milestones.staff.gallery`) serves the same pages inside the Airflow UI.
All links are relative, so both work unchanged.  Images point at the bundled
``templates/assets`` copy, so reviewing never reaches the internet.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from milestones.core.brand import Brand
from milestones.render.catalog import Catalog, CatalogError, load_catalog
from milestones.render.rendering import SUFFIX, Rendered, Renderer, RenderError, email_context

PREVIEW_DATE = dt.date(2026, 11, 22)
UNSUBSCRIBE_PREVIEW = "https://milestones.example/u/preview"
PREFERENCES_PREVIEW = "https://milestones.example/preferences/preview"
VIEW_PREVIEW = "https://milestones.example/v/preview"

#: A typical customer per language (names need no inflection in the templates).
PERSONAS: dict[str, dict[str, str]] = {
    "en": {"first_name": "Emma", "last_name": "Brown", "customer_since": "2016-11-22"},
    "fi": {"first_name": "Aino", "last_name": "Virtanen", "customer_since": "2016-11-22"},
    "et": {"first_name": "Tõnu", "last_name": "Mägi", "customer_since": "2016-11-22"},
    "zh": {"first_name": "娜", "last_name": "李", "customer_since": "2016-11-22"},
}

#: Per event type: (variant label, years, milestone) shown in the gallery.
VARIANTS: dict[str, list[tuple[str, int, int]]] = {
    "birthday": [("regular", 37, 0), ("milestone-50", 50, 50)],
    "wedding_anniversary": [("first-year", 1, 1), ("regular", 7, 0), ("milestone-25", 25, 25)],
    "customer_anniversary": [("first-year", 1, 1), ("regular", 3, 0), ("milestone-10", 10, 10)],
}
DEFAULT_VARIANTS = [("regular", 0, 0)]


@dataclass(frozen=True)
class Case:
    """One gallery entry: a template, a locale and a variant, with its sample context."""

    template: str
    event_type: str
    locale: str
    variant: str
    context: dict[str, Any]
    #: The A/B variant of the template (``base`` unless the catalog lists variants).
    arm: str = "base"

    @property
    def slug(self) -> str:
        return f"{self.template}/{self.locale}-{self.variant}" + ("" if self.arm == "base" else f"-ab-{self.arm}")


def sample_context(event_type: str, locale: str, years: int, milestone: int,
                   customer: dict[str, Any] | None = None, *,
                   unsubscribe_url: str = UNSUBSCRIBE_PREVIEW,
                   preferences_url: str = PREFERENCES_PREVIEW, view_url: str = VIEW_PREVIEW) -> dict[str, Any]:
    """The context a real send would build, for a sample customer."""
    person = customer or PERSONAS.get(locale.split("-")[0], PERSONAS["en"])
    if customer is None and event_type == "customer_anniversary" and years:
        # The sample customer joined exactly ``years`` ago, so the email's date and count agree.
        person = {**person, "customer_since": PREVIEW_DATE.replace(year=PREVIEW_DATE.year - years).isoformat()}
    event = {"event_type": event_type, "event_date": PREVIEW_DATE, "years": years, "milestone": milestone}
    return email_context(person, event, unsubscribe_url=unsubscribe_url, locale=locale,
                         preferences_url=preferences_url, view_url=view_url)


def variants_for(event_type: str) -> list[tuple[str, int, int]]:
    return VARIANTS.get(event_type, DEFAULT_VARIANTS)


def cases(catalog: Catalog) -> list[Case]:
    """Every template x A/B variant x catalog locale x sample variant."""
    return [
        Case(entry.name, entry.event_type, locale, label, sample_context(entry.event_type, locale, years, milestone),
             arm)
        for entry in catalog.templates.values()
        for arm in ["base", *entry.variants]
        for locale in entry.locales
        for label, years, milestone in variants_for(entry.event_type)
    ]


def missing_translations(catalog: Catalog) -> dict[str, list[str]]:
    """Locales the catalog promises but whose files are missing, per template."""
    out: dict[str, list[str]] = {}
    for entry in catalog.templates.values():
        gone = [loc for loc in entry.locales
                if not all((catalog.root / entry.name / f"{loc}.{s}").is_file() for s in SUFFIX.values())]
        if gone:
            out[entry.name] = gone
    return out


# --- pages ---------------------------------------------------------------------------------

_CSS = """body{font-family:system-ui,sans-serif;margin:24px;color:#222;background:#fafafa}
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:6px 10px;vertical-align:top;text-align:left}
.ok{color:#1a7f37}.bad{color:#b42318;font-weight:600}.muted{color:#666}
.frames{display:flex;gap:24px;align-items:flex-start;flex-wrap:wrap}
.frames figure{margin:0}.frames iframe{border:1px solid #bbb;background:#fff;height:900px}
pre{white-space:pre-wrap;background:#fff;border:1px solid #ccc;padding:12px;max-width:600px}
.subject{font-size:18px;font-weight:600}"""


def _page(title: str, body: str, root: str) -> bytes:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{_CSS}</style></head>'
            f'<body><p><a href="{root}index.html">All templates</a></p>{body}</body></html>').encode()


def _viewer(case: Case, r: Rendered) -> bytes:
    e = html.escape
    note = ""
    if r.missing_translation or r.locale != case.locale:
        note = f'<p class="bad">Missing translation: {e(case.locale)} falls back to {e(r.locale)}.</p>'
    own = case.slug.split("/", 1)[1]
    email_file, dark_file = f"{own}.email.html", f"{own}.email.dark.html"
    arm = "" if case.arm == "base" else f" · A/B variant {case.arm}"
    body = f"""<h1>{e(case.template)} · {e(case.locale)} · {e(case.variant)}{e(arm)}</h1>{note}
<p>Subject: <span class="subject" id="subject">{e(r.subject)}</span></p>
<p class="muted">Template version {e(r.version)} · <a href="{email_file}">open the email alone</a>
 · <a href="{dark_file}">in dark mode</a></p>
<div class="frames">
<figure><figcaption>Desktop (600 px)</figcaption>
<iframe title="desktop" src="{email_file}" width="600"></iframe></figure>
<figure><figcaption>Mobile (320 px)</figcaption>
<iframe title="mobile" src="{email_file}" width="320"></iframe></figure>
</div>
<h2>Dark mode</h2>
<p class="muted">As mail apps in dark mode show it (Apple Mail, Outlook for Mac, iOS): the email's own dark styles.</p>
<div class="frames dark">
<figure><figcaption>Desktop, dark (600 px)</figcaption>
<iframe title="desktop dark" src="{dark_file}" width="600"></iframe></figure>
<figure><figcaption>Mobile, dark (320 px)</figcaption>
<iframe title="mobile dark" src="{dark_file}" width="320"></iframe></figure>
</div>
<h2>Text part</h2><pre id="text">{e(r.text)}</pre>"""
    return _page(f"{case.template} {case.locale} {case.variant}", body, "../")


def _approval_line(catalog: Catalog, entry, arm: str, approve: bool, history: bool = False) -> str:
    """One A/B variant's approval state, with an Approve button in the UI when it is not approved."""
    e = html.escape
    label = entry.name if arm == "base" else f"{entry.name} · variant {arm} ({entry.variants[arm].share:.0%})"
    try:
        status = catalog.status(entry.name, arm)
        if status.approved:
            state = f'<span class="ok">approved by {e(status.approval.by)} at {e(status.approval.at)}</span>'
        elif history:  # the UI: in words, with the way to the changes (no hashes, no command line)
            why = "never approved" if status.approval is None else (
                f"changed since {status.approval.by} approved it at {status.approval.at}")
            state = f'<span class="bad">not approved ({e(why)}): its emails are not sent</span>'
        else:
            state = f'<span class="bad">{e(status.message())}</span>'
        approved = status.approved
    except CatalogError as exc:
        state, approved = f'<span class="bad">{e(str(exc))}</span>', False
    form = ""
    if approve and not approved:
        form = (f'<form method="post" action="approve" class="approve"><input type="hidden" name="template" '
                f'value="{e(entry.name)}"><input type="hidden" name="variant" value="{e(arm)}">'
                f'<button type="submit">Approve {e(label)} as logged in</button></form>')
    link = (f' · <a class="history" href="../templates/{e(entry.name)}/#arm-{e(arm)}">what changed, history'
            f'{", roll back" if approve else ""}</a>') if history else ""
    return f'<p class="arm"><strong>{e(label)}</strong>: {state}{link}</p>{form}'


def _index(catalog: Catalog, rows: list[tuple[Case, Rendered | str]], missing: dict[str, list[str]],
           approve: bool = False, history: bool = False) -> bytes:
    e = html.escape
    parts = ["<h1>Email templates</h1>",
             '<p class="muted">Every template in every locale, rendered for sample customers. '
             "Open one to see it at desktop and mobile width with its subject and text part.</p>"]
    for entry in catalog.templates.values():
        state = "".join(_approval_line(catalog, entry, arm, approve, history) for arm in ["base", *entry.variants])
        cells = []
        for case, result in rows:
            if case.template != entry.name:
                continue
            arm = "" if case.arm == "base" else f" · A/B {case.arm}"
            if isinstance(result, str):
                cells.append(f'<li class="bad">{e(case.locale)} {e(case.variant)}{e(arm)}: {e(result)}</li>')
            else:
                cells.append(f'<li><a href="{e(case.slug)}.html">{e(case.locale)} · {e(case.variant)}{e(arm)}</a> '
                             f'<span class="muted">{e(result.subject)}</span></li>')
        gone = missing.get(entry.name)
        gone_note = (f'<p class="bad">Missing translation: {e(", ".join(gone))} '
                     f"(customers get {e(catalog.default_locale)})</p>") if gone else ""
        parts.append(f'<section class="template"><h2>{e(entry.name)}</h2>'
                     f"<p>Owner: {e(entry.owner)} · event <code>{e(entry.event_type)}</code></p>{state}"
                     f"{gone_note}<ul>{''.join(cells)}</ul></section>")
    return _page("Email templates", "".join(parts), "")


_DARK_QUERY = re.compile(r"@media\s*\(\s*prefers-color-scheme\s*:\s*dark\s*\)")


def dark_mode(email_html: str) -> str:
    """The email as a mail app in dark mode shows it, whatever the reviewer's own setting:
    its ``prefers-color-scheme: dark`` styles always apply."""
    html_dark = _DARK_QUERY.sub("@media all", email_html)
    return html_dark.replace("color-scheme: light dark;", "color-scheme: dark;", 1)


def gallery_pages(templates_dir: Path | str, default_locale: str = "en", approve: bool = False,
                  history: bool = False, brand: Brand | None = None) -> dict[str, bytes]:
    """Every page of the gallery, keyed by relative path (``index.html`` first); with ``approve``
    (an approver in the Airflow UI) the index has an Approve button per template and A/B variant not
    approved; with ``history`` (the Airflow UI) a link to each one's changes and history. The emails
    carry ``brand`` (the settings' brand file; the neutral one when None)."""
    templates_dir = Path(templates_dir)
    catalog = load_catalog(templates_dir)
    renderer = Renderer(templates_dir, default_locale or catalog.default_locale, assets_url="../assets", brand=brand)
    rows: list[tuple[Case, Rendered | str]] = []
    pages: dict[str, bytes] = {}
    for case in cases(catalog):
        try:
            r = renderer.render(case.event_type, case.locale, case.context, variant=case.arm)
        except RenderError as exc:
            rows.append((case, str(exc)))
            continue
        rows.append((case, r))
        pages[f"{case.slug}.html"] = _viewer(case, r)
        pages[f"{case.slug}.email.html"] = r.html.encode()
        pages[f"{case.slug}.email.dark.html"] = dark_mode(r.html).encode()
    for image in sorted((templates_dir / "assets").glob("*.png")):
        pages[f"assets/{image.name}"] = image.read_bytes()
    return {"index.html": _index(catalog, rows, missing_translations(catalog), approve, history), **pages}


def write_gallery(templates_dir: Path | str, out_dir: Path | str, default_locale: str = "en",
                  brand: Brand | None = None) -> dict[str, Any]:
    """Write the gallery under ``out_dir``; returns a summary for the CLI."""
    out_dir = Path(out_dir)
    pages = gallery_pages(templates_dir, default_locale, brand=brand)
    for rel, data in pages.items():
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    catalog = load_catalog(templates_dir)
    emails = sum(1 for rel in pages if rel.endswith(".email.html"))
    return {
        "index": str(out_dir / "index.html"),
        "emails": emails,
        "render_failed": len(cases(catalog)) - emails,
        "missing_translations": missing_translations(catalog),
        "not_approved": sorted(n for n in catalog.templates if not catalog.status(n).approved),
    }


# --- proofs --------------------------------------------------------------------------------

PROOF_PREFIX = "[Proof] "


def proof_message(templates_dir: Path | str, template: str, locale: str, to: str, *,
                  variant: str | None = None, default_locale: str = "en",
                  now: dt.datetime | None = None, assets_url: str | None = None,
                  link_base: str | None = None, brand: Brand | None = None) -> dict[str, Any]:
    """A message row (as render_stage writes them) for a proof of ``template`` in ``locale``.

    Marked as a proof: the subject starts with ``[Proof]``, the key and the
    customer id start with ``proof-``; it is never written to the ledger.
    ``assets_url`` and ``link_base`` (the public app's address) make its images and
    links those a real send would carry; a proof's links hold no customer token, so
    the public app answers them with its "this link does not work" page.
    """
    from email_validator import EmailNotValidError, validate_email

    try:
        to = validate_email(to, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValueError(f"--to: {exc}") from None
    catalog = load_catalog(templates_dir)
    entry = catalog.entry(template)
    choices = variants_for(entry.event_type)
    chosen = next((v for v in choices if v[0] == variant), None) if variant else choices[-1]
    if chosen is None:
        raise ValueError(f"--variant: {variant!r} is not one of {', '.join(v[0] for v in choices)}")
    label, years, milestone = chosen
    renderer = Renderer(templates_dir, default_locale, assets_url=assets_url, brand=brand)
    links = ({"unsubscribe_url": f"{link_base.rstrip('/')}/u/proof",
              "preferences_url": f"{link_base.rstrip('/')}/preferences/proof",
              "view_url": f"{link_base.rstrip('/')}/v/proof"} if link_base else {})
    r = renderer.render(entry.event_type, locale,
                        sample_context(entry.event_type, locale, years, milestone, **links))
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%dT%H%M%S")
    key = f"proof-{template}-{r.locale}-{label}-{stamp}"
    return {
        "key": key, "customer_id": "proof", "event_type": entry.event_type,
        "event_date": str(PREVIEW_DATE), "email": to, "locale": r.locale, "template": template,
        "template_version": r.version, "subject": PROOF_PREFIX + r.subject, "html": r.html, "text": r.text,
        "unsubscribe_url": links.get("unsubscribe_url", UNSUBSCRIBE_PREVIEW),
        "missing_translation": r.missing_translation,
    }
