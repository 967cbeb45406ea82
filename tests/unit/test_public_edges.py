"""Issue 26, item 5: the public app's edges answer 4xx (never 500) and change nothing.

Requests through the app in-process (TestClient, the writer on a thread): forms over the
size cap (multipart included), too many fields, no boundary, file parts; HEAD on pages and
/healthz; one spelling per token; tokens issued in the future; ``Origin`` against
``public_url``'s scheme and host. No answer carries a secret or the customer's address.
"""

from __future__ import annotations

import base64
import datetime as dt

import pytest

from milestones.core import links
from milestones.decide.preferences import Preferences
from milestones.public import csrf
from tests.hostile.public import public_client

EMAIL = "widow.person@example.com"
BOUNDARY = "----=_Part_0_1234567.890"
ONE_CLICK = "application/x-www-form-urlencoded"


@pytest.fixture
def app(tmp_path, monkeypatch):
    with public_client(tmp_path / "data", monkeypatch,
                       MILESTONES_PUBLIC_URL="https://prefs.example.com") as (client, _signer, settings):
        keys = links.load_keys(settings.data_dir)
        token = links.sign(keys, "C1", EMAIL, "en")
        yield client, keys, token, Preferences(settings.ledger_database_url)


def multipart(*parts: tuple[str, bytes, str | None]) -> bytes:
    out = b""
    for name, value, filename in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        out += f"--{BOUNDARY}\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


def unchanged(store) -> bool:
    return not store.get("C1").exists


def assert_clean(response):
    assert response.status_code < 500
    assert EMAIL not in response.text and "l" * 40 not in response.text and "Traceback" not in response.text


@pytest.mark.parametrize("case, status", [
    ("multipart_60mb_file_part", 413),
    ("multipart_3mb_field", 413),
    ("urlencoded_3mb_field", 413),
    ("urlencoded_1001_fields", 400),
    ("urlencoded_101_small_fields", 400),
    ("multipart_101_small_fields", 400),
    ("multipart_missing_boundary", 400),
    ("multipart_small_file_part", 400),
    ("multipart_garbage", 400),
])
@pytest.mark.parametrize("path", ["u", "preferences"])
def test_forms_over_the_caps_are_refused_with_4xx(app, case, status, path):
    client, _keys, token, store = app
    kind = f"multipart/form-data; boundary={BOUNDARY}"
    if case == "multipart_60mb_file_part":
        body = multipart(("List-Unsubscribe", b"One-Click", None), ("f", b"x" * (60 << 20), "a.bin"))
    elif case == "multipart_3mb_field":
        body = multipart(("List-Unsubscribe", b"One-Click" + b" " * (3 << 20), None))
    elif case == "urlencoded_3mb_field":
        body, kind = b"List-Unsubscribe=One-Click&pad=" + b"x" * (3 << 20), ONE_CLICK
    elif case == "urlencoded_1001_fields":
        body, kind = b"&".join([b"List-Unsubscribe=One-Click"] + [b"f%d=x" % i for i in range(1000)]), ONE_CLICK
    elif case == "urlencoded_101_small_fields":
        body, kind = b"List-Unsubscribe=One-Click" + b"&a=" * 100, ONE_CLICK
    elif case == "multipart_101_small_fields":
        body = multipart(("List-Unsubscribe", b"One-Click", None), *[("a", b"", None)] * 100)
    elif case == "multipart_missing_boundary":
        body, kind = multipart(("List-Unsubscribe", b"One-Click", None)), "multipart/form-data"
    elif case == "multipart_small_file_part":
        body = multipart(("List-Unsubscribe", b"One-Click", None), ("f", b"hello", "a.txt"))
    else:
        body = b"--" + BOUNDARY.encode() + b"\r\nnot a part at all"
    response = client.post(f"/{path}/{token}", content=body, headers={"Content-Type": kind})
    assert response.status_code == status, response.text
    assert_clean(response)
    assert unchanged(store)


def test_the_one_click_as_mail_providers_send_it_still_works(app):
    client, _keys, token, store = app
    body = multipart(("List-Unsubscribe", b"One-Click", None))
    response = client.post(f"/u/{token}", content=body,
                           headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"})
    assert response.status_code == 200 and store.get("C1").unsubscribed
    assert_clean(response)


@pytest.mark.parametrize("path", ["/u/{token}", "/preferences/{token}", "/healthz"])
def test_head_answers_200_without_a_body_and_changes_nothing(app, path):
    client, _keys, token, store = app
    response = client.head(path.format(token=token))
    assert response.status_code == 200 and response.content == b""
    assert unchanged(store)
    assert client.get(path.format(token=token)).status_code == 200  # the same answer as GET


def test_one_spelling_per_token(app):
    """A token whose last base64 character carries 4 unused bits had 16 accepted spellings."""
    client, keys, _token, _store = app
    # The customer id whose token's length leaves 4 bits unused (raw length 1 more than a multiple of 3).
    token = next(t for cid in ("C1", "C12", "C123") if len(t := links.sign(keys, cid, EMAIL, "en")) % 4 == 2)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    spellings = [token[:-1] + c for c in alphabet
                 if base64.urlsafe_b64decode(token[:-1] + c + "=" * (-len(token) % 4)) == raw]
    assert len(spellings) == 16
    answers = {s: client.get(f"/preferences/{s}").status_code for s in spellings}
    assert answers == {s: 200 if s == token else 400 for s in spellings}
    for spelling in spellings:
        if spelling != token:
            with pytest.raises(links.LinkError, match="not a link token"):
                links.verify(keys, spelling)


@pytest.mark.parametrize("issued, status", [
    (dt.datetime(2100, 1, 1, tzinfo=dt.UTC), 400),
    ("+11 minutes", 400),
    ("+9 minutes", 200),  # another server's clock a little ahead
    ("-399 days", 200),
    ("-401 days", 410),
])
def test_tokens_issued_in_the_future_are_refused(app, issued, status):
    client, keys, _token, _store = app
    if isinstance(issued, str):
        amount, unit = issued.split()
        issued = dt.datetime.now(dt.UTC) + dt.timedelta(**{unit: int(amount)})
    token = links.sign(keys, "C1", EMAIL, "en", issued=issued)
    response = client.get(f"/preferences/{token}")
    assert response.status_code == status
    assert_clean(response)


@pytest.mark.parametrize("origin, status", [
    ("https://prefs.example.com", 303),
    ("https://PREFS.example.com:443", 303),
    ("http://prefs.example.com", 403),      # the scheme counts
    ("https://prefs.example.com:8443", 403),
    ("http://testserver", 403),             # the request's own Host is not public_url
    ("https://evil.example", 403),
    ("null", 403),
    (None, 303),                            # no Origin (older browsers): the CSRF token decides
])
def test_origin_is_compared_with_public_urls_scheme_and_host(app, origin, status):
    client, keys, token, store = app
    form = f"action=unsubscribe&csrf={csrf.issue(keys, token)}"
    headers = {"Content-Type": ONE_CLICK, **({"Origin": origin} if origin else {})}
    response = client.post(f"/preferences/{token}", content=form.encode(), headers=headers,
                           follow_redirects=False)
    assert response.status_code == status
    assert store.get("C1").unsubscribed == (status == 303)
    assert_clean(response)


def test_one_spelling_per_csrf_token(app):
    _client, keys, token, _store = app
    value = csrf.issue(keys, token)
    issued, mac = value.split(".")
    assert csrf.valid(keys, token, value)
    arabic = "".join(chr(0x660 + int(d)) for d in issued)  # int() reads Arabic-Indic digits too
    for spelling in (f"0{issued}.{mac}", f"{arabic}.{mac}", f"+{issued}.{mac}", f"{issued}.{mac}="):
        assert not csrf.valid(keys, token, spelling), spelling
