"""The public app's own checks, each alone: the one-click body (RFC 8058), the request's site
(Origin, Sec-Fetch-Site), the form's CSRF token, the body cap.

Expected values come from the rules as written (RFC 8058's exact body, a 24-hour form lifetime,
Fetch Metadata's values), never from the functions under test. The HTTP cases run the app in
process (Starlette's TestClient, the writer thread, SQLite in tmp_path): no server, no browser.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from milestones.core import links
from milestones.core.links import LinkKeys
from milestones.public import bodies, csrf
from milestones.public.bodies import BadForm, read_capped, read_form

pytestmark = pytest.mark.unit

KEYS = LinkKeys(b"k" * 40)
OLD = LinkKeys(b"o" * 40)
T0 = 1_790_000_000  # any fixed second
DAY = 24 * 3600  # the form's documented lifetime


# --- CSRF token: issued for one link, valid for 24 hours, under the current or an old secret --------

def test_a_fresh_token_is_valid_for_its_own_link_only():
    value = csrf.issue(KEYS, "tok-A", now=T0)
    assert csrf.valid(KEYS, "tok-A", value, now=T0)
    assert not csrf.valid(KEYS, "tok-B", value, now=T0)  # another customer's page


@pytest.mark.parametrize("age, ok", [(0, True), (1, True), (DAY - 1, True), (DAY, True), (DAY + 1, False),
                                     (-1, False), (-DAY, False)])
def test_token_lifetime_is_24_hours_and_never_from_the_future(age, ok):
    value = csrf.issue(KEYS, "tok", now=T0)
    assert csrf.valid(KEYS, "tok", value, now=T0 + age) is ok


def test_a_token_is_its_time_and_a_128_bit_tag_safe_in_a_url():
    # <seconds>.<16 bytes of HMAC-SHA256 as URL-safe base64, unpadded: 22 characters>
    assert re.fullmatch(r"1790000000\.[A-Za-z0-9_-]{22}", csrf.issue(KEYS, "tok", now=T0))


def test_the_issue_time_is_the_tokens_own_and_signed():
    value = csrf.issue(KEYS, "tok", now=T0)
    issued, _, mac = value.partition(".")
    assert issued == str(T0)
    # Moving the time forward (to extend an old form) breaks the signature.
    assert not csrf.valid(KEYS, "tok", f"{T0 + 10}.{mac}", now=T0 + 10)


def test_old_secrets_verify_and_unknown_ones_do_not():
    rotated = LinkKeys(b"n" * 40, (OLD.current,))
    assert csrf.valid(rotated, "tok", csrf.issue(OLD, "tok", now=T0), now=T0)
    assert not csrf.valid(KEYS, "tok", csrf.issue(OLD, "tok", now=T0), now=T0)
    # A token is issued under the current secret: an old one alone no longer verifies it.
    assert not csrf.valid(OLD, "tok", csrf.issue(rotated, "tok", now=T0), now=T0)


@pytest.mark.parametrize("value", ["", None, ".", f"{T0}", f"{T0}.", f".{'A' * 22}", f"x{T0}.{'A' * 22}",
                                   f"-{T0}.{'A' * 22}", f"{T0}.{'A' * 22}", "1" * 13 + ".AAAA",
                                   f" {T0}.AAAA"])
def test_malformed_tokens_are_refused(value):
    assert not csrf.valid(KEYS, "tok", value, now=T0)


def test_a_token_with_twelve_digit_time_is_read_and_thirteen_is_not():
    # 12 digits still name a time (year 33658): read, then refused as from the future, not as malformed.
    far = 999_999_999_999
    value = csrf.issue(KEYS, "tok", now=far)
    assert csrf.valid(KEYS, "tok", value, now=far)
    assert not csrf.valid(KEYS, "tok", "0" + value, now=far)  # 13 digits
    # A true 13-digit time, signed and "fresh" at that moment, is refused by its length alone.
    later = 1_000_000_000_000
    assert not csrf.valid(KEYS, "tok", csrf.issue(KEYS, "tok", now=later), now=later)


# --- the request's site: Fetch Metadata first, then Origin against Host or the public URL -------------

HOST = {"host": "prefs.bank.example"}


@pytest.mark.parametrize("headers, public_url, ok", [
    ({}, "", True),                                                     # old browsers, curl: the token decides
    (HOST, "", True),
    ({**HOST, "sec-fetch-site": "same-origin"}, "", True),
    ({**HOST, "sec-fetch-site": "none"}, "", True),                    # typed or bookmarked
    ({**HOST, "sec-fetch-site": "same-site"}, "", False),              # a sibling subdomain is another site here
    ({**HOST, "sec-fetch-site": "cross-site"}, "", False),
    ({**HOST, "sec-fetch-site": "anything"}, "", False),
    ({**HOST, "origin": "https://prefs.bank.example"}, "", True),
    ({**HOST, "origin": "http://prefs.bank.example"}, "", True),       # the host is compared, not the scheme
    ({**HOST, "origin": "https://evil.example"}, "", False),
    ({**HOST, "origin": "https://prefs.bank.example.evil.example"}, "", False),
    ({**HOST, "origin": "https://prefs.bank.example:8443"}, "", False),  # another port is another origin
    ({**HOST, "origin": "null"}, "", False),                            # sandboxed frames, data: URLs
    ({"origin": "null"}, "", False),                                    # with no Host to compare either
    ({**HOST, "origin": "file://"}, "", False),                         # an origin without a host
    ({**HOST, "origin": "file://"}, "https://prefs.bank.example", False),
    ({**HOST, "origin": ""}, "", True),                                 # sent empty: as if absent
    # Behind a proxy the Host is internal: the public URL's host is allowed as well.
    ({"host": "127.0.0.1:8000", "origin": "https://prefs.bank.example"}, "https://prefs.bank.example/x", True),
    ({"host": "127.0.0.1:8000", "origin": "https://prefs.bank.example"}, "", False),
    ({"host": "127.0.0.1:8000", "origin": "https://evil.example"}, "https://prefs.bank.example", False),
    # With public_url set, only its scheme and host (issue 26): not the request's own Host.
    ({"host": "127.0.0.1:8000", "origin": "http://127.0.0.1:8000"}, "https://prefs.bank.example", False),
    ({"host": "prefs.bank.example", "origin": "http://prefs.bank.example"}, "https://prefs.bank.example", False),
    # A scheme's default port written out is the same origin; another port is not (public URL set).
    ({"origin": "http://prefs.bank.example:80"}, "http://prefs.bank.example", True),
    ({"origin": "https://prefs.bank.example:443"}, "https://prefs.bank.example", True),
    ({"origin": "http://prefs.bank.example:81"}, "http://prefs.bank.example", False),
    # IPv6 hosts are compared whole (in brackets, with the port apart).
    ({"origin": "https://[2001:db8::1]"}, "https://[2001:db8::1]/", True),
    ({"origin": "https://[2001:db8::2]"}, "https://[2001:db8::1]/", False),
    ({"origin": "https://[2001:db8::1]:8443"}, "https://[2001:db8::1]/", False),
    # Without the brackets, address ::1 on port 8443 and address ::1:8443 would be one "host:port".
    ({"origin": "https://[2001:db8::1:8443]"}, "https://[2001:db8::1]:8443/", False),
    # Not a URL at all: no scheme, no host.
    ({**HOST, "origin": "not a url"}, "", False),
    # Each rule alone: a good Origin does not save a cross-site fetch, nor a good fetch a foreign Origin.
    ({**HOST, "origin": "https://prefs.bank.example", "sec-fetch-site": "cross-site"}, "", False),
    ({**HOST, "origin": "https://evil.example", "sec-fetch-site": "same-origin"}, "", False),
])
def test_same_site(headers, public_url, ok):
    assert csrf.same_site(headers, public_url) is ok


def test_same_site_without_a_host_header_allows_only_the_public_url():
    assert not csrf.same_site({"origin": "https://prefs.bank.example"})
    assert not csrf.same_site({**HOST, "origin": "file://"})  # no public URL given: no empty host allowed
    assert not csrf.same_site({**HOST, "origin": "not a url"})  # nor an origin with no scheme and no host
    assert csrf.same_site({"origin": "https://prefs.bank.example"}, "https://prefs.bank.example")


# --- the body cap ----------------------------------------------------------------------------

class _Body:
    """An ASGI request body in chunks; counts what was read."""

    def __init__(self, chunks: list[bytes], declared: int | None):
        self.chunks, self.read = list(chunks), 0
        headers = [] if declared is None else [(b"content-length", str(declared).encode())]
        self.scope = {"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}

    async def receive(self):
        chunk = self.chunks.pop(0) if self.chunks else b""
        self.read += 1
        return {"type": "http.request", "body": chunk, "more_body": bool(self.chunks)}


def _capped(chunks: list[bytes], limit: int, declared: int | None = None) -> tuple[bytes | None, int]:
    from starlette.requests import Request

    body = _Body(chunks, declared)
    return asyncio.run(read_capped(Request(body.scope, body.receive), limit)), body.read


def test_a_body_up_to_the_limit_is_read_whole():
    assert _capped([b"abc", b"de"], 5) == (b"abcde", 2)
    assert _capped([b"abcde"], 5, declared=5)[0] == b"abcde"
    assert _capped([], 5, declared=0)[0] == b""


def test_a_declared_length_over_the_limit_is_refused_unread():
    assert _capped([b"abcdef"], 5, declared=6) == (None, 0)


def test_a_body_streamed_past_the_limit_stops_at_the_chunk_that_crosses_it():
    got, read = _capped([b"abc", b"def", b"ghi", b"jkl"], 5)
    assert got is None and read == 2
    # A lying Content-Length (under the limit) does not lift the cap.
    assert _capped([b"abc", b"def"], 5, declared=3)[0] is None


def test_a_content_length_that_is_not_a_number_is_ignored_and_the_cap_still_holds():
    from starlette.requests import Request

    body = _Body([b"abcdef"], None)
    body.scope["headers"] = [(b"content-length", b"lots")]
    assert asyncio.run(read_capped(Request(body.scope, body.receive), 5)) is None
    body = _Body([b"abc"], None)
    body.scope["headers"] = [(b"content-length", b"lots")]
    assert asyncio.run(read_capped(Request(body.scope, body.receive), 5)) == b"abc"


# --- the routes: one-click body, and the save form's two checks each alone -----------------------

@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """The app in process with its writer thread, a link secret of its own, SQLite."""
    from fastapi.testclient import TestClient

    from milestones.core.config import load_settings
    from milestones.public import create_app

    mp = pytest.MonkeyPatch()
    mp.setenv("MILESTONES_LINK_SECRET", "s" * 40)
    mp.delenv("MILESTONES_LINK_SECRETS_OLD", raising=False)
    mp.setenv("MILESTONES_WRITER_PROCESS", "false")
    settings = load_settings(data_dir=tmp_path_factory.mktemp("public") / "data",
                             public_url="https://prefs.bank.example")
    with TestClient(create_app(settings), base_url="https://prefs.bank.example") as client:
        yield client, settings
    mp.undo()


_n = iter(range(10_000))


def _customer(app) -> tuple[str, str]:
    client, settings = app
    cid = f"C{next(_n)}"
    return cid, links.sign(links.load_keys(settings.data_dir), cid, f"{cid.lower()}@example.fi", "fi")


def _state(app, cid):
    from milestones.decide.preferences import Preferences

    return Preferences(app[1].ledger_database_url).get(cid)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize("body, headers, unsubscribes", [
    (b"List-Unsubscribe=One-Click", FORM, True),                          # RFC 8058, exactly
    (b"List-Unsubscribe=One-Click&extra=1", FORM, True),                  # other fields do not matter
    (b"", FORM, False),
    (b"List-Unsubscribe=one-click", FORM, False),                         # the value is case-sensitive
    (b"List-Unsubscribe=One-Click ", FORM, False),
    (b"list-unsubscribe=One-Click", FORM, False),
    (b"List-Unsubscribe=", FORM, False),
    (b"Unsubscribe=One-Click", FORM, False),
])
def test_one_click_needs_the_rfc_8058_body(app, body, headers, unsubscribes):
    client, _ = app
    cid, token = _customer(app)
    response = client.post(f"/u/{token}", content=body, headers=headers)
    assert response.status_code == (200 if unsubscribes else 400)
    assert not response.headers.get("set-cookie") and not response.is_redirect
    assert _state(app, cid).unsubscribed is unsubscribes


def test_one_click_as_multipart_like_some_providers_send_it(app):
    client, _ = app
    cid, token = _customer(app)
    response = client.post(f"/u/{token}", files={"List-Unsubscribe": (None, "One-Click")})
    assert response.status_code == 200 and _state(app, cid).unsubscribed


def test_one_click_with_a_bad_link_changes_nothing(app):
    client, _ = app
    cid, token = _customer(app)
    response = client.post(f"/u/{token[:-2]}", content=b"List-Unsubscribe=One-Click", headers=FORM)
    assert response.status_code == 400 and not _state(app, cid).unsubscribed


def test_a_get_of_the_one_click_link_changes_nothing(app):
    client, _ = app
    cid, token = _customer(app)
    assert client.get(f"/u/{token}").status_code == 200
    assert not _state(app, cid).unsubscribed


def _csrf(app, token: str) -> str:
    page = app[0].get(f"/preferences/{token}").text
    return re.search(r'name="csrf" value="([^"]+)"', page).group(1)


@pytest.mark.parametrize("case, status", [
    ("all good", 303),
    ("no token", 403), ("another page's token", 403), ("expired token", 403),
    ("foreign origin", 403), ("cross-site fetch", 403), ("null origin", 403),
])
def test_the_save_form_needs_its_token_and_this_site_each_alone(app, case, status):
    client, settings = app
    cid, token = _customer(app)
    good = _csrf(app, token)
    value = {"no token": "", "another page's token": _csrf(app, _customer(app)[1]),
             "expired token": csrf.issue(links.load_keys(settings.data_dir), token, now=T0)}.get(case, good)
    headers = {**FORM, "Origin": "https://prefs.bank.example", "Sec-Fetch-Site": "same-origin"}
    headers |= {"foreign origin": {"Origin": "https://evil.example"}, "null origin": {"Origin": "null"},
                "cross-site fetch": {"Sec-Fetch-Site": "cross-site"}}.get(case, {})
    body = f"action=unsubscribe&csrf={value}".encode()
    response = client.post(f"/preferences/{token}", content=body, headers=headers, follow_redirects=False)
    assert response.status_code == status
    assert _state(app, cid).unsubscribed is (status == 303)
    if status == 403:
        assert 'role="alert"' in response.text and 'name="csrf"' in response.text  # a fresh form to retry


# --- the form reader (read_form) as a function: each rule alone ------------------------------------
# Expected values: the rule as read_form's docstring states it, and Starlette's own refusals,
# which the app relays to the client as they are (its MultiPartException messages).

BOUNDARY = "b0uNd"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
URLENCODED = "application/x-www-form-urlencoded"


def _form_request(body: bytes, content_type: str | None):
    from starlette.requests import Request

    headers = [(b"content-length", str(len(body)).encode())]
    if content_type is not None:
        headers.append((b"content-type", content_type.encode()))
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    return Request({"type": "http", "method": "POST", "path": "/", "headers": headers, "query_string": b""}, receive)


def form(body: bytes, content_type: str | None = URLENCODED, **caps) -> dict[str, list[str]]:
    return asyncio.run(read_form(_form_request(body, content_type), **caps))


def refused(body: bytes, content_type: str | None = URLENCODED, **caps) -> tuple[int, str]:
    with pytest.raises(BadForm) as caught:
        form(body, content_type, **caps)
    return caught.value.status, str(caught.value)


def parts(*fields: tuple[str, bytes], files: tuple[str, ...] = ()) -> bytes:
    out = b""
    for name, value in fields:
        out += f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
    for name in files:
        out += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="a.txt"\r\n'
                "Content-Type: text/plain\r\n\r\nhello\r\n").encode()
    return out + f"--{BOUNDARY}--\r\n".encode()


# --- urlencoded -------------------------------------------------------------------------------

def test_urlencoded_keeps_blank_values_and_every_repeat_in_order():
    assert form(b"List-Unsubscribe=One-Click&topic=a&topic=b&note=") == {
        "List-Unsubscribe": ["One-Click"], "topic": ["a", "b"], "note": [""]}


def test_no_content_type_is_read_as_urlencoded():
    assert form(b"a=1", None) == {"a": ["1"]}


def test_bytes_that_are_not_utf8_become_the_replacement_character_not_an_error():
    assert form(b"name=J\xf6rg") == {"name": ["J\ufffdrg"]}


def test_the_field_cap_counts_fields_and_the_one_over_is_refused():
    assert len(form(b"&".join(b"f%d=x" % i for i in range(5)), max_fields=5)) == 5
    assert refused(b"&".join(b"f%d=x" % i for i in range(6)), max_fields=5) == (400, "too many fields")
    assert len(form(b"&".join(b"f%d=x" % i for i in range(100)))) == 100  # FORM_FIELDS
    assert refused(b"&".join(b"f%d=x" % i for i in range(101))) == (400, "too many fields")


def test_the_size_cap_is_on_the_whole_body_whatever_its_kind():
    at_cap = b"a=" + b"x" * (bodies.FORM_BYTES - 2)
    assert form(at_cap) == {"a": ["x" * (bodies.FORM_BYTES - 2)]}
    assert refused(at_cap + b"x") == (413, "form too large")
    assert refused(parts(("a", b"x" * 100)), MULTIPART, limit=50) == (413, "form too large")


# --- multipart --------------------------------------------------------------------------------

def test_multipart_fields_are_read_like_urlencoded_ones():
    assert form(parts(("List-Unsubscribe", b"One-Click"), ("topic", b"a"), ("topic", b"b"), ("note", b"")),
                MULTIPART) == {"List-Unsubscribe": ["One-Click"], "topic": ["a", "b"], "note": [""]}


def test_a_file_part_is_refused_by_the_parser_before_any_is_stored():
    assert refused(parts(("a", b"1"), files=("f",)), MULTIPART) == (
        400, "Too many files. Maximum number of files is 0.")


def test_multipart_without_a_boundary_is_refused():
    assert refused(parts(("a", b"1")), "multipart/form-data") == (400, "Missing boundary in multipart.")


def test_multipart_field_cap():
    assert form(parts(("a", b"1"), ("b", b"2")), MULTIPART, max_fields=2) == {"a": ["1"], "b": ["2"]}
    assert refused(parts(("a", b"1"), ("b", b"2"), ("c", b"3")), MULTIPART, max_fields=2) == (
        400, "Too many fields. Maximum number of fields is 2.")


def test_a_body_that_is_not_multipart_at_all_is_refused():
    assert refused(f"--{BOUNDARY}\r\nnot a part".encode(), MULTIPART) == (400, "Invalid multipart data.")


def test_any_other_parser_failure_is_a_400_never_a_500(monkeypatch):
    from starlette import formparsers

    async def broken(self):
        raise RuntimeError("python-multipart fell over")

    monkeypatch.setattr(formparsers.MultiPartParser, "parse", broken)
    assert refused(parts(("a", b"1")), MULTIPART) == (400, "malformed multipart body")


def test_a_file_the_parser_let_through_is_still_refused(monkeypatch):
    # A second line behind max_files=0: should a parser hand a file over anyway, it is refused.
    from starlette import formparsers
    from starlette.datastructures import FormData, UploadFile

    async def with_a_file(self):
        import io

        return FormData([("a", "1"), ("f", UploadFile(io.BytesIO(b"hello"), filename="a.txt"))])

    monkeypatch.setattr(formparsers.MultiPartParser, "parse", with_a_file)
    assert refused(parts(("a", b"1")), MULTIPART) == (400, "file parts are not accepted")
