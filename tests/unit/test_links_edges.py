"""Fast unit tests that kill the mutants of core.links: signed links, their expiry and their shape.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import stat
import struct

import pytest

from milestones.core import links

A = "a" * 40
B = "b" * 40
NOW = dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)
KEYS = links.LinkKeys(A.encode())


# A reference codec written from the layout in the module's docstring (not from its code):
#   version (1 byte) | issued (uint32) | ENC(customer_id 0x1f email 0x1f language) | MAC (16 bytes)
#   MAC = HMAC-SHA256(secret, domain | version | issued | plain)[:16]
#   ENC(x) = x XOR HMAC-SHA256(secret, b"milestones-link-stream" | MAC | counter) blocks (counter: uint32)
def _stream(secret: bytes, mac: bytes, size: int) -> bytes:
    out = b""
    counter = 0
    while len(out) < size:
        out += hmac.new(secret, b"milestones-link-stream" + mac + counter.to_bytes(4, "big"), hashlib.sha256).digest()
        counter += 1
    return out[:size]


def forge(plain: bytes, *, secret: bytes = A.encode(), version: int = 2, issued: dt.datetime = NOW,
          domain: bytes = b"milestones-link") -> str:
    head = bytes([version]) + int(issued.timestamp()).to_bytes(4, "big")
    mac = hmac.new(secret, domain + head + plain, hashlib.sha256).digest()[:16]
    hidden = bytes(a ^ b for a, b in zip(plain, _stream(secret, mac, len(plain)), strict=True))
    return base64.urlsafe_b64encode(head + hidden + mac).rstrip(b"=").decode()


def reveal(token: str, secret: bytes = A.encode()) -> tuple[int, int, bytes, bytes]:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    head, hidden, mac = raw[:5], raw[5:-16], raw[-16:]
    plain = bytes(a ^ b for a, b in zip(hidden, _stream(secret, mac, len(hidden)), strict=True))
    return head[0], int.from_bytes(head[1:], "big"), plain, mac


def test_a_token_has_the_documented_layout():
    # Long fields: more than one keystream block.
    token = links.sign(KEYS, "C" * 30, " Ada.Lovelace@Example.COM ", "fi", issued=NOW)
    version, issued, plain, mac = reveal(token)
    assert (version, issued) == (2, 1795338000)
    assert plain == b"C" * 30 + b"\x1fada.lovelace@example.com\x1ffi"
    head = bytes([2]) + (1795338000).to_bytes(4, "big")
    assert mac == hmac.new(A.encode(), b"milestones-link" + head + plain, hashlib.sha256).digest()[:16]
    assert "=" not in token


def test_a_view_token_is_signed_under_its_own_domain():
    token = links.sign_view(KEYS, "key-1", dt.date(2026, 11, 22), issued=NOW)
    _, _, plain, mac = reveal(token)
    assert plain == b"key-1\x1f2026-11-22\x1f"
    head = bytes([2]) + (1795338000).to_bytes(4, "big")
    assert mac == hmac.new(A.encode(), b"milestones-view" + head + plain, hashlib.sha256).digest()[:16]
    assert links.verify_view(KEYS, token, now=NOW) == ("key-1", "2026-11-22")


def test_a_token_made_to_the_layout_verifies():
    token = forge(b"C1\x1fann@example.com\x1fet")
    assert links.verify(KEYS, token, now=NOW) == links.Link("C1", "ann@example.com", "et", NOW)


def test_the_shortest_token_has_three_empty_fields():
    token = forge(b"\x1f\x1f")
    assert links.verify(KEYS, token, now=NOW) == links.Link("", "", "", NOW)
    with pytest.raises(links.LinkError, match="^not a link token$"):
        links.verify(KEYS, forge(b"\x1f"), now=NOW)   # one byte short of the shortest


@pytest.mark.parametrize("plain", [b"C1\x1fann@example.com", b"C1\x1fa\x1fb\x1fc", b"C1\x1f\xff\xfe\x1fen"])
def test_fields_that_do_not_split_in_three_or_decode_are_not_a_token(plain):
    with pytest.raises(links.LinkError) as refused:
        links.verify(KEYS, forge(plain), now=NOW)
    assert str(refused.value) == "not a link token"


@pytest.mark.parametrize("version", [1, 3, 255])
def test_another_version_signed_with_the_secret_is_refused(version):
    with pytest.raises(links.LinkError) as refused:
        links.verify(KEYS, forge(b"C1\x1fa@b.c\x1fen", version=version), now=NOW)
    assert str(refused.value) == "unknown link version"


def test_a_token_under_an_unknown_secret_or_another_purpose():
    other = forge(b"C1\x1fa@b.c\x1fen", secret=B.encode())
    with pytest.raises(links.LinkError) as refused:
        links.verify(KEYS, other, now=NOW)
    assert str(refused.value) == "the link's signature does not match"
    assert links.verify(links.LinkKeys(A.encode(), (b"x" * 32, B.encode())), other, now=NOW).customer_id == "C1"
    view = forge(b"k\x1f2026-11-22\x1f", domain=b"milestones-view")
    with pytest.raises(links.LinkError, match="signature does not match"):
        links.verify(KEYS, view, now=NOW)
    with pytest.raises(links.LinkError, match="signature does not match"):
        links.verify_view(KEYS, forge(b"k\x1f2026-11-22\x1f"), now=NOW)


@pytest.mark.parametrize("issued, message", [
    (NOW + dt.timedelta(minutes=10), None),                        # another host's clock, within the skew
    (NOW + dt.timedelta(minutes=10, seconds=1), "the link's issue time is in the future"),
    (NOW - links.LIFETIME, None),                                  # the last second of its life
    (NOW - links.LIFETIME - dt.timedelta(seconds=1), "the link has expired"),
])
def test_issue_time_edges(issued, message):
    token = links.sign(KEYS, "C1", "a@b.c", "en", issued=issued)
    if message is None:
        assert links.verify(KEYS, token, now=NOW).issued == issued
    else:
        with pytest.raises(links.LinkError) as refused:
            links.verify(KEYS, token, now=NOW)
        assert str(refused.value) == message


def test_a_view_link_lives_90_days_and_a_customer_link_400():
    assert links.VIEW_LIFETIME == dt.timedelta(days=90) and links.LIFETIME == dt.timedelta(days=400)
    token = links.sign_view(KEYS, "k", "2026-11-22", issued=NOW)
    assert links.verify_view(KEYS, token, now=NOW + dt.timedelta(days=90)) == ("k", "2026-11-22")
    with pytest.raises(links.LinkError, match="^the link has expired$"):
        links.verify_view(KEYS, token, now=NOW + dt.timedelta(days=90, seconds=1))


def test_verify_uses_the_current_time_by_default():
    fresh = links.sign(KEYS, "C1", "a@b.c")
    assert abs(links.verify(KEYS, fresh).issued - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)
    with pytest.raises(links.LinkError, match="expired"):
        links.verify(KEYS, links.sign(KEYS, "C1", "a@b.c", issued=NOW - dt.timedelta(days=2000)))


@pytest.mark.parametrize("field", ["customer_id", "email", "language"])
def test_the_unit_separator_is_refused_in_every_field(field):
    values = {"customer_id": "C1", "email": "a@b.c", "language": "en", field: "x\x1fy"}
    with pytest.raises(ValueError) as refused:
        links.sign(KEYS, **values)
    assert str(refused.value) == "link fields cannot contain the unit separator"


def test_token_text_edges():
    longest = links._b64(b"\x00" * 768)  # 1024 characters
    assert len(longest) == 1024
    with pytest.raises(links.LinkError, match="signature does not match"):
        links.verify(KEYS, longest, now=NOW)  # long enough to be read, and not signed
    with pytest.raises(links.LinkError, match="^not a link token$"):
        links.verify(KEYS, longest + "AAAA", now=NOW)
    token = links.sign(KEYS, "C1", "a@b.c", "en", issued=NOW)
    # The same bytes spelled with non-zero unused bits in the last character: one spelling only.
    last = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    assert len(token) % 4 in (2, 3)
    other = token[:-1] + last[last.index(token[-1]) + 1]
    assert base64.urlsafe_b64decode(other + "=" * (-len(other) % 4)) == base64.urlsafe_b64decode(
        token + "=" * (-len(token) % 4))
    with pytest.raises(links.LinkError, match="^not a link token$"):
        links.verify(KEYS, other, now=NOW)
    with pytest.raises(links.LinkError, match="^not a link token$"):
        links._unb64("A")  # a length base64 cannot have


def test_url_joins_base_path_and_quoted_token():
    assert links.url("https://x.example/u/", "p", "a/b+c=") == "https://x.example/u/p/a%2Fb%2Bc%3D"
    assert links.url("https://x.example", "u", "tok") == "https://x.example/u/tok"


def test_keys_all_is_current_first():
    assert links.LinkKeys(b"c", (b"p1", b"p2")).all == (b"c", b"p1", b"p2")


def test_a_secret_needs_32_characters_and_the_message_names_where_it_came_from():
    assert links._check("s" * 32, "here") == b"s" * 32
    with pytest.raises(ValueError) as refused:
        links._check("s" * 31, "here")
    assert str(refused.value) == ("here: a link secret needs at least 32 characters "
                                  "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")


@pytest.fixture
def clean(monkeypatch):
    for var in ("MILESTONES_LINK_SECRET", "MILESTONES_LINK_SECRETS_OLD", "AIRFLOW_CONN_MILESTONES_LINKS"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setattr("milestones.core.airflow_conn.reachable", lambda: False)
    return monkeypatch


def test_the_connection_as_a_uri_gives_its_password(clean):
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", f"  generic://user:{B[:20]}%2F{B[20:]}@host  ")
    assert links._from_connection() == (B[:20] + "/" + B[20:], [])


@pytest.mark.parametrize("extra, previous", [
    ({"previous": [A]}, [A]), (json.dumps({"previous": [A]}), [A]), ("", []), (None, []), ({}, []),
])
def test_the_connection_as_json_with_extra_as_text_or_object(clean, extra, previous):
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", " " + json.dumps({"password": B, "extra": extra}))
    assert links._from_connection() == (B, previous)
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", json.dumps({"extra": extra}))
    assert links._from_connection() == ("", previous)


def test_without_a_connection_and_without_airflow_nothing_is_looked_up(clean):
    assert links._from_connection() is None


def test_a_connection_names_itself_in_errors_and_adds_to_the_old_secrets(clean, tmp_path):
    clean.setenv("MILESTONES_LINK_SECRETS_OLD", "c" * 32)
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", json.dumps({"password": B, "extra": {"previous": [A]}}))
    assert links.load_keys(tmp_path) == links.LinkKeys(B.encode(), (b"c" * 32, A.encode()))
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", json.dumps({"password": "short"}))
    with pytest.raises(ValueError, match="^connection milestones_links: a link secret needs at least 32"):
        links.load_keys(tmp_path)
    clean.setenv("MILESTONES_LINK_SECRETS_OLD", "old")
    clean.setenv("MILESTONES_LINK_SECRET", A)
    with pytest.raises(ValueError, match="^MILESTONES_LINK_SECRETS_OLD: a link secret needs at least 32"):
        links.load_keys(tmp_path)
    assert not (tmp_path / "secrets").exists()


def test_a_connection_without_a_password_falls_back_to_the_local_secret(clean, tmp_path):
    clean.setenv("AIRFLOW_CONN_MILESTONES_LINKS", json.dumps({"extra": {"previous": [A]}}))
    keys = links.load_keys(tmp_path)
    assert keys.previous == ()
    assert keys.current == (tmp_path / "secrets" / "link_secret").read_text().strip().encode()


def test_the_local_secret_is_made_once_private_and_read_back(clean, tmp_path):
    keys = links.load_keys(tmp_path / "data")
    folder = tmp_path / "data" / "secrets"
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(folder / "link_secret").st_mode) == 0o600
    assert len(keys.current) >= 32 and keys.previous == ()
    (folder / "link_secret").write_text(" " + "z" * 40 + "\n")  # someone else's, read as it is (trimmed)
    assert links.load_keys(tmp_path / "data").current == b"z" * 40
    clean.setenv("MILESTONES_LINK_SECRET", "  " + A + "  ")
    assert links.load_keys(tmp_path / "data").current == A.encode()


def test_a_short_local_secret_is_named(clean, tmp_path):
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "link_secret").write_text("short")
    with pytest.raises(ValueError, match="^data_dir/secrets/link_secret: a link secret needs at least 32"):
        links.load_keys(tmp_path)


def test_struct_layout_is_big_endian():
    # The issue time is an unsigned 32-bit big-endian number (the layout), e.g. for a token of 2026.
    token = links.sign(KEYS, "C1", "a@b.c", "en", issued=NOW)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert struct.unpack(">BI", raw[:5]) == (2, 1795338000)


def test_a_long_address_is_hidden_block_after_block_as_the_layout_says():
    # 33 + 64 characters of plain text: three 32-byte blocks of the stream, the last one partly.
    email = "x" * 80 + "@example.com"
    token = links.sign(KEYS, "C1", email, "fi", issued=NOW)
    _version, _issued, plain, _mac = reveal(token)
    assert plain == b"C1\x1f" + email.encode() + b"\x1ffi" and len(plain) > 64


def test_base64_keeps_a_final_x_and_drops_only_padding():
    assert links._b64(b"\x00\x00\x17") == "AAAX"   # 000000 000000 000000 010111
    assert links._b64(b"\xff") == "_w"              # padding "==" dropped


def test_a_link_keeps_its_base_path_whatever_it_ends_with():
    assert links.url("https://prefs.bank.example/X/", "u", "t0k") == "https://prefs.bank.example/X/u/t0k"
    assert links.url("https://prefs.bank.example/X", "u", "a/b") == "https://prefs.bank.example/X/u/a%2Fb"


def test_a_short_secret_is_named_by_where_it_came_from(tmp_path, monkeypatch):
    monkeypatch.setenv("MILESTONES_LINK_SECRET", "short")
    with pytest.raises(ValueError, match="^MILESTONES_LINK_SECRET: a link secret needs at least"):
        links.load_keys(tmp_path)


@pytest.mark.parametrize("conn, current, previous", [
    # The Airflow connection as JSON, its extra as a JSON text (how Airflow stores it) or a mapping.
    (json.dumps({"conn_type": "generic", "password": A, "extra": json.dumps({"previous": [B]})}), A, (B,)),
    (json.dumps({"conn_type": "generic", "password": A, "extra": {"previous": [B]}}), A, (B,)),
    (json.dumps({"conn_type": "generic", "password": A, "extra": ""}), A, ()),
    (json.dumps({"conn_type": "generic", "password": A}), A, ()),
    # ...or as a URI, the password percent-encoded.
    (f"generic://:{A[:-1]}%2F@", A[:-1] + "/", ()),
])
def test_the_links_connection_in_the_environment(tmp_path, monkeypatch, conn, current, previous):
    monkeypatch.delenv("MILESTONES_LINK_SECRET", raising=False)
    monkeypatch.delenv("MILESTONES_LINK_SECRETS_OLD", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_MILESTONES_LINKS", conn)
    keys = links.load_keys(tmp_path)
    assert keys.current == current.encode() and keys.previous == tuple(p.encode() for p in previous)
    assert not (tmp_path / "secrets").exists()  # no secret of its own made


def test_a_links_connection_without_a_password_falls_back_to_the_data_directory(tmp_path, monkeypatch):
    monkeypatch.delenv("MILESTONES_LINK_SECRET", raising=False)
    monkeypatch.setenv("AIRFLOW_CONN_MILESTONES_LINKS", "generic://")
    keys = links.load_keys(tmp_path)
    assert len(keys.current) >= links.MIN_SECRET_CHARS and (tmp_path / "secrets" / "link_secret").is_file()


def test_a_token_too_short_to_hold_a_mac_and_two_separators_is_not_a_link():
    # version (1) + issued (4) + two 0x1f separators (2) + MAC (16) = 23 bytes at the least.
    short = base64.urlsafe_b64encode(b"\x02" + b"\x00" * 21).rstrip(b"=").decode()    # 22 bytes
    enough = base64.urlsafe_b64encode(b"\x02" + b"\x00" * 22).rstrip(b"=").decode()   # 23 bytes
    with pytest.raises(links.LinkError, match="^not a link token$"):
        links.verify(KEYS, short, now=NOW)
    with pytest.raises(links.LinkError, match="^the link's signature does not match$"):
        links.verify(KEYS, enough, now=NOW)


def test_a_token_signed_without_a_language_carries_an_empty_one():
    _version, _issued, plain, _mac = reveal(links.sign(KEYS, "C1", "a@example.com", issued=NOW))
    assert plain == b"C1\x1fa@example.com\x1f"


def test_the_links_connection_from_airflow_when_airflow_is_reachable(tmp_path, monkeypatch):
    import sys
    import types

    from milestones.core import airflow_conn

    # Airflow's own BaseHook is not what is tested here (importing it costs seconds): a stand-in
    # answers get_connection as Airflow documents it (a Connection with password and extra_dejson).
    sdk = types.ModuleType("airflow.sdk")
    sdk.BaseHook = type("BaseHook", (), {})
    monkeypatch.setitem(sys.modules, "airflow.sdk", sdk)

    for var in ("MILESTONES_LINK_SECRET", "MILESTONES_LINK_SECRETS_OLD", "AIRFLOW_CONN_MILESTONES_LINKS"):
        monkeypatch.delenv(var, raising=False)
    asked = []

    class Conn:
        password = A
        extra_dejson = {"previous": [B]}

    sdk.BaseHook.get_connection = classmethod(lambda cls, conn_id: asked.append(conn_id) or Conn)
    monkeypatch.setattr(airflow_conn, "reachable", lambda: True)
    keys = links.load_keys(tmp_path / "a")
    assert asked == ["milestones_links"] and keys.current == A.encode() and keys.previous == (B.encode(),)
    Conn.extra_dejson = None  # a connection without extra: no previous secrets
    assert links.load_keys(tmp_path / "b").previous == ()
    Conn.password = None  # nor a password: the data directory's own secret
    keys = links.load_keys(tmp_path / "c")
    assert keys.current not in (A.encode(), B.encode()) and (tmp_path / "c" / "secrets" / "link_secret").is_file()
    # Airflow not reachable (the command line without it): never asked.
    monkeypatch.setattr(airflow_conn, "reachable", lambda: False)
    asked.clear()
    links.load_keys(tmp_path / "d")
    assert asked == []
