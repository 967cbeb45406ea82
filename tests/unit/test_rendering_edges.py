"""Fast unit tests that kill the mutants of render.rendering: what an email says, edge by edge.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
from pathlib import Path

import jinja2
import pandas as pd
import pytest

from milestones.render import rendering
from milestones.render.rendering import (
    Renderer,
    RenderError,
    _as_date,
    _charset_first,
    _check_tag_positions,
    _protect,
    _restore,
    babel_locale,
    email_context,
    language_chain,
    one_line,
)

ROOT = Path(__file__).resolve().parents[2]
UNSUB = "https://milestones.example/u/tok"


@pytest.mark.parametrize("locale, default, chain", [
    ("fi-FI", "en", ["fi-FI", "fi", "en"]),
    ("fi_FI", "en", ["fi-FI", "fi", "en"]),
    ("FI", "en", ["FI", "fi", "en"]),
    ("fi", "en", ["fi", "en"]),
    ("en", "en", ["en"]),
    ("en-GB", "en", ["en-GB", "en"]),
    (None, "en", ["en"]),
    ("", "fi", ["fi"]),
    ("zh-Hans-CN", "fi", ["zh-Hans-CN", "zh", "fi"]),
])
def test_language_chain(locale, default, chain):
    assert language_chain(locale, default) == chain


@pytest.mark.parametrize("requested, chosen, locale", [
    ("en-GB", "en", "en_GB"),        # the customer's own region when the language matches
    ("en_GB", "en", "en_GB"),
    ("fi-FI", "en", "en"),           # another language: the template's
    (None, "fi", "fi"),
    ("en-XX", "en", "en"),           # an unknown region: the template's
    ("xx", "xx", "en"),              # nothing Babel knows: English
])
def test_babel_locale(requested, chosen, locale):
    assert str(babel_locale(requested, chosen)) == locale


def _render(source: str, locale: str = "en", **values) -> str:
    env = rendering.make_environment(ROOT / "templates", inline_css=False)
    return env.from_string(source).render(babel_locale=babel_locale(locale, locale), **values)


def test_ordinals_per_language():
    assert _render("{{ 1|ordinal }} {{ 2|ordinal }} {{ 3|ordinal }} {{ 4|ordinal }} {{ 111|ordinal }}") == (
        "1st 2nd 3rd 4th 111th")
    assert _render("{{ 50|ordinal }}", "zh") == "第50"
    assert _render("{{ 50|ordinal }}", "et") == "50."
    assert _render("{{ '7'|ordinal }}") == "7th"


def test_format_date_takes_dates_datetimes_and_iso_text_and_refuses_nothing():
    day = dt.date(2010, 3, 7)
    assert _render("{{ d|format_date }}", d=day) == "March 7, 2010"
    assert _render("{{ d|format_date }}", d=dt.datetime(2010, 3, 7, 23, 59)) == "March 7, 2010"
    assert _render("{{ d|format_date }}", d="2010-03-07T10:00:00") == "March 7, 2010"
    assert _render("{{ d|format_date('short') }}", d=day) == "3/7/10"
    assert _render("{{ d|format_date('yyyy') }}", d=day) == "2010"
    with pytest.raises(ValueError, match="^format_date: the date is missing$"):
        _render("{{ d|format_date }}", d=None)
    with pytest.raises(ValueError, match="^format_date: the date is missing$"):
        rendering.format_date_filter({}, jinja2.Undefined())


def test_filters_without_a_locale_in_the_context_use_english():
    env = rendering.make_environment(ROOT / "templates", inline_css=False)
    assert env.from_string("{{ 1234|format_number }} {{ 2|ordinal }}").render() == "1,234 2nd"


@pytest.mark.parametrize("value, day", [
    (None, None), ("", None), (math.nan, None), (pd.NaT, None),
    (dt.datetime(2026, 11, 22, 23, 0), dt.date(2026, 11, 22)), (dt.date(2026, 11, 22), dt.date(2026, 11, 22)),
    (pd.Timestamp("2026-11-22 10:00"), dt.date(2026, 11, 22)), ("2026-11-22T10:00:00", dt.date(2026, 11, 22)),
])
def test_as_date(value, day):
    assert _as_date(value) == day


def test_one_line():
    assert one_line(" a\r\nb\tc\u2028d  ") == "a b c d"
    assert one_line("\n \n") == ""


def test_email_context_in_full():
    c = email_context({"first_name": " Anna ", "last_name": " Virtanen ", "customer_since": "2016-05-01",
                       "partner": {"first_name": " Mikko", "last_name": None}},
                      {"event_type": "wedding_anniversary", "event_date": pd.Timestamp("2026-11-22"), "years": "25",
                       "milestone": 25, "source": "change"},
                      unsubscribe_url=UNSUB, locale="fi", view_url="https://x.example/v/t")
    assert c == {
        "name": "Anna",
        "customer": {"first_name": "Anna", "last_name": "Virtanen", "since": dt.date(2016, 5, 1),
                     "partner": {"first_name": "Mikko", "last_name": ""}},
        "event": {"type": "wedding_anniversary", "date": dt.date(2026, 11, 22), "years": 25, "milestone": 25,
                  "is_milestone": True, "source": "change", "inferred": True},
        "unsubscribe_url": UNSUB, "view_url": "https://x.example/v/t", "preferences_url": UNSUB, "locale": "fi",
    }


def test_email_context_of_a_bare_record():
    c = email_context({}, {"event_type": "birthday", "event_date": "2026-11-22"}, unsubscribe_url=UNSUB,
                      locale="en", preferences_url="https://x.example/p/t")
    assert c["name"] == "" and c["customer"] == {"first_name": "", "last_name": "", "since": None}
    assert c["event"] == {"type": "birthday", "date": dt.date(2026, 11, 22), "years": 0, "milestone": 0,
                          "is_milestone": False, "source": "", "inferred": False}
    assert (c["preferences_url"], c["view_url"]) == ("https://x.example/p/t", "")


def test_protect_and_restore_jinja_tags():
    source = "<p>{{ name }}</p>{% if x %}<b>{# note #}</b>{% endif %}"
    protected, saved = _protect(source)
    assert "{" not in protected and len(saved) == 4
    assert list(saved.values()) == ["{{ name }}", "{% if x %}", "{# note #}", "{% endif %}"]
    assert _restore(protected, saved, "t.html") == source
    key = next(iter(saved))
    with pytest.raises(jinja2.TemplateSyntaxError, match="CSS inlining moved or dropped a template tag"):
        _restore(protected.replace(key, ""), saved, "t.html")
    with pytest.raises(jinja2.TemplateSyntaxError, match="CSS inlining moved or dropped a template tag"):
        _restore(protected + key, saved, "t.html")


@pytest.mark.parametrize("html, refused", [
    ("<table><tr>{% if x %}<td>a</td>{% endif %}</tr></table>", "tr"),
    ("<table>{{ rows }}</table>", "table"),
    ("<table><tbody>{{ x }}</tbody></table>", "tbody"),
    ("<table><tr><td>{{ x }}</td></tr></table>", None),
    ("<table><tr><td>a</td></tr></table>{{ x }}", None),
    ("<table><tr><td><br>{{ x }}</td></tr></table>", None),
    ("<p>{{ x }}<img src=a></p>", None),
])
def test_tags_the_html_parser_would_move_are_refused(html, refused):
    protected, saved = _protect(html)
    if refused is None:
        _check_tag_positions(protected, saved, "t.html")
        return
    with pytest.raises(jinja2.TemplateSyntaxError) as error:
        _check_tag_positions(protected, saved, "t.html")
    assert f"directly inside <{refused}>); put it inside a <td> or around the whole table" in str(error.value)


def test_the_charset_comes_first_in_the_head():
    html = '<html><head><style>p{}</style>\n  <meta charset="utf-8"><title>t</title></head></html>'
    assert _charset_first(html) == '<html><head><meta charset="utf-8"><style>p{}</style><title>t</title></head></html>'
    assert _charset_first("<html><head></head></html>") == "<html><head></head></html>"


@pytest.fixture(scope="module")
def renderer():
    return Renderer(ROOT / "templates")


def test_a_missing_translation_falls_back_and_says_so(renderer):
    assert renderer.resolve("birthday", "fi-FI") == ("fi", False)
    assert renderer.resolve("birthday", "sv-SE") == ("en", True)
    assert renderer.resolve("birthday", None) == ("en", False)
    assert renderer.resolve("birthday", "en-GB") == ("en", False)
    with pytest.raises(RenderError) as refused:
        renderer.resolve("promotion", "fi")
    assert str(refused.value) == "no template for event 'promotion' in any of ['fi', 'en']"


def test_a_rendered_email_in_full(renderer):
    ctx = email_context({"first_name": "Anna"}, {"event_type": "birthday", "event_date": "2026-11-22", "years": 50,
                                                  "milestone": 50}, unsubscribe_url=UNSUB, locale="sv")
    r = renderer.render("birthday", "sv", ctx)
    assert r.subject == "Happy 50th birthday, Anna!"
    assert (r.template, r.locale, r.requested_locale, r.missing_translation) == ("birthday", "en", "sv", True)
    assert r.text.endswith("\n") and not r.text.endswith("\n\n") and r.text == r.text.lstrip()
    assert len(r.version) == 16 and r.version == rendering.template_version(str(ROOT / "templates"), "birthday", "en")
    assert r.version != rendering.template_version(str(ROOT / "templates"), "birthday", "fi")
    assert "November 22, 2026" in r.text
    plain = renderer.render("birthday", None, ctx)
    assert plain.requested_locale == "" and not plain.missing_translation


def test_a_couple_is_greeted_by_both_names(renderer):
    ctx = email_context({"first_name": "Anna", "partner": {"first_name": "Mikko"}},
                        {"event_type": "wedding_anniversary", "event_date": "2026-11-22", "years": 3},
                        unsubscribe_url=UNSUB, locale="fi")
    assert "Anna ja Mikko" in renderer.render("wedding_anniversary", "fi", ctx).subject


@pytest.fixture
def own(tmp_path):
    target = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", target)
    return target


def _ctx():
    return email_context({"first_name": "Anna"}, {"event_type": "birthday", "event_date": "2026-11-22"},
                         unsubscribe_url=UNSUB, locale="en")


@pytest.mark.parametrize("part, source, reason", [
    ("subject.txt", " \n ", "birthday/en: empty subject"),
    ("txt", "  \n", "birthday/en: empty body"),
    ("html", "{% extends 'layouts/base.html' %}{% block title %}t{% endblock %}", None),
    ("txt", "{{ nothing_here }}", "birthday/en: undefined variable ('nothing_here' is undefined)"),
    ("txt", "{{ event.date|format_date('zzzzzz-bad-%') }}", None),
    ("txt", "{{ 'x'|ordinal }}", "birthday/en: ValueError: invalid literal for int() with base 10: 'x'"),
    ("txt", "{% for %}", "birthday/en: template error: TemplateSyntaxError: Expected an expression, got 'end of statement block'"),
])
def test_what_fails_one_email(own, part, source, reason):
    (own / "birthday" / f"en.{part}").write_text(source)
    r = Renderer(own)
    if reason is None:
        try:
            r.render("birthday", "en", _ctx())
        except RenderError:
            pass
        return
    with pytest.raises(RenderError) as refused:
        r.render("birthday", "en", _ctx())
    assert str(refused.value) == reason


def test_a_variant_replaces_only_the_parts_it_has(own):
    folder = own / "birthday" / "variants" / "short"
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text("Short one, {{ display_name }}")
    r = Renderer(own)
    assert r.render("birthday", "en", _ctx(), variant="short").subject == "Short one, Anna"
    assert r.render("birthday", "en", _ctx(), variant="base").subject == "Happy birthday, Anna!"
    assert r.render("birthday", "en", _ctx(), variant="other").subject == "Happy birthday, Anna!"
    assert r.render("birthday", "en", _ctx()).subject == "Happy birthday, Anna!"
