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
    # Closing a cell closes what it holds.
    ("<table><tr><td>a</td>{% if x %}<td>b</td>{% endif %}</tr></table>", "tr"),   # after a closed cell
    ("<table><tr><td><b>a</td>{{ x }}</tr></table>", "tr"),                       # a cell closed over an open <b>
    ("<table><tr><td><b>{{ x }}</b></td></tr></table>", None),
])
def test_tags_the_html_parser_would_move_are_refused(html, refused):
    protected, saved = _protect(html)
    if refused is None:
        _check_tag_positions(protected, saved, "t.html")
        return
    with pytest.raises(jinja2.TemplateSyntaxError) as error:
        _check_tag_positions(protected, saved, "t.html")
    assert f"directly inside <{refused}>); put it inside a <td> or around the whole table" in error.value.message
    assert (error.value.lineno, error.value.name) == (1, "t.html")


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


# --- the environment every email is rendered in ----------------------------------------------

def _birthday(first_name="Anna"):
    return email_context({"first_name": first_name}, {"event_type": "birthday", "event_date": "2026-11-22"},
                         unsubscribe_url=UNSUB, locale="en", view_url="https://v.example/v/tok")


def test_customer_text_is_escaped_in_html_and_kept_as_written_in_text(renderer):
    r = renderer.render("birthday", "en", _birthday('<b>Ann & "Bo"</b>'))
    assert "&lt;b&gt;Ann &amp; &#34;Bo&#34;&lt;/b&gt;" in r.html and "<b>Ann" not in r.html
    assert '<b>Ann & "Bo"</b>' in r.text and '<b>Ann & "Bo"</b>' in r.subject


def test_strings_are_not_escaped_and_html_files_are():
    env = rendering.make_environment(ROOT / "templates", inline_css=False)
    assert env.from_string("{{ x }}").render(x="<i>") == "<i>"  # text parts are built from strings
    assert env.autoescape("birthday/en.html") is True and env.autoescape("birthday/en.txt") is False


def test_the_environment_compiles_every_template_the_same_way():
    env = rendering.make_environment(ROOT / "templates")
    assert (env.trim_blocks, env.lstrip_blocks, env.keep_trailing_newline, env.auto_reload) == (
        True, True, False, False)
    assert env.undefined is jinja2.StrictUndefined
    raw = rendering.make_environment(ROOT / "templates", inline_css=False)
    assert type(raw.loader) is jinja2.FileSystemLoader and raw.loader.searchpath == [str(ROOT / "templates")]
    assert isinstance(env.loader, rendering.InliningLoader) and env.loader.searchpath == [str(ROOT / "templates")]


def test_compiled_templates_are_cached_apart_for_inlined_and_raw_sources():
    import re

    inlined, raw = rendering._bytecode_cache(True), rendering._bytecode_cache(False)
    assert re.fullmatch(r"__milestones_[0-9a-f]{12}_%s\.cache", inlined.pattern)
    assert inlined.pattern != raw.pattern
    assert rendering.make_environment(ROOT / "templates").bytecode_cache.pattern == inlined.pattern


def test_the_brand_colours_the_inlined_html(tmp_path):
    from milestones.core.brand import Brand

    brand = Brand(name="B", legal_name="B Oy", postal_address="1 Street", sending_domain="b.example",
                  colours={"primary": "#123456", "primary_dark": "#9fd6cf", "background": "#f4f1ec"})
    env = rendering.make_environment(ROOT / "templates", brand=brand)
    assert env.loader.brand is brand
    source = env.loader.get_source(env, "layouts/base.html")[0]
    assert "#123456" in source and "#2f5d62" not in source.lower()
    assert env.loader.inlined == ["layouts/base.html"]
    # Text parts are not inlined nor recoloured.
    assert env.loader.get_source(env, "birthday/en.txt")[0] == (ROOT / "templates/birthday/en.txt").read_text()


# --- CSS inlining ------------------------------------------------------------------------------

def test_a_moved_tag_is_named_with_the_template_and_line_one():
    protected, saved = _protect("<p>{{ name }}</p>")
    with pytest.raises(jinja2.TemplateSyntaxError) as error:
        _restore(protected.replace(next(iter(saved)), ""), saved, "birthday/en.html")
    assert (error.value.lineno, error.value.name) == (1, "birthday/en.html")
    assert error.value.message == ("CSS inlining moved or dropped a template tag ('{{ name }}'); keep template "
                                   "tags inside element content or attribute values")


@pytest.mark.parametrize("void", ["br", "img", "meta", "link", "hr", "input", "col", "source", "wbr"])
def test_an_empty_element_does_not_hide_a_tag_directly_inside_a_row(void):
    # Empty elements have no end tag: the row stays the tag's parent, so the tag is refused.
    protected, saved = _protect(f"<table><tr><{void}>{{% if x %}}<td>a</td>{{% endif %}}</tr></table>")
    with pytest.raises(jinja2.TemplateSyntaxError, match=r"directly inside <tr>"):
        _check_tag_positions(protected, saved, "t.html")


def test_only_the_first_charset_moves_to_the_first_head():
    html = '<HTML><HEAD><style>p{}</style><meta charset="utf-8"></HEAD><body><pre><head><meta charset="utf-8"></pre></body></HTML>'
    assert _charset_first(html) == ('<HTML><head><meta charset="utf-8"><style>p{}</style></HEAD><body><pre><head>'
                                    '<meta charset="utf-8"></pre></body></HTML>')


LAYOUT = '<html><head><style>p { color: red; } @media (max-width: 600px) { p { color: blue; } }</style></head>'


def test_a_layout_keeps_its_body_or_its_lack_of_one():
    without = rendering.inline_source(LAYOUT + "<p>{{ x }}</p></html>", "layouts/base.html", "")
    # The reset first in the kept <style>, the media query kept, the rest inlined, no <body> added.
    assert without == ('<html><head><style>body { margin: 0 !important; padding: 0 !important; } '
                       '@media (max-width: 600px) { p { color: blue; } } </style></head>'
                       '<p style="color: red;">{{ x }}</p></html>')
    with_body = rendering.inline_source(LAYOUT + "<body><p>x</p></body></html>", "layouts/base.html", "")
    assert "<body>" in with_body and "</body>" in with_body


@pytest.mark.parametrize("child", [
    "<table><tr>{{ x }}<td>a</td></tr></table>",  # refused before inlining
    "<style>{{ x }}</style><p>a</p>",              # dropped by the inliner with the <style>
])
def test_an_inlining_error_names_the_child_template(child):
    with pytest.raises(jinja2.TemplateSyntaxError) as error:
        rendering.inline_source(child, "birthday/en.html", "p { color: red; }")
    assert error.value.name == "birthday/en.html"


def test_the_layouts_styles_exclude_comments_and_join_every_block(tmp_path):
    (tmp_path / "layouts").mkdir()
    (tmp_path / "layouts" / "base.html").write_text(
        "<html><head><style>p { color: red; }<!-- old clients --></style>"
        "<!--[if mso]><style>td { color: green; }</style><![endif]-->"
        "<style>b { color: blue; }</style></head></html>")
    loader = rendering.InliningLoader(tmp_path)
    assert loader.layout_css(jinja2.Environment()) == "p { color: red; }\nb { color: blue; }"


# --- the renderer ------------------------------------------------------------------------------

def test_the_assets_address_the_renderer_is_given_wins_then_the_catalogs_then_the_default(tmp_path, own):
    assert Renderer(own, assets_url="https://cdn.example/img///").assets_url == "https://cdn.example/img"
    assert Renderer(own, assets_url="https://cdn.example/X/").assets_url == "https://cdn.example/X"
    assert Renderer(own).assets_url == "https://milestones.example/email-assets"  # templates/catalog.yaml
    catalog = own / "catalog.yaml"
    catalog.write_text(catalog.read_text().replace("assets_url: https://milestones.example/email-assets",
                                                   "assets_url: https://img.bank.example/mail/"))
    r = Renderer(own)
    assert r.assets_url == "https://img.bank.example/mail" and r.env.globals["assets_url"] == r.assets_url
    html = r.render("birthday", "en", _birthday()).html
    assert 'src="https://img.bank.example/mail/birthday.png"' in html
    (tmp_path / "bare").mkdir()
    bare = Renderer(tmp_path / "bare")  # no catalog at all
    assert (bare.assets_url, bare.actions) == (rendering.DEFAULT_ASSETS_URL, {})


def test_each_event_has_its_catalog_action_and_the_footer_the_emails_own_view_link(own, monkeypatch):
    from milestones.core.brand import Brand, Logo

    brand = Brand(name="B", legal_name="B Oy", postal_address="1 Street", sending_domain="b.example",
                  website="https://b.example", utm_source="bank-mail", logo=Logo("b-logo.png", 120, 40))
    r = Renderer(own, brand=brand, assets_url="https://img.b.example/mail")
    assert r.actions["birthday"] == "/offers/birthday" and r.actions["retirement"] == "/life/retirement"
    assert r.env.loader.brand is brand
    part = r.branded("birthday", "en", "short", "https://v.example/v/tok")
    assert part["brand"]["logo"] == {"url": "https://img.b.example/mail/b-logo.png", "width": 120, "height": 40}
    tags = "utm_source=bank-mail&utm_medium=email&utm_campaign=birthday&utm_content=short"
    assert part["action_url"] == f"https://b.example/offers/birthday?{tags}"
    assert part["footer_links"] == [(f"https://b.example?{tags}", "Website"),
                                    (f"https://v.example/v/tok?{tags}", "View in your browser")]
    # Cached per event, language and variant; the view link is the email's own, never cached.
    built = []
    real_context = rendering.branding.context

    def counted(*args, **kwargs):
        built.append(kwargs["event_type"])
        return real_context(*args, **kwargs)

    monkeypatch.setattr(rendering.branding, "context", counted)
    again = r.branded("birthday", "en", "short", "https://v.example/v/other")
    assert again["footer_links"][-1][0] == f"https://v.example/v/other?{tags}"
    assert r.branded("birthday", "en", "short", "")["footer_links"] == [(f"https://b.example?{tags}", "Website")]
    assert len(r._branded) == 1
    other = r.branded("retirement", "fi", "", "")
    assert other["action_url"] == ("https://b.example/life/retirement?utm_source=bank-mail&utm_medium=email&"
                                   "utm_campaign=retirement&utm_content=base")
    assert len(r._branded) == 2 and built == ["retirement"]


def test_render_email_renders_that_event_for_that_customer_in_their_language(own):
    rendering._renderer.cache_clear()
    ctx = email_context({"first_name": "Anna"}, {"event_type": "retirement", "event_date": "2026-11-22"},
                        unsubscribe_url=UNSUB, locale="fi")
    r = rendering.render_email(own, "retirement", "fi", ctx)
    assert (r.template, r.locale, r.requested_locale) == ("retirement", "fi", "fi") and "Anna" in r.subject
    assert rendering.render_email(own, "retirement", "sv", ctx).locale == "en"  # the default language
    assert rendering.render_email(own, "retirement", "sv", ctx, default_locale="fi").locale == "fi"
    assert rendering._renderer.cache_info().currsize == 2  # one renderer per directory and default


def test_a_template_the_inliner_refuses_is_named_when_loaded(own):
    (own / "birthday" / "en.html").write_text(
        "{% extends 'layouts/base.html' %}{% block body %}<table><tr>{{ x }}<td>a</td></tr></table>{% endblock %}")
    env = rendering.make_environment(own)
    with pytest.raises(jinja2.TemplateSyntaxError) as error:
        env.loader.get_source(env, "birthday/en.html")
    assert error.value.name == "birthday/en.html"


def test_the_email_names_its_variant_and_carries_its_own_view_link(own):
    """render hands the event, the variant (base when none) and the email's view link to the footer."""
    folder = own / "birthday" / "variants" / "short"
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text("Short one, {{ display_name }}")
    r = Renderer(own)
    link = "https://v.example/v/tok?utm_source=lifecycle-email&utm_medium=email&utm_campaign=birthday&utm_content="
    short = r.render("birthday", "en", _birthday(), variant="short")
    assert f"View in your browser: {link}short\n" in short.text
    assert f'href="{link.replace("&", "&amp;")}short"' in short.html
    for variant in ("", "base"):
        base = r.render("birthday", "en", _birthday(), variant=variant)
        assert f"View in your browser: {link}base\n" in base.text and base.subject == "Happy birthday, Anna!"
    assert f"View in your browser: {link}base\n" in r.render("birthday", "en", _birthday()).text
    no_link = r.render("birthday", "en", {**_birthday(), "view_url": ""})
    assert "View in your browser" not in no_link.text + no_link.html


def test_a_variants_folder_named_base_is_never_the_base(own):
    # "base" names the event's own templates, whatever the variants folder holds.
    folder = own / "birthday" / "variants" / "base"
    folder.mkdir(parents=True)
    (folder / "en.subject.txt").write_text("Not the base")
    assert Renderer(own).render("birthday", "en", _birthday(), variant="base").subject == "Happy birthday, Anna!"


def test_a_renderers_own_default_language_ends_every_chain(own):
    r = Renderer(own, default_locale="fi")
    assert r.resolve("birthday", "sv") == ("fi", True)
    assert r.resolve("birthday", "fi_FI") == ("fi", False)  # the same language, written with "_"
    assert Renderer(own).resolve("birthday", "fi_FI") == ("fi", False)


def test_the_inert_words_are_unguessable():
    import re

    first, _ = _protect("{{ a }}")
    second, _ = _protect("{{ a }}")
    assert re.fullmatch(r"jinja[0-9a-f]{8}x0x", first) and first != second


def test_a_partner_is_named_from_their_own_record():
    c = email_context({"first_name": "Anna", "partner": {"first_name": None, "last_name": " Korhonen "}},
                      {"event_type": "wedding_anniversary", "event_date": "2026-11-22", "milestone": 1},
                      unsubscribe_url=UNSUB, locale="fi")
    assert c["customer"]["partner"] == {"first_name": "", "last_name": "Korhonen"}
    assert c["event"]["is_milestone"] is True  # a first anniversary is a milestone
