"""Signed links: round trip, tampering, forging, rotation, expiry, secret sources."""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import stat

import pytest

from milestones.core import links
from milestones.core.config import load_settings

A = "a" * 40
B = "b" * 40
NOW = dt.datetime(2026, 11, 22, 9, tzinfo=dt.UTC)


def keys(current=A, *previous):
    return links.LinkKeys(current.encode(), tuple(p.encode() for p in previous))


def test_round_trip_binds_customer_address_language_and_time():
    token = links.sign(keys(), "C000042", " Ada@Example.COM ", "fi", issued=NOW)
    link = links.verify(keys(), token, now=NOW + dt.timedelta(days=90))
    assert link == links.Link("C000042", "ada@example.com", "fi", NOW)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_every_flipped_byte_is_refused():
    token = links.sign(keys(), "C1", "x@example.com", "en", issued=NOW)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for i in range(len(raw)):
        bad = bytearray(raw)
        bad[i] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(bad)).rstrip(b"=").decode()
        with pytest.raises(links.LinkError):
            links.verify(keys(), forged, now=NOW)


def test_forged_under_another_secret_and_swapped_customer_are_refused():
    forged = links.sign(keys(B), "C1", "x@example.com", "en", issued=NOW)
    with pytest.raises(links.LinkError, match="signature"):
        links.verify(keys(A), forged, now=NOW)
    # Another customer's fields spliced in front of a valid token's MAC: refused.
    raw = {c: base64.urlsafe_b64decode(links.sign(keys(), c, "x@example.com", "en", issued=NOW) + "==")
           for c in ("C1", "C2")}
    spliced = raw["C2"][:-links.MAC_BYTES] + raw["C1"][-links.MAC_BYTES:]
    with pytest.raises(links.LinkError):
        links.verify(keys(), base64.urlsafe_b64encode(spliced).rstrip(b"=").decode(), now=NOW)


def test_token_hides_customer_address_and_language():
    # Links land in access logs and browser histories: nothing personal may be readable in them.
    token = links.sign(keys(), "C000042", "ada.lovelace@example.com", "fi", issued=NOW)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    for secret_field in (b"C000042", b"ada.lovelace", b"example.com", b"fi\x1f", b"\x1ffi"):
        assert secret_field not in raw
    assert "ada" not in token.lower() and "C000042" not in token
    # The same fields under another secret give unrelated bytes (no shared keystream).
    other = base64.urlsafe_b64decode(links.sign(keys(B), "C000042", "ada.lovelace@example.com", "fi",
                                                issued=NOW) + "==")
    assert sum(a == b for a, b in zip(raw[5:], other[5:], strict=True)) < len(raw[5:]) // 4


@pytest.mark.parametrize("junk", ["", "x", "%%%", "a" * 2000, "AAAA", "../../etc/passwd", "é" * 10])
def test_junk_is_a_link_error_not_a_crash(junk):
    with pytest.raises(links.LinkError):
        links.verify(keys(), junk, now=NOW)


def test_rotation_old_secret_verifies_only():
    old_token = links.sign(keys(A), "C1", "x@example.com", "en", issued=NOW)
    rotated = keys(B, A)
    assert links.verify(rotated, old_token, now=NOW).customer_id == "C1"
    new_token = links.sign(rotated, "C1", "x@example.com", "en", issued=NOW)
    with pytest.raises(links.LinkError):
        links.verify(keys(A), new_token, now=NOW)  # signed with the new secret, not the old
    with pytest.raises(links.LinkError):
        links.verify(keys(B), old_token, now=NOW)  # the old secret dropped: its links stop working


def test_lifetime_at_least_90_days_then_expiry():
    token = links.sign(keys(), "C1", "x@example.com", "en", issued=NOW)
    assert links.LIFETIME >= dt.timedelta(days=90)
    links.verify(keys(), token, now=NOW + links.LIFETIME)
    with pytest.raises(links.LinkError, match="expired"):
        links.verify(keys(), token, now=NOW + links.LIFETIME + dt.timedelta(seconds=1))


def test_secret_sources(monkeypatch, tmp_path):
    for var in ("MILESTONES_LINK_SECRET", "MILESTONES_LINK_SECRETS_OLD", "AIRFLOW_CONN_MILESTONES_LINKS"):
        monkeypatch.delenv(var, raising=False)
    local = links.load_keys(tmp_path)
    path = tmp_path / "secrets" / "link_secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert links.load_keys(tmp_path) == local and len(local.current) >= links.MIN_SECRET_CHARS

    monkeypatch.setenv("AIRFLOW_CONN_MILESTONES_LINKS",
                       json.dumps({"conn_type": "generic", "password": B, "extra": {"previous": [A]}}))
    assert links.load_keys(tmp_path) == keys(B, A)

    monkeypatch.setenv("MILESTONES_LINK_SECRET", A)
    monkeypatch.setenv("MILESTONES_LINK_SECRETS_OLD", f" {B} ,")
    assert links.load_keys(tmp_path) == keys(A, B)

    monkeypatch.setenv("MILESTONES_LINK_SECRET", "short")
    with pytest.raises(ValueError, match="MILESTONES_LINK_SECRET.*32"):
        links.load_keys(tmp_path)


def test_link_bases_derive_from_public_url(monkeypatch):
    for var in ("MILESTONES_PUBLIC_URL", "MILESTONES_UNSUBSCRIBE_URL", "MILESTONES_ASSETS_URL", "MILESTONES_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    s = load_settings()
    assert s.unsubscribe_base == "https://milestones.example/u" and s.assets_base is None
    monkeypatch.setenv("MILESTONES_PUBLIC_URL", "https://news.acme.fi/")
    s = load_settings()
    assert (s.unsubscribe_base, s.preferences_base, s.assets_base) == (
        "https://news.acme.fi/u", "https://news.acme.fi/preferences", "https://news.acme.fi/assets")
    monkeypatch.setenv("MILESTONES_ASSETS_URL", "https://cdn.acme.fi/img")
    assert load_settings().assets_base == "https://cdn.acme.fi/img"
