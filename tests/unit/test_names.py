"""Names in greetings follow each language: family name first in Chinese, no name -> no dangling comma."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from milestones.render.catalog import load_catalog
from milestones.render.names import display_name
from milestones.render.preview import cases
from milestones.render.rendering import Renderer

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.mark.parametrize("first, last, locale, expected", [
    ("娜", "李", "zh", "李娜"),            # CRM splits the name: family name first, no space
    ("娜", "李", "zh-CN", "李娜"),
    ("李娜", "", "zh", "李娜"),             # the whole name in first_name
    ("李娜", "李", "zh", "李娜"),           # ... with the family name repeated in last_name
    ("Bob", "O'Brien", "zh", "Bob"),      # a name not written in Chinese characters
    ("Aino", "Virtanen", "fi", "Aino"),   # fi/et/en: the first name, placed where no case ending is needed
    ("  Tõnu \t", "Mägi", "et-EE", "Tõnu"),
    ("Mary  Ann", "Smith", "en", "Mary Ann"),
    ("", "Smith", "en", ""),              # no first name: no name at all, never the family name alone
    ("   ", "李", "zh", ""),
    (None, None, "fi", ""),
    (float("nan"), "Tamm", "et", ""),
])
def test_display_name(first, last, locale, expected):
    assert display_name(first, last, locale) == expected


#: A comma, colon or space left before punctuation or at a line's start where the name was.
_DANGLING = re.compile(r"(^|\n)\s*[,，:：]|[,，]\s*[!！:：]|\s[,!]|Dear\s*,|Hei\s*,|Hea\s*!|亲爱的\s*[：:]")


def test_blank_name_gives_a_warm_greeting_without_a_dangling_comma():
    renderer = Renderer(TEMPLATES)
    seen = 0
    for case in cases(load_catalog(TEMPLATES)):
        for first in ("", "   ", None):
            context = {**case.context, "customer": {**case.context["customer"], "first_name": first or ""}}
            r = renderer.render(case.event_type, case.locale, context)
            body = r.text.split("\n--\n")[0]
            for part in (r.subject, body):
                assert not _DANGLING.search(part), (case.slug, part)
            greeting = body.split("\n\n")[1]
            assert greeting in {"Hello,", "Hei!", "Tere!", "尊敬的客户："}, (case.slug, greeting)
            seen += 1
    assert seen == 3 * 48


def test_chinese_greeting_uses_the_family_name_first_and_the_polite_form():
    renderer = Renderer(TEMPLATES)
    case = next(c for c in cases(load_catalog(TEMPLATES)) if c.slug == "birthday/zh-regular")
    context = {**case.context, "customer": {**case.context["customer"], "first_name": "娜", "last_name": "李"}}
    r = renderer.render("birthday", "zh", context)
    assert r.subject == "李娜，祝您生日快乐！"
    # A salutation (亲爱的 + the name, with a full-width colon), then 您好 opens the letter (issue 24).
    assert "\n亲爱的李娜：\n\n您好！" in r.text and re.search(r"<p[^>]*>亲爱的李娜：</p>", r.html)
