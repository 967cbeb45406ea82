"""Rendering: sandbox, escaping, strictness, locale fallback, Babel formatting, CSS inlining."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from pathlib import Path

import pytest

from milestones.deliver.delivery import build_mime, sendgrid_payload
from milestones.render.rendering import Renderer, RenderError, email_context, language_chain

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
UNSUB = "https://milestones.example/unsubscribe?k=abc"


def ctx(first_name="Aino", event_type="birthday", years=37, milestone=0, locale="en", since="2016-05-01"):
    return email_context(
        {"first_name": first_name, "last_name": "X", "customer_since": since},
        {"event_type": event_type, "event_date": "2026-11-22", "years": years, "milestone": milestone},
        unsubscribe_url=UNSUB, locale=locale)


@pytest.fixture(scope="module")
def renderer():
    return Renderer(TEMPLATES)


def test_language_chain_falls_back_region_then_language_then_default():
    assert language_chain("fi-FI") == ["fi-FI", "fi", "en"]
    assert language_chain("zh_CN") == ["zh-CN", "zh", "en"]
    assert language_chain(None) == ["en"]


@pytest.mark.parametrize("locale, chosen, missing", [
    ("fi-FI", "fi", False), ("et", "et", False), ("zh-CN", "zh", False), ("en-GB", "en", False),
    ("sv-SE", "en", True), (None, "en", False),
])
def test_locale_fallback_and_missing_translation_flag(renderer, locale, chosen, missing):
    r = renderer.render("birthday", locale, ctx(locale=locale or "en"))
    assert (r.locale, r.missing_translation) == (chosen, missing)
    assert r.subject and r.text.strip() and "<html" in r.html


def test_customer_data_is_data_not_code(renderer):
    r = renderer.render("birthday", "en", ctx(first_name='<script>alert(1)</script> {{ 7*7 }} "q"'))
    assert "<script>" not in r.html and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.html
    assert "{{ 7*7 }}" in r.html and "49" not in r.html.replace("#f4f1ec", "")
    # Subject and text are plain text: the name appears exactly as given, never evaluated.
    assert r.subject == 'Happy birthday, <script>alert(1)</script> {{ 7*7 }} "q"!'
    assert "{{ 7*7 }}" in r.text


def test_subject_is_one_line_and_cannot_add_headers(renderer):
    r = renderer.render("birthday", "en", ctx(first_name="Eve\r\nBcc: victim@example.com\u2028X"))
    assert "\n" not in r.subject and "\r" not in r.subject and "\u2028" not in r.subject
    message = {"key": "k1", "customer_id": "C1", "event_type": "birthday", "email": "eve@example.com",
               "subject": r.subject, "html": r.html, "text": r.text, "unsubscribe_url": UNSUB}
    parsed = email.message_from_bytes(build_mime(message, from_email="a@example.com", from_name="A"),
                                      policy=email.policy.default)
    assert parsed["Bcc"] is None
    assert "Bcc: victim@example.com" in str(parsed["Subject"])


def test_unsubscribe_headers_in_mime_and_sendgrid_payload(renderer):
    r = renderer.render("retirement", "fi", ctx(event_type="retirement", locale="fi"))
    message = {"key": "k2", "customer_id": "C2", "event_type": "retirement", "email": "a@example.com",
               "subject": r.subject, "html": r.html, "text": r.text, "unsubscribe_url": UNSUB}
    mime = email.message_from_bytes(build_mime(message, from_email="a@example.com", from_name="A"),
                                    policy=email.policy.default)
    assert mime["List-Unsubscribe"] == f"<{UNSUB}>"
    assert mime["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    headers = sendgrid_payload(message, from_email="a@example.com", from_name="A")["headers"]
    assert headers == {"Message-ID": "<k2@example.com>", "List-Unsubscribe": f"<{UNSUB}>",
                       "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    assert f'href="{UNSUB}"' in r.html and UNSUB in r.text


def test_undefined_variable_fails_that_email_with_a_clear_reason(own_templates):
    path = own_templates / "graduation" / "en.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\nYour code: {{ customer.discount_code }}\n", encoding="utf-8")
    renderer = Renderer(own_templates)
    with pytest.raises(RenderError, match=r"graduation/en: undefined variable .*discount_code"):
        renderer.render("graduation", "en", ctx(event_type="graduation"))
    # The other templates still render (the batch goes on).
    assert renderer.render("birthday", "en", ctx()).subject


def test_sandbox_blocks_unsafe_attribute_access(own_templates):
    (own_templates / "graduation" / "en.subject.txt").write_text("{{ name.__class__.__mro__ }}\n", encoding="utf-8")
    with pytest.raises(RenderError, match="SecurityError|undefined"):
        Renderer(own_templates).render("graduation", "en", ctx(event_type="graduation"))


def test_no_template_anywhere_is_an_error_not_a_blank(renderer):
    with pytest.raises(RenderError, match="no template for event 'promotion'"):
        renderer.render("promotion", "fi", ctx(event_type="promotion"))


def test_dates_numbers_and_ordinals_follow_the_locale(renderer):
    since = "2010-03-07"
    cases = {"en": "March 7, 2010", "en-GB": "7 March 2010", "fi": "7. maaliskuuta 2010", "zh-CN": "2010年3月7日",
             "et": "7.03.2010"}
    for locale, expected in cases.items():
        r = renderer.render("customer_anniversary", locale,
                            ctx(event_type="customer_anniversary", years=16, locale=locale, since=since))
        assert expected in r.html and expected in r.text, (locale, r.text)
    env = renderer.env
    ordinals = env.from_string("{% for n in [1, 2, 3, 4, 11, 12, 13, 21, 22, 23, 50, 101] %}{{ n|ordinal }} {% endfor %}")
    from milestones.render.rendering import babel_locale

    assert ordinals.render(babel_locale=babel_locale("en", "en")).split() == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "23rd", "50th", "101st"]
    assert env.from_string("{{ 25|ordinal }}").render(babel_locale=babel_locale("fi", "fi")) == "25."
    number = env.from_string("{{ 1234567|format_number }}")
    assert number.render(babel_locale=babel_locale("en", "en")) == "1,234,567"
    assert number.render(babel_locale=babel_locale("fi", "fi")) == "1\xa0234\xa0567"


@pytest.mark.parametrize("locale, regular, milestone", [
    ("en", "Happy birthday, Aino!", "Happy 50th birthday, Aino!"),
    ("fi", "Hyvää syntymäpäivää, Aino!", "Onnea 50-vuotispäivänäsi, Aino!"),
    ("et", "Palju õnne sünnipäevaks, Aino!", "Palju õnne 50. sünnipäevaks, Aino!"),
    ("zh", "Aino，祝您生日快乐！", "Aino，祝您50岁生日快乐！"),
])
def test_milestone_birthday_variants(renderer, locale, regular, milestone):
    assert renderer.render("birthday", locale, ctx(years=37, locale=locale)).subject == regular
    assert renderer.render("birthday", locale, ctx(years=50, milestone=50, locale=locale)).subject == milestone


def test_named_wedding_anniversaries(renderer):
    silver = renderer.render("wedding_anniversary", "en", ctx(event_type="wedding_anniversary", years=25, milestone=25))
    assert silver.subject == "Happy 25th wedding anniversary, Aino!" and "silver anniversary" in silver.text
    golden = renderer.render("wedding_anniversary", "fi", ctx(event_type="wedding_anniversary", years=50,
                                                               milestone=50, locale="fi"))
    assert "kultahäiden" in golden.text
    plain = renderer.render("wedding_anniversary", "en", ctx(event_type="wedding_anniversary", years=7))
    assert plain.subject == "Happy anniversary, Aino!" and "anniversary!" not in plain.text.split("\n")[2]


@pytest.mark.parametrize("locale, heading", [
    ("en", "One year of marriage!"), ("fi", "Ensimmäinen vuosi naimisissa!"), ("et", "Esimene abieluaasta!"),
    ("zh", "携手一周年！"),
])
def test_first_wedding_anniversary_has_its_own_wording(renderer, locale, heading):
    r = renderer.render("wedding_anniversary", locale,
                        ctx(event_type="wedding_anniversary", years=1, milestone=1, locale=locale))
    assert r.text.startswith(heading + "\n")
    assert not re.search(r"\b1 (years|vuotta|aastat|abieluaastat)\b|携手1年", r.text + r.subject)


def test_css_is_inlined_once_per_template_not_per_email(own_templates):
    renderer = Renderer(own_templates)
    for n in range(60):
        for event_type in ("birthday", "retirement"):
            r = renderer.render(event_type, ("en", "fi", "et")[n % 3], ctx(event_type=event_type, first_name=f"N{n}"))
    inlined = renderer.env.loader.inlined
    assert sorted(inlined) == sorted(set(inlined))  # each template source inlined exactly once
    assert len(inlined) == 7  # 2 events x 3 locales + the layout
    # Styles from the layout's <style> reached the child's paragraphs and the layout's elements.
    assert '<p style="margin: 0 0 16px 0;">' in r.html and 'class="heading" style="' in r.html
    # Media queries stay in a <style> for responsive clients.
    assert "@media (max-width: 480px)" in r.html


def test_compiled_templates_are_kept_between_renderers_until_a_source_changes(own_templates):
    """The bytecode cache: a later Renderer (a later process) compiles nothing it compiled before,
    and an edited template is compiled anew and renders as edited."""

    def compiled_by(renderer):
        names = []
        real = renderer.env.compile

        def compile(source, name=None, filename=None, *args, **kwargs):
            names.append(name)
            return real(source, name, filename, *args, **kwargs)

        renderer.env.compile = compile
        return names

    first = Renderer(own_templates)
    compiled_by(first)
    first.render("birthday", "en", ctx())
    second = Renderer(own_templates)
    names = compiled_by(second)
    before = second.render("birthday", "en", ctx())
    assert names == [] and before.subject == "Happy birthday, Aino!"
    subject = own_templates / "birthday" / "en.subject.txt"
    subject.write_text(subject.read_text().replace("Happy birthday", "Many happy returns"))
    third = Renderer(own_templates)
    names = compiled_by(third)
    after = third.render("birthday", "en", ctx())
    assert names == ["birthday/en.subject.txt"] and after.subject == "Many happy returns, Aino!"
    assert after.html == before.html and after.text == before.text


def test_a_tag_that_inlining_would_move_is_a_clear_template_error(own_templates):
    path = own_templates / "new_child" / "en.html"
    path.write_text(path.read_text(encoding="utf-8").replace(
        "{% block body %}", "{% block body %}<table><tr>{% if name %}<td>x</td>{% endif %}</tr></table>"),
        encoding="utf-8")
    with pytest.raises(RenderError, match="CSS inlining moved or dropped a template tag"):
        Renderer(own_templates).render("new_child", "en", ctx(event_type="new_child"))


def test_bad_event_date_fails_that_email(renderer):
    context = ctx(event_type="customer_anniversary")
    context["customer"]["since"] = "not a date"
    with pytest.raises(RenderError, match="customer_anniversary/en"):
        renderer.render("customer_anniversary", "en", context)


def test_missing_date_fails_the_email_instead_of_printing_today(renderer):
    context = ctx(event_type="customer_anniversary", since=None)
    assert context["customer"]["since"] is None
    with pytest.raises(RenderError, match="format_date: the date is missing"):
        renderer.render("customer_anniversary", "fi", context)


def test_email_context_exposes_only_the_fields_templates_need():
    c = email_context({"first_name": " Tõnu ", "last_name": "Mägi", "email": "secret@example.com",
                       "customer_since": dt.date(2012, 3, 27), "date_of_birth": "1991-08-14"},
                      {"event_type": "wedding_anniversary", "event_date": "2026-11-22", "years": 25, "milestone": 25},
                      unsubscribe_url=UNSUB, locale="et")
    assert c["name"] == "Tõnu" and c["event"]["is_milestone"] and c["event"]["date"] == dt.date(2026, 11, 22)
    assert "secret@example.com" not in repr(c) and "1991" not in repr(c)
