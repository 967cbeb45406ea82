"""Template lint: every template x locale x variant renders for every bundled sample customer.

Checks what marketing can break: undefined variables, non-https links, the
unsubscribe link, the 100 KB budget (Gmail clips larger bodies), escaping of
hostile names, alt texts, the preheader, and that the text part says what the
HTML says.
"""

from __future__ import annotations

import csv
import re
from html.parser import HTMLParser
from pathlib import Path

import markupsafe
import pytest

from milestones.render.catalog import load_catalog
from milestones.render.names import display_name
from milestones.render.preview import variants_for
from milestones.render.rendering import SUFFIX, Renderer, email_context

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
SAMPLES = ROOT / "plugins" / "milestones" / "samples"
UNSUB = "https://milestones.example/unsubscribe?k=lint-key"
PREFS = "https://milestones.example/preferences?t=lint-token"
BUDGET = 100_000
CATALOG = load_catalog(TEMPLATES)


def sample_customers() -> list[dict[str, str]]:
    """One customer per distinct first name in the bundled samples (hostile names included)."""
    seen: dict[str, dict[str, str]] = {}
    for path in sorted(SAMPLES.glob("customers_*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["first_name"].strip() and re.fullmatch(r"\d{4}-\d{2}-\d{2}", row["customer_since"]):
                    seen.setdefault(row["first_name"], row)
    return list(seen.values())


CUSTOMERS = sample_customers()


class Email(HTMLParser):
    """What the lint needs from one rendered HTML email."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.anchors: list[tuple[str, str]] = []
        self.alts: list[str | None] = []
        self.blocks: list[str] = []  # text of each <p> and <h1>
        self.preheader = ""
        self.lang = None
        self.viewport = False
        self._open: list[list] = []  # [tag, text so far, attrs]
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for name in ("href", "src"):
            if a.get(name):
                self.links.append(a[name])
        if tag == "img":
            self.alts.append(a.get("alt"))
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "meta" and a.get("name") == "viewport":
            self.viewport = True
        if tag in ("p", "h1", "a") or "preheader" in (a.get("class") or "").split():
            self._open.append([tag, "", a])

    def handle_endtag(self, tag):
        if self._open and self._open[-1][0] == tag:
            name, text, attrs = self._open.pop()
            text = " ".join(text.split())
            if name == "a":
                self.anchors.append((attrs.get("href", ""), text))
                if self._open:
                    self._open[-1][1] += text
            elif name not in ("p", "h1"):
                self.preheader = text
            else:
                self.blocks.append(text)

    def handle_data(self, data):
        if self._open:
            self._open[-1][1] += data


def cases():
    for entry in CATALOG.templates.values():
        for locale in entry.locales:
            for label, years, milestone in variants_for(entry.event_type):
                yield pytest.param(entry, locale, years, milestone, id=f"{entry.name}-{locale}-{label}")


@pytest.fixture(scope="module")
def renderer():
    return Renderer(TEMPLATES)


def test_samples_include_hostile_names():
    names = {c["first_name"] for c in CUSTOMERS}
    assert {"<script>alert(1)</script>", '"Quoted" Name', "{{ 7*7 }}"} <= names
    assert len(CUSTOMERS) >= 20


@pytest.mark.parametrize("entry, locale, years, milestone", cases())
def test_template_renders_cleanly_for_every_sample_customer(renderer, entry, locale, years, milestone):
    for customer in CUSTOMERS:
        event = {"event_type": entry.event_type, "event_date": "2026-11-22", "years": years, "milestone": milestone}
        r = renderer.render(entry.event_type, locale, email_context(customer, event, unsubscribe_url=UNSUB,
                                                                    locale=locale, preferences_url=PREFS))
        name = display_name(customer["first_name"], customer["last_name"], locale)
        who = f"{entry.name}/{locale} for {name!r}"
        assert r.locale == locale and not r.missing_translation, who
        # Subject: one line, with the name verbatim (plain text, never evaluated).
        assert "\n" not in r.subject and 0 < len(r.subject) < 160 and name in r.subject, who
        doc = Email(r.html)
        # Size budget (Gmail clips at ~102 KB) for each part.
        assert len(r.html.encode()) < BUDGET and len(r.text.encode()) < BUDGET, who
        # Links and images: https only; the unsubscribe link is there with visible words.
        assert doc.links and all(link.startswith("https://") for link in doc.links), (who, doc.links)
        unsub = [text for href, text in doc.anchors if href == UNSUB]
        assert unsub and all(len(t) >= 4 for t in unsub), who
        assert UNSUB in r.text, who
        # The preference link: in the footer (not the body's call to action: issue 24), in both parts.
        prefs = [text for href, text in doc.anchors if href == PREFS]
        assert len(prefs) == 1 and all(len(t) >= 2 for t in prefs), who
        assert PREFS in r.text, who
        # Accessibility and inbox preview: every image has an alt; the hero is decorative (alt="").
        assert doc.alts and all(alt is not None for alt in doc.alts) and doc.alts[-1] == "", who
        assert doc.preheader, who
        assert doc.lang == locale and doc.viewport, who
        # Escaping: the name is text in the HTML, escaped exactly once; no template syntax leaks.
        assert str(markupsafe.escape(name)) in r.html, who
        if "<" in name:
            assert name not in r.html, who
        assert name in " ".join(doc.blocks), who
        assert "{%" not in r.html and "{%" not in r.text, who
        if name == "{{ 7*7 }}":
            assert "{{ 7*7 }}" in r.text and "{{ 7*7 }}" in r.html, who
        # Counted nouns agree: never "1 years" (the first year has its own wording).
        assert not re.search(r"\b1 (years|vuotta|aastat|abieluaastat)\b", r.text + r.subject), who
        # The text part carries the same message: every paragraph and the heading.
        plain = " ".join(r.text.split())
        links = {text for _, text in doc.anchors}
        for block in doc.blocks:
            if block and not set(re.split(r"\s*·\s*", block)) <= links:  # not just the footer's links
                assert block in plain, (who, block)


@pytest.mark.parametrize("customer", CUSTOMERS[:12], ids=lambda c: c["locale"] or "none")
def test_customer_locales_resolve_to_a_translation(renderer, customer):
    for entry in CATALOG.templates.values():
        event = {"event_type": entry.event_type, "event_date": "2026-11-22", "years": 3, "milestone": 0}
        locale = customer["locale"] or "en"
        r = renderer.render(entry.event_type, locale, email_context(customer, event, unsubscribe_url=UNSUB,
                                                                    locale=locale))
        assert not r.missing_translation and r.locale in entry.locales


def test_catalog_and_files_agree():
    # history/ is runtime state (approved versions kept by render/history.py), not a template.
    names = {p.name for p in TEMPLATES.iterdir()
             if p.is_dir() and p.name not in ("layouts", "assets", "brands", "history")}
    assert names == set(CATALOG.templates)
    for entry in CATALOG.templates.values():
        expected = {f"{loc}.{suffix}" for loc in entry.locales for suffix in SUFFIX.values()}
        assert {p.name for p in (TEMPLATES / entry.name).iterdir()} == expected, entry.name
        assert (TEMPLATES / "assets" / f"{entry.event_type}.png").is_file()
        for locale in entry.locales:
            source = (TEMPLATES / entry.name / f"{locale}.html").read_text(encoding="utf-8")
            assert source.startswith('{% extends "layouts/base.html" %}'), (entry.name, locale)


def test_sent_emails_stay_responsive(renderer):
    # What is sent, not the layout's source: CSS inlining must keep the phone rule in a
    # <style> block (it cannot be inlined) and put the 600 px cap on the card table itself for
    # clients that strip <style>. Whether it fits 320/600 px is checked in Chromium (e2e).
    for entry in CATALOG.templates.values():
        for locale in entry.locales:
            event = {"event_type": entry.event_type, "event_date": "2026-11-22", "years": 3, "milestone": 0}
            r = renderer.render(entry.event_type, locale, email_context(CUSTOMERS[0], event,
                                                                        unsubscribe_url=UNSUB, locale=locale))
            styles = " ".join(re.findall(r"<style[^>]*>(.*?)</style>", r.html, flags=re.S))
            assert "@media (max-width: 480px)" in styles, (entry.name, locale)
            assert re.search(r'class="card"[^>]*style="[^"]*max-width: ?600px', r.html) or re.search(
                r'style="[^"]*max-width: ?600px[^"]*"[^>]*class="card"', r.html), (entry.name, locale)
            assert Email(r.html).viewport, (entry.name, locale)
