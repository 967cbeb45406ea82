"""A real (SendGrid) send never carries links to a reserved example domain; the outbox may."""

from __future__ import annotations

import pandas as pd
import pytest

from milestones.core.config import load_settings
from milestones.render.placeholders import PlaceholderLinks, check_real_send, reserved


@pytest.fixture(autouse=True)
def _clean(monkeypatch):
    for var in ("MILESTONES_PUBLIC_URL", "MILESTONES_UNSUBSCRIBE_URL", "MILESTONES_ASSETS_URL", "MILESTONES_CONFIG"):
        monkeypatch.delenv(var, raising=False)


def _messages(unsubscribe: str, image: str) -> pd.DataFrame:
    return pd.DataFrame([{"unsubscribe_url": unsubscribe,
                          "html": f'<img src="{image}/birthday.png"><a href="{unsubscribe}">x</a>'}])


@pytest.mark.parametrize("host, expected", [
    ("milestones.example", True), ("EXAMPLE.com", True), ("a.example.org", True), ("shop.test", True),
    ("localhost", True), ("news.acme.fi", False), ("example.company.fi", False), ("127.0.0.1", False)])
def test_reserved_names(host, expected):
    assert reserved(host) is expected


def test_default_settings_refuse_naming_the_setting():
    with pytest.raises(PlaceholderLinks, match="set MILESTONES_PUBLIC_URL") as caught:
        check_real_send(load_settings())
    assert "\n" not in str(caught.value)


def test_public_url_makes_links_and_images_real(monkeypatch):
    monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://news.acme.fi")
    settings = load_settings()
    check_real_send(settings, _messages("https://news.acme.fi/u/TOKEN", "https://news.acme.fi/assets"))
    # Emails rendered before the setting was made still carry the placeholder: refused, re-render.
    with pytest.raises(PlaceholderLinks, match="render the day again"):
        check_real_send(settings, _messages("https://news.acme.fi/u/T", "https://milestones.example/email-assets"),
                        day="2026-11-22")


def test_an_explicit_reserved_asset_url_is_named(monkeypatch):
    monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://news.acme.fi")
    monkeypatch.setenv("MILESTONES_ASSETS_URL", "https://cdn.example.com/img")
    with pytest.raises(PlaceholderLinks, match="MILESTONES_ASSETS_URL"):
        check_real_send(load_settings())


@pytest.mark.parametrize("link", ['<a href="https://News.EXAMPLE.com/x">', "<img SRC = 'http://cdn.shop.Test/a.png'>",
                                  '<a href="https://localhost./u">'])
def test_one_reserved_link_among_many_bodies_is_found(monkeypatch, link):
    monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://news.acme.fi")
    real = '<p>The latest test results</p><a href="https://news.acme.fi/u/T">unsubscribe</a>'
    bodies = [real] * 300
    check_real_send(load_settings(), pd.DataFrame({"unsubscribe_url": ["https://news.acme.fi/u/T"] * 300,
                                                   "html": bodies}))
    bodies[217] = real + link
    with pytest.raises(PlaceholderLinks, match="rendered with links to"):
        check_real_send(load_settings(), pd.DataFrame({"unsubscribe_url": ["https://news.acme.fi/u/T"] * 300,
                                                       "html": bodies}))
