"""The public app as customers and mail providers reach it: a real server on 127.0.0.1.

A run's email carries signed links; the one-click POST exactly as Gmail and Yahoo send
it unsubscribes (200, no redirect, no cookie); a GET changes nothing; forged, tampered
and rotated tokens; CSRF; concurrent POSTs; and the next run sends that customer nothing.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import email
import email.policy
import http.client
import json
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from milestones.core import links
from milestones.core.config import load_settings
from milestones.decide.preferences import Preferences
from tests.owners import customer_of
from tests.servers.public_app import public_server

SECRET = "s" * 40
HEADER = ["customer_id", "first_name", "email", "customer_since", "marketing_opt_in", "locale", "timezone",
          "date_of_birth"]
# Both have a birthday on 22 November and their customer anniversary on 1 December.
PEOPLE = [["C1", "Aino", "aino@example.fi", "2021-12-01", "true", "fi-FI", "Europe/Helsinki", "1980-11-22"],
          ["C2", "Mari", "mari@example.ee", "2021-12-01", "true", "et", "Europe/Tallinn", "1980-11-22"]]


def request(url: str, method: str = "GET", body: bytes | None = None, headers: dict | None = None):
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=body,
                 headers=headers or {})
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data.decode("utf-8", "replace")


def one_click(url: str, *, multipart: bool = False):
    """The POST exactly as mail providers send it (RFC 8058): no cookie, no Origin, one form field."""
    if multipart:
        boundary = "----=_Part_0_1234567.890"
        body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\n"
                f"One-Click\r\n--{boundary}--\r\n").encode()
        kind = f"multipart/form-data; boundary={boundary}"
    else:
        body, kind = b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
    return request(url, "POST", body, {"Content-Type": kind, "Content-Length": str(len(body)),
                                       "User-Agent": "Mozilla/5.0 (compatible; Google-Unsubscribe)"})


@pytest.fixture
def world(tmp_path, monkeypatch):
    """Settings for a data directory, and the public app serving it."""
    monkeypatch.setenv("MILESTONES_LINK_SECRET", SECRET)
    monkeypatch.delenv("MILESTONES_LINK_SECRETS_OLD", raising=False)
    for name, value in {"HOLDOUT_SHARE": "0", "FREQUENCY_CAP_DAYS": "1", "CATCH_UP_DAYS": "1"}.items():
        monkeypatch.setenv(f"MILESTONES_{name}", value)
    data = tmp_path / "data"
    settings = load_settings(data_dir=data)
    with public_server(settings) as base:
        monkeypatch.setenv("MILESTONES_PUBLIC_URL", base)
        yield load_settings(data_dir=data), base


def write_extract(folder: Path, day: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"customers_{day}.csv"
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([HEADER, *PEOPLE])
    return path


def outbox(settings) -> dict[str, email.message.EmailMessage]:
    found = {}
    for path in sorted((Path(settings.data_dir) / "outbox").glob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        found[path.name] = msg
    return found


def test_one_click_from_a_real_email_then_the_next_run_sends_that_customer_nothing(world, tmp_path):
    from milestones import pipeline

    settings, base = world
    first = pipeline.run(write_extract(tmp_path / "in", "2026-11-22"), "2026-11-22", settings,
                         at=dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC))
    assert first["emails_sent"] == 2, first
    mails = {customer_of(m, settings.data_dir): m for m in outbox(settings).values()}
    aino = mails["C1"]
    target = aino["List-Unsubscribe"].strip("<>")
    assert aino["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert target.startswith(base + "/u/") and "C1" not in target  # signed token, not a guessable key
    html = aino.get_body(("html",)).get_content()
    assert target in html and f"{base}/assets/birthday.png" in html
    assert "milestones.example" not in html

    store = Preferences(settings.ledger_database_url)
    # Mail scanners follow links: GETs of every link change nothing.
    for link in {target, *re.findall(r'href="([^"]+)"', html)}:
        if link.startswith(base):
            assert request(link)[0].status == 200
    assert store.history("C1") == [] and not store.get("C1").exists
    page = request(target, headers={"Accept-Language": "en"})[1]
    assert '<html lang="fi">' in page and "Peru kaikki viestit" in page  # the email's language wins

    response, body = one_click(target)
    assert response.status == 200, body
    assert response.getheader("Location") is None and response.getheader("Set-Cookie") is None
    assert store.get("C1").unsubscribed
    assert [(h["field"], h["new"], h["source"]) for h in store.history("C1")] == [
        ("unsubscribed", "true", "one_click")]

    # A week later both have their customer anniversary: only Mari hears from us.
    second = pipeline.run(write_extract(tmp_path / "in", "2026-12-01"), "2026-12-01", settings,
                          at=dt.datetime(2026, 12, 1, 6, tzinfo=dt.UTC))
    assert second["emails_sent"] == 1 and second["skipped"].get("unsubscribed") == 1, second
    after = [customer_of(m, settings.data_dir) for m in outbox(settings).values()
             if m["X-Milestones-Event"] == "customer_anniversary"]
    assert after == ["C2"]


def test_why_shows_the_choice(world, tmp_path, capsys):
    from milestones.cli import main

    settings, base = world
    token = links.sign(links.load_keys(settings.data_dir), "C1", "aino@example.fi", "fi")
    assert one_click(f"{base}/u/{token}", multipart=True)[0].status == 200  # the multipart form too
    assert main(["why", "C1", "--data-dir", str(settings.data_dir)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC unsubscribed: false -> true \(via one_click\)", out[-2])
    assert json.loads(out[-1])["choices"][0]["source"] == "one_click"


def test_concurrent_one_click_posts_for_one_customer(world):
    settings, base = world
    url = f"{base}/u/" + links.sign(links.load_keys(settings.data_dir), "C7", "x@example.fi", "fi")
    statuses: list[int] = []

    def post():
        statuses.append(one_click(url)[0].status)

    threads = [threading.Thread(target=post) for _ in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 24
    history = Preferences(settings.ledger_database_url).history("C7")
    assert [(h["field"], h["new"]) for h in history] == [("unsubscribed", "true")]


def _flip(token: str, index: int) -> str:
    raw = bytearray(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    raw[index] ^= 0x20
    return base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()


def test_forged_tampered_and_unknown_tokens_get_a_friendly_4xx_and_change_nothing(world):
    settings, base = world
    keys = links.load_keys(settings.data_dir)
    good = links.sign(keys, "C1", "aino@example.fi", "fi")
    forged = links.sign(links.LinkKeys(b"f" * 40), "C1", "aino@example.fi", "fi")
    cases = [forged, _flip(good, 6), _flip(good, -1), good[:-3], "C1", "x" * 5000, "%00%ff"]
    for token in cases:
        for method, path in (("GET", "u"), ("POST", "u"), ("GET", "preferences"), ("POST", "preferences")):
            body = b"List-Unsubscribe=One-Click" if method == "POST" else None
            response, text = request(f"{base}/{path}/{token}?lang=zh", method, body,
                                     {"Content-Type": "application/x-www-form-urlencoded"})
            assert 400 <= response.status < 500, (token, method, path, response.status)
            if response.status in (400, 410):
                assert "此链接无效" in text and "Traceback" not in text
    assert Preferences(settings.ledger_database_url).history("C1") == []


def test_rotated_secret(tmp_path, monkeypatch):
    old, new = "o" * 40, "n" * 40
    data = tmp_path / "data"
    token = links.sign(links.LinkKeys(old.encode()), "C1", "aino@example.fi", "et")
    monkeypatch.setenv("MILESTONES_LINK_SECRET", new)
    monkeypatch.setenv("MILESTONES_LINK_SECRETS_OLD", old)
    with public_server(load_settings(data_dir=data)) as base:
        assert request(f"{base}/preferences/{token}")[0].status == 200  # old links keep working
        assert one_click(f"{base}/u/{token}")[0].status == 200
    monkeypatch.delenv("MILESTONES_LINK_SECRETS_OLD")
    with public_server(load_settings(data_dir=data)) as base:
        response, text = request(f"{base}/preferences/{token}", headers={"Accept-Language": "et"})
        assert response.status == 400 and "See link ei tööta" in text  # dropped secret: links stop


def test_forms_need_their_csrf_token_and_this_site(world):
    settings, base = world
    token = links.sign(links.load_keys(settings.data_dir), "C1", "aino@example.fi", "fi")
    url = f"{base}/preferences/{token}"
    page = request(url)[1]
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    store = Preferences(settings.ledger_database_url)
    for body, headers in [
        (b"action=unsubscribe", form),                                        # no token
        (f"action=unsubscribe&csrf={csrf[:-2]}xx".encode(), form),            # a wrong one
        (f"action=unsubscribe&csrf={csrf}".encode(), {**form, "Origin": "https://evil.example"}),
        (f"action=unsubscribe&csrf={csrf}".encode(), {**form, "Sec-Fetch-Site": "cross-site"}),
    ]:
        response, text = request(url, "POST", body, headers)
        assert response.status == 403 and 'role="alert"' in text
    assert not store.get("C1").unsubscribed
    response, _ = request(url, "POST", f"action=unsubscribe&csrf={csrf}".encode(),
                          {**form, "Origin": base, "Sec-Fetch-Site": "same-origin"})
    assert response.status == 303 and store.get("C1").unsubscribed


def test_oversized_one_click_bodies_are_refused_unread_and_change_nothing(world):
    import httpx

    settings, base = world
    token = links.sign(links.load_keys(settings.data_dir), "C1", "aino@example.fi", "fi")
    flood = b"List-Unsubscribe=One-Click&pad=" + b"x" * 1_000_000
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response, text = request(f"{base}/u/{token}", "POST", flood, form)
    assert 400 <= response.status < 500 and "Traceback" not in text

    def chunks():  # streamed without a Content-Length: the cap must hold while reading
        yield b"List-Unsubscribe=One-Click&pad="
        for _ in range(64):
            yield b"x" * 16_384

    streamed = httpx.post(f"{base}/u/{token}", content=chunks(), headers=form, timeout=30)
    assert 400 <= streamed.status_code < 500
    assert Preferences(settings.ledger_database_url).history("C1") == []
    # The same link with the RFC 8058 body still works.
    response, _ = request(f"{base}/u/{token}", "POST", b"List-Unsubscribe=One-Click", form)
    assert response.status == 200
    assert [h["field"] for h in Preferences(settings.ledger_database_url).history("C1")] == ["unsubscribed"]
