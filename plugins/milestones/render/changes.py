"""What changed since the last approval, in words a marketer reads: subject, preheader and text.

For each locale of a template (or one A/B variant), the current files and the last
approved version kept in the history (:mod:`milestones.render.history`) are rendered for
the same sample customer (the language's persona, the regular sample variant), and the
subject, the preheader (the inbox preview line) and the text part are compared word by
word: removed words struck through, added words underlined.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from pathlib import Path

from milestones.render.catalog import BASE, load_catalog

FIELDS = ("subject", "preheader", "text")
LABELS = {"subject": "Subject", "preheader": "Preheader (inbox preview line)", "text": "Body text"}
_PREHEADER = re.compile(r'<td class="preheader"[^>]*>(.*?)</td>', re.DOTALL)
_TAG = re.compile(r"<[^>]+>")


@dataclass
class Change:
    locale: str
    field: str
    before: str | None
    now: str | None

    @property
    def changed(self) -> bool:
        return self.before != self.now


def preheader(email_html: str) -> str:
    """The preheader's text of a rendered email (empty when the layout has none)."""
    found = _PREHEADER.search(email_html)
    return " ".join(html.unescape(_TAG.sub("", found.group(1))).split()) if found else ""


def _render(templates_dir: Path, event_type: str, locale: str, variant: str) -> dict[str, str] | str:
    from milestones.render.preview import sample_context, variants_for
    from milestones.render.rendering import Renderer, RenderError

    label, years, milestone = variants_for(event_type)[0]
    context = sample_context(event_type, locale, years, milestone)
    try:
        r = Renderer(templates_dir, load_catalog(templates_dir).default_locale).render(
            event_type, locale, context, variant="" if variant == BASE else variant)
    except RenderError as exc:
        return f"does not render: {exc}"
    return {"subject": r.subject, "preheader": preheader(r.html), "text": r.text.strip()}


def compare(templates_dir: Path | str, template: str, variant: str = BASE,
            against: str | None = None) -> tuple[object | None, list[Change]]:
    """``(the approval compared with, [Change per locale and field])``.

    ``against``: a kept version's hash (default: the last approved one). Without a kept
    version, ``before`` is None throughout (the template was approved before the history).
    """
    from milestones.render import history

    templates_dir = Path(templates_dir)
    entry = load_catalog(templates_dir).entry(template)
    approved = history.approvals(templates_dir, template, variant)
    base = next((a for a in approved if against is None or a.hash.endswith(against.split(":", 1)[-1])
                 or a.hash.split(":", 1)[-1].startswith(against.split(":", 1)[-1])), None)
    folder = history.kept(templates_dir, template, base.hash) if base else None
    out = []
    for locale in entry.locales:
        now = _render(templates_dir, entry.event_type, locale, variant)
        before = _render(folder, entry.event_type, locale, variant) if folder else None
        for name in FIELDS:
            out.append(Change(locale, name, _field(before, name), _field(now, name)))
    return base, out


def _field(rendered, name: str) -> str | None:
    if rendered is None:
        return None
    return rendered if isinstance(rendered, str) else rendered[name]


def word_diff(before: str, now: str) -> str:
    """HTML of ``now`` with the words removed since ``before`` in <del> and the added ones in <ins>."""
    # Words with the space after them: a run of changed words reads as one struck phrase and one new one.
    a, b = re.findall(r"\S+\s*|\s+", before), re.findall(r"\S+\s*|\s+", now)
    out = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            out.append(html.escape("".join(a[i1:i2])))
            continue
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(''.join(a[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(''.join(b[j1:j2]))}</ins>")
    return "".join(out)


def to_html(changes: list[Change]) -> str:
    """A table per locale: field, the approved text and the current one with the changes marked."""
    e = html.escape
    if not changes:
        return "<p>No locales.</p>"
    if all(c.before is None for c in changes):
        return ('<p class="muted">No copy of the approved version was kept (approved before the template '
                "history started): the current text is shown; the next approval starts the history.</p>"
                + "".join(f'<h4>{e(c.locale)} · {e(LABELS[c.field])}</h4><pre>{e(c.now or "")}</pre>'
                          for c in changes))
    parts = []
    for locale in dict.fromkeys(c.locale for c in changes):
        mine = [c for c in changes if c.locale == locale]
        state = "changed" if any(c.changed for c in mine) else "unchanged"
        rows = "".join(
            f'<tr class="{"changed" if c.changed else "same"}"><th scope="row">{e(LABELS[c.field])}</th>'
            f'<td><pre>{word_diff(c.before or "", c.now or "") if c.changed else e(c.now or "")}</pre></td></tr>'
            for c in mine)
        parts.append(f'<details class="locale" {"open" if state == "changed" else ""}>'
                     f"<summary>{e(locale)}: {state}</summary><table class=\"diff\">{rows}</table></details>")
    return "".join(parts)
