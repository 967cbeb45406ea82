"""Words a native speaker would write (issue 24): the fixed phrases, pinned.

Rendered, not grepped from the sources: each case is a real email for a sample customer.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from milestones.render.catalog import load_catalog
from milestones.render.preview import cases, sample_context
from milestones.render.rendering import Renderer

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"


@pytest.fixture(scope="module")
def renderer():
    return Renderer(TEMPLATES)


def render(renderer, event, locale, years=0, milestone=0, **event_fields):
    context = sample_context(event, locale, years, milestone)
    context["event"] = {**context["event"], **event_fields}
    return renderer.render(event, locale, context)


def whole(r) -> str:
    return f"{r.subject}\n{r.text}"


@pytest.mark.parametrize("event, locale, years, milestone, wanted, unwanted", [
    ("wedding_anniversary", "fi", 1, 1, "Hyvää ensimmäistä hääpäivää", "1. hääpäivänänne"),
    ("wedding_anniversary", "et", 1, 1, "Palju õnne esimese pulma-aastapäeva puhul", "1. pulma-aastapäeva"),
    ("wedding_anniversary", "zh", 1, 1, "结婚一周年", "结婚1周年"),
    ("wedding_anniversary", "zh", 25, 25, "祝您结婚25周年纪念日快乐", "二十五"),
    ("marriage", "et", 0, 0, "Palju õnne abiellumise puhul", "teie ühise elu puhul"),
    ("marriage", "et", 0, 0, "õnnitlused noorpaarile", "värske paar"),
    ("customer_anniversary", "zh", 1, 1, "感谢您一年来的信任", "感谢第一年的信任"),
    ("retirement", "fi", 0, 0, "Olemme tukenasi myös tässä uudessa elämänvaiheessa", "olet ollut kanssamme"),
    ("birthday", "fi", 37, 0, "olet antanut meille luvan", "luvan lähettää sinulle viestejä"),
    ("marriage", "en", 0, 0, "Congratulations on starting your life as a couple", "delighted to hear"),
    ("new_child", "en", 0, 0, "Congratulations on the newest member of your family", "happy to hear"),
    ("new_child", "fi", 0, 0, "Onnea perheen uudesta tulokkaasta", "kuullessamme"),
    ("marriage", "zh", 0, 0, "衷心祝贺您喜结良缘", "得知"),
])
def test_fixed_phrases(renderer, event, locale, years, milestone, wanted, unwanted):
    text = whole(render(renderer, event, locale, years, milestone))
    assert wanted in text and unwanted not in text


def test_english_says_together_at_most_once_per_email(renderer):
    for case in cases(load_catalog(TEMPLATES)):
        if case.locale == "en":
            r = renderer.render(case.event_type, "en", case.context)
            assert r.text.lower().count("together") <= 1, case.slug


def test_one_form_of_address_per_language(renderer):
    """Estonian: formal "teie" only; Chinese: formal 您 and a salutation; Finnish: informal "sinä"."""
    informal_et = re.compile(r"\b(sina|sinu|sinul|sinuga|sulle|saad|oled|said|valisid)\b", re.IGNORECASE)
    formal_fi = re.compile(r"\b(Teidän|Teille|Te)\b")
    for case in cases(load_catalog(TEMPLATES)):
        r = renderer.render(case.event_type, case.locale, case.context)
        text = whole(r)
        if case.locale == "et":
            assert not informal_et.search(text), (case.slug, informal_et.search(text))
        if case.locale == "zh":
            assert "你" not in text and "您" in text, case.slug
            assert re.search(r"^(亲爱的.+：|尊敬的客户：)$", r.text, re.MULTILINE), case.slug
        if case.locale == "fi":
            assert not formal_fi.search(text), case.slug


def test_chinese_salutation_without_a_name(renderer):
    context = sample_context("birthday", "zh", 37, 0, customer={"first_name": "", "last_name": ""})
    assert "尊敬的客户：" in renderer.render("birthday", "zh", context).text


@pytest.mark.parametrize("locale", ["en", "fi", "et", "zh"])
@pytest.mark.parametrize("event", ["retirement", "marriage", "graduation", "new_child"])
def test_an_inferred_event_says_we_noticed_a_change_and_claims_no_date(renderer, event, locale):
    recorded = render(renderer, event, locale, source="retirement_date", inferred=False)
    inferred = render(renderer, event, locale, source="change", inferred=True)
    date = {"en": "November 22, 2026", "fi": "22. marraskuuta 2026", "et": "22. november 2026",
            "zh": "2026年11月22日"}[locale]
    noticed = {"en": "we noticed", "fi": "hiljattain", "et": "märkasime", "zh": "我们注意到"}[locale]
    sorry = {"en": "If we got it wrong", "fi": "Jos päättelimme väärin", "et": "Kui me eksisime",
             "zh": "如有误会"}[locale]
    assert noticed in inferred.text and sorry in inferred.text and date not in inferred.text
    assert noticed not in recorded.text and (date in recorded.text or event == "new_child")
    for r in (recorded, inferred):
        assert not re.search(r"records show|today|tänään|täna|今天", r.text.split("--")[-1]), (event, locale)
