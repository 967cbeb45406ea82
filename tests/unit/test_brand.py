"""The brand file: checked when it is loaded, and carried by every email (issue 24).

A bank's emails must read as the bank's: its name and sign-off, its legal entity and
postal address, its links (tagged for analytics, never carrying personal data), headers
of a real sender, and nothing that says "Milestones".
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from milestones.core import links
from milestones.core.brand import BrandError, load_brand, parse_brand
from milestones.core.config import load_settings
from milestones.deliver.delivery import build_mime, sendgrid_payload
from milestones.render.branding import tag
from milestones.render.catalog import load_catalog
from milestones.render.preview import cases
from milestones.render.rendering import Renderer, email_context

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
EXAMPLE = TEMPLATES / "brands" / "example-bank.yaml"
PREFS = "https://email.bank.example/preferences/TOKEN"
UNSUB = "https://email.bank.example/u/TOKEN"
VIEW = "https://email.bank.example/v/VIEWTOKEN"
GOOD = {"name": "Aurora Bank", "legal_name": "Aurora Bank Plc", "postal_address": "Street 1\n00100 Helsinki",
        "sending_domain": "aurorabank.example"}


@pytest.fixture(scope="module")
def brand():
    return load_brand(EXAMPLE, templates_dir=TEMPLATES)


@pytest.fixture(scope="module")
def renderer(brand):
    return Renderer(TEMPLATES, brand=brand, assets_url="https://email.bank.example/assets")


class Page(HTMLParser):
    """Visible text, links and images of one email."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.hrefs: list[tuple[str, str]] = []
        self.images: list[dict] = []
        self._skip = 0
        self._anchor: list | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag in ("style", "title", "head"):
            self._skip += 1
        if tag == "a":
            self._anchor = [a.get("href", ""), ""]
        if tag == "img":
            self.images.append(a)

    def handle_endtag(self, tag):
        if tag in ("style", "title", "head"):
            self._skip -= 1
        if tag == "a" and self._anchor:
            self.hrefs.append((self._anchor[0], self._anchor[1].strip()))
            self._anchor = None

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
        if self._anchor is not None:
            self._anchor[1] += data


def every_email(renderer, **extra):
    """Every gallery case (template x language x sample variant), rendered with the example brand."""
    for case in cases(load_catalog(TEMPLATES)):
        context = {**case.context, "preferences_url": PREFS, "unsubscribe_url": UNSUB, "view_url": VIEW, **extra}
        yield case, renderer.render(case.event_type, case.locale, context, variant=case.arm)


# --- the file ------------------------------------------------------------------------------

def test_the_bundled_example_is_a_clearly_marked_fictional_bank(brand):
    assert brand.example and brand.name == "Northstar Bank" and "fictional" in brand.legal_name
    assert brand.sending_domain.endswith(".example") and "Helsinki" in brand.postal_address
    assert brand.signoff_for("fi-FI") == "Northstar Bankin väki" and brand.signoff_for("sv") == "The Northstar Bank team"
    assert "fictional" in EXAMPLE.read_text().splitlines()[0].lower() or "EXAMPLE ONLY" in EXAMPLE.read_text()


@pytest.mark.parametrize("change, message", [
    ({"legal_name": ""}, "missing required key(s) legal_name"),
    ({"postal_address": None, "sending_domain": ""}, "missing required key(s) postal_address, sending_domain"),
    ({"sending_domain": "not a domain"}, "sending_domain must be a domain name"),
    ({"privacy_url": "http://aurorabank.example/privacy"}, "privacy_url must be an https:// URL"),
    ({"colour": "#000000"}, "unknown key(s) colour"),
    ({"colours": {"primary": "blue"}}, "colours.primary must be a colour written #rrggbb"),
    ({"colours": {"primary": "#9fd6cf"}}, "white text on it has contrast"),
    ({"colours": {"primary_dark": "#2f5d62"}}, "on the dark card it has contrast"),
    ({"signoff": {"sv": "Hej"}}, "signoff must map languages"),
    ({"logo": {"src": "../etc/passwd", "width": 100, "height": 20}}, "plain file name"),
    ({"logo": {"src": "https://cdn.example/logo.png", "width": "wide", "height": 20}}, "whole numbers"),
    ({"utm_source": "Aurora Bank"}, "utm_source must be lower-case"),
])
def test_a_wrong_brand_is_refused_with_the_key_named(change, message):
    with pytest.raises(BrandError, match=re.escape(message)):
        parse_brand({**GOOD, **change}, "brand.yaml")


def test_errors_name_the_line(tmp_path):
    path = tmp_path / "brand.yaml"
    path.write_text("name: Aurora Bank\nlegal_name: Aurora Bank Plc\npostal_address: Street 1\n"
                    "sending_domain: aurorabank.example\nhelp_url: ftp://aurorabank.example/help\n")
    with pytest.raises(BrandError, match=r"brand.yaml: line 5, help_url must be an https:// URL"):
        load_brand(path)
    path.write_text("name: [unclosed\n")
    with pytest.raises(BrandError, match=r"not valid YAML at line \d+, column \d+"):
        load_brand(path)
    with pytest.raises(BrandError, match="brand file not found"):
        load_brand(tmp_path / "missing.yaml")


def test_a_logo_file_needs_twice_its_shown_pixels(tmp_path):
    from PIL import Image

    (tmp_path / "assets").mkdir()
    Image.new("RGB", (180, 32)).save(tmp_path / "assets" / "logo.png")  # 1x: blurry on phones
    raw = {**GOOD, "logo": {"src": "logo.png", "width": 180, "height": 32}}
    with pytest.raises(BrandError, match=r"is 180x32 pixels; shown at 180x32 it needs at least 360x64"):
        parse_brand(raw, "b.yaml", assets_dir=tmp_path / "assets")
    Image.new("RGB", (360, 64)).save(tmp_path / "assets" / "logo.png")
    assert parse_brand(raw, "b.yaml", assets_dir=tmp_path / "assets").logo.width == 180


def test_settings_check_the_brand_and_take_the_sender_from_it(monkeypatch, tmp_path):
    monkeypatch.delenv("MILESTONES_CONFIG", raising=False)
    monkeypatch.setenv("MILESTONES_BRAND_FILE", str(EXAMPLE))
    s = load_settings()
    assert (s.from_name, s.from_email) == ("Northstar Bank", "hello@northstar-bank.example")
    assert load_settings(from_name="Northstar").from_name == "Northstar"  # an explicit sender wins
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\n")
    monkeypatch.setenv("MILESTONES_BRAND_FILE", str(bad))
    with pytest.raises(BrandError, match="missing required key"):
        load_settings()
    monkeypatch.delenv("MILESTONES_BRAND_FILE")
    with pytest.raises(ValueError, match="unsubscribe_mailto must be a plain address"):
        load_settings(unsubscribe_mailto="mailto:stop@bank.example")


# --- the emails ----------------------------------------------------------------------------

def test_no_customer_facing_text_says_milestones_when_a_brand_is_set(renderer, brand):
    count = 0
    for case, r in every_email(renderer):
        page = Page(r.html)
        visible = " ".join(page.text) + " ".join(i.get("alt") or "" for i in page.images)
        for where, text in (("subject", r.subject), ("html", visible), ("text", r.text)):
            assert "Milestones" not in text, (case.slug, where)
        # The sender is there instead: name (logo alt), legal entity, postal address, sign-off.
        assert brand.name in visible and brand.legal_name in visible and "00100 Helsinki" in visible, case.slug
        assert brand.legal_name in r.text and "Esplanadi 1, 00100 Helsinki, Finland" in r.text, case.slug
        assert brand.signoff_for(case.locale) in visible and brand.signoff_for(case.locale) in r.text, case.slug
        count += 1
    assert count == len(cases(load_catalog(TEMPLATES))) >= 48


def test_every_link_but_preferences_and_unsubscribe_is_tagged(renderer, brand):
    for case, r in every_email(renderer):
        hrefs = [h for h, _ in Page(r.html).hrefs] + re.findall(r"https://\S+", r.text)
        assert PREFS in hrefs and UNSUB in hrefs, case.slug
        tagged = [h for h in hrefs if h not in (PREFS, UNSUB)]
        # the main action, website, privacy, help, contact, view in browser
        assert len({h.split("?")[0] for h in tagged}) == 6, (case.slug, tagged)
        for href in tagged:
            q = parse_qs(urlsplit(href.replace("&amp;", "&")).query)
            assert q == {"utm_source": [brand.utm_source], "utm_medium": ["email"],
                         "utm_campaign": [case.event_type], "utm_content": [case.arm]}, (case.slug, href)
        # No personal data in any URL: not the name, not the address.
        person = case.context["customer"]
        for href in hrefs:
            for value in (person["first_name"], person["last_name"], "customer@"):
                assert value not in href, (case.slug, href)


def test_tagging_keeps_the_query_and_fragment_and_replaces_old_tags():
    url = tag("https://bank.example/offers?id=7&utm_source=old#birthday", source="bank", campaign="birthday",
              content="b")
    assert url == ("https://bank.example/offers?id=7&utm_source=bank&utm_medium=email&utm_campaign=birthday"
                   "&utm_content=b#birthday")
    assert tag("", source="x", campaign="y", content="z") == ""


def test_the_main_action_comes_from_the_catalog(renderer):
    catalog = load_catalog(TEMPLATES)
    for case, r in every_email(renderer):
        action = catalog.for_event(case.event_type).action
        assert action.startswith("/")
        button = [h for h, _ in Page(r.html).hrefs if "/" + h.split("/", 3)[3].split("?")[0] == action]
        assert len(button) == 1, case.slug  # the one button; preferences are in the footer now


def test_without_a_website_there_is_no_button(brand):
    plain = Renderer(TEMPLATES)  # the neutral built-in brand has no website
    r = plain.render("birthday", "en", email_context({"first_name": "Ann"}, {
        "event_type": "birthday", "event_date": "2026-11-22", "years": 40, "milestone": 40},
        unsubscribe_url=UNSUB, locale="en", preferences_url=PREFS))
    assert 'class="button"' not in r.html and "See your birthday offer" not in r.text


def test_charset_first_margins_reset_and_images(renderer, brand):
    for case, r in every_email(renderer):
        data = r.html.encode()
        assert 0 <= data.find(b'<meta charset="utf-8">') < 1024 - 22, case.slug
        assert re.search(r"<style>body \{ margin: 0 !important; padding: 0 !important; \}", r.html), case.slug
        images = Page(r.html).images
        hero = [i for i in images if "hero" in (i.get("class") or "")]
        logo = [i for i in images if "logo" in (i.get("class") or "")]
        assert len(hero) == 1 and hero[0]["alt"] == "" and hero[0]["width"] == "600", case.slug  # decorative
        assert len(logo) == 1 and logo[0]["alt"] == brand.name and logo[0]["width"] == "180", case.slug


def test_hero_images_are_2x_and_anti_aliased():
    from PIL import Image

    for event in {c.event_type for c in cases(load_catalog(TEMPLATES))}:
        with Image.open(TEMPLATES / "assets" / f"{event}.png") as image:
            assert image.size == (1200, 400), event
            colours = image.convert("RGB").getcolors(maxcolors=1_000_000)
            assert len(colours) > 500, (event, len(colours))  # edges blend (the old ones had 4-5 colours)
    with Image.open(TEMPLATES / "assets" / "example-bank-logo.png") as logo:
        assert logo.size == (360, 64)


def test_brand_colours_replace_the_layouts(renderer, brand):
    r = renderer.render("birthday", "en", next(every_email(renderer))[0].context)
    assert brand.colours["primary"] in r.html and "#2f5d62" not in r.html


# --- headers -------------------------------------------------------------------------------

def _message(r, customer_id="CRM-000042"):
    return {"key": "0a1b2c3d4e5f", "customer_id": customer_id, "event_type": "birthday",
            "email": "ann@example.com", "subject": r.subject, "html": r.html, "text": r.text,
            "unsubscribe_url": UNSUB}


def test_headers_of_a_real_sender(renderer, brand):
    case, r = next(every_email(renderer))
    raw = build_mime(_message(r), from_email="hello@northstar-bank.example", from_name=brand.name,
                     message_domain=brand.sending_domain, unsubscribe_mailto="unsubscribe@northstar-bank.example")
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Message-ID"] == "<0a1b2c3d4e5f@northstar-bank.example>"
    assert parsed["List-Unsubscribe"] == (f"<{UNSUB}>, <mailto:unsubscribe@northstar-bank.example"
                                          "?subject=unsubscribe>")
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The internal customer id is in no header a recipient can see.
    assert b"CRM-000042" not in raw.split(b"\r\n\r\n", 1)[0] and "CRM-000042" not in str(parsed)
    # Without a mailto address, the https link alone; the Message-ID's domain follows the sender.
    plain = email.message_from_bytes(build_mime(_message(r), from_email="hi@bank.example", from_name="B"),
                                     policy=email.policy.default)
    assert plain["List-Unsubscribe"] == f"<{UNSUB}>" and plain["Message-ID"] == "<0a1b2c3d4e5f@bank.example>"


def test_sendgrid_keeps_the_customer_id_in_custom_args_only(renderer, brand):
    _, r = next(every_email(renderer))
    payload = sendgrid_payload(_message(r), from_email="hello@northstar-bank.example", from_name=brand.name,
                               message_domain=brand.sending_domain)
    assert payload["personalizations"][0]["custom_args"]["customer_id"] == "CRM-000042"
    assert "CRM-000042" not in str(payload["headers"])
    assert payload["headers"]["Message-ID"] == "<0a1b2c3d4e5f@northstar-bank.example>"


# --- view in browser -----------------------------------------------------------------------

def test_view_links_are_signed_hidden_expiring_and_only_view_links():
    keys = links.LinkKeys(b"k" * 32)
    issued = dt.datetime(2026, 11, 22, tzinfo=dt.UTC)
    token = links.sign_view(keys, "0a1b2c3d", dt.date(2026, 11, 22), issued=issued)
    assert "0a1b2c3d" not in token and "2026" not in token
    assert links.verify_view(keys, token, now=issued) == ("0a1b2c3d", "2026-11-22")
    with pytest.raises(links.LinkError, match="expired"):
        links.verify_view(keys, token, now=issued + links.VIEW_LIFETIME + dt.timedelta(seconds=1))
    # A view link never works as a customer link (unsubscribe, preferences), nor the reverse.
    with pytest.raises(links.LinkError):
        links.verify(keys, token, now=issued)
    customer = links.sign(keys, "C1", "ann@example.com", "en", issued=issued)
    with pytest.raises(links.LinkError):
        links.verify_view(keys, customer, now=issued)


# --- clicks per link -----------------------------------------------------------------------

def test_clicks_are_counted_per_link_without_tokens_or_tags(tmp_path):
    from milestones.measure.clicks import clicks, link_label
    from milestones.measure.feedback import Feedback

    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    tags = "utm_source=northstar-lifecycle&utm_medium=email&utm_campaign=birthday&utm_content=base"
    when = int(dt.datetime(2026, 11, 22, 10, tzinfo=dt.UTC).timestamp())

    def click(n, key, link):
        return {"event": "click", "email": f"c{n}@example.com", "timestamp": when + n, "sg_event_id": f"e{n}",
                "key": key, "customer_id": f"C{n}", "event_type": "birthday", "url": link}

    offer = f"https://www.northstar-bank.example/offers/birthday?{tags}"
    view = f"https://email.northstar-bank.example/v/AmsWK0-B96yCPzMmOU6ulqtutG_Ow4XGo31k?{tags}"
    Feedback(url).ingest([click(1, "k1", offer), click(2, "k1", offer), click(3, "k2", offer),
                          click(4, "k2", view)])
    assert clicks(url) == [
        {"event_type": "birthday", "link": "www.northstar-bank.example/offers/birthday", "utm_content": "base",
         "clicks": 3, "emails": 2},
        {"event_type": "birthday", "link": "email.northstar-bank.example/v/…", "utm_content": "base",
         "clicks": 1, "emails": 1},
    ]
    assert clicks(url, since=dt.date(2026, 11, 23)) == []
    assert link_label("https://bank.example/u/AmsWK0-B96yCPzMmOU6ulqtutG") == "bank.example/u/…"
