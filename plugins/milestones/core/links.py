"""Signed customer links: the token in every unsubscribe and preference URL.

A token binds a customer id, the address the email went to, the email's
language and the time it was issued, signed with HMAC-SHA256 under the link
secret.  It cannot be forged or enumerated (128 bits of MAC), and nothing in
it is secret-free to change: a tampered byte fails verification.

The customer id, address and language are also *hidden*: links end up in proxy and
access logs, browser histories and forwarded emails, and an address is personal data.
They are enciphered in the synthetic-IV way (the MAC of the plain fields is the IV of
an HMAC-SHA256 keystream), so a token reads as random bytes and equal fields under one
secret and second still give one token.  Layout (then base64url without padding)::

    version (1 byte) | issued (uint32, seconds since the epoch) |
    ENC(customer_id UTF-8 | 0x1f | email UTF-8 | 0x1f | language) | MAC (16 bytes)

with ``MAC = HMAC-SHA256(secret, b"milestones-link" | version | issued | plain fields)[:16]``
and ``ENC(x) = x XOR HMAC-SHA256(secret, b"milestones-link-stream" | MAC | counter)...``.

Secrets: ``MILESTONES_LINK_SECRET`` (signs and verifies), ``MILESTONES_LINK_SECRETS_OLD``
(comma-separated, verify only: keep them listed for :data:`LIFETIME` after a
rotation), or the Airflow connection ``milestones_links`` (password = current
secret, extra ``{"previous": [...]}``).  With none configured a random secret is
created once in ``<data_dir>/secrets/link_secret`` (mode 0600) so local runs and
``milestones serve`` on the same data directory agree.
"""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import json
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from milestones.core import secretfile

VERSION = 2
MAC_BYTES = 16
#: How long a link keeps working after the email was rendered.
LIFETIME = dt.timedelta(days=400)
#: How far ahead of this server's clock a link may say it was issued (another host's clock).
CLOCK_SKEW = dt.timedelta(minutes=10)
#: How long an email's "view in your browser" link works.
VIEW_LIFETIME = dt.timedelta(days=90)
#: What a token is for: each purpose is signed under its own domain, so a token made for one
#: never verifies as another (a view link is no unsubscribe link, and the reverse).
PURPOSES = {"customer": b"milestones-link", "view": b"milestones-view"}
#: Shortest secret accepted (characters).
MIN_SECRET_CHARS = 32
_DOMAIN = b"milestones-link"
_STREAM = b"milestones-link-stream"
_SEP = b"\x1f"
_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")
CONN_ID = "milestones_links"


class LinkError(ValueError):
    """A token that is malformed, tampered with, signed under an unknown secret or expired."""


@dataclass(frozen=True)
class Link:
    customer_id: str
    email: str
    language: str
    issued: dt.datetime


@dataclass(frozen=True)
class LinkKeys:
    """The current secret (signs) and older ones (verify only)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    @property
    def all(self) -> tuple[bytes, ...]:
        return (self.current, *self.previous)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text or len(text) > 1024 or not _TOKEN_CHARS.fullmatch(text):
        raise LinkError("not a link token")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise LinkError("not a link token") from None
    if _b64(raw) != text:  # one spelling per token: the last character's unused bits are zero
        raise LinkError("not a link token")
    return raw


def _mac(secret: bytes, head: bytes, fields: bytes, domain: bytes = _DOMAIN) -> bytes:
    return hmac.digest(secret, domain + head + fields, "sha256")[:MAC_BYTES]


def _xor_stream(secret: bytes, iv: bytes, data: bytes) -> bytes:
    """``data`` XOR a keystream of HMAC-SHA256 blocks keyed by the secret, seeded by ``iv``."""
    stream = b"".join(hmac.digest(secret, _STREAM + iv + struct.pack(">I", n), "sha256")
                      for n in range(-(-len(data) // 32)))
    # XOR as one big integer (the same bytes as a per-byte loop, without the loop).
    return (int.from_bytes(data, "big") ^ int.from_bytes(stream[:len(data)], "big")).to_bytes(len(data), "big")


def sign(keys: LinkKeys, customer_id: str, email: str, language: str = "",
         issued: dt.datetime | None = None, purpose: str = "customer") -> str:
    """A token for one customer and address (the address is compared in lower case); a
    ``view`` token holds an email's key and day in the same places (see :func:`sign_view`)."""
    when = int((issued or dt.datetime.now(dt.UTC)).timestamp())
    for value in (customer_id, email, language):
        if "\x1f" in value:
            raise ValueError("link fields cannot contain the unit separator")
    head = struct.pack(">BI", VERSION, when)
    fields = customer_id.encode() + _SEP + email.strip().lower().encode() + _SEP + language.encode()
    mac = _mac(keys.current, head, fields, PURPOSES[purpose])
    return _b64(head + _xor_stream(keys.current, mac, fields) + mac)


def _open(secret: bytes, head: bytes, hidden: bytes, mac: bytes, domain: bytes) -> bytes | None:
    fields = _xor_stream(secret, mac, hidden)
    return fields if hmac.compare_digest(_mac(secret, head, fields, domain), mac) else None


def verify(keys: LinkKeys, token: str, *, now: dt.datetime | None = None, purpose: str = "customer",
           lifetime: dt.timedelta = LIFETIME) -> Link:
    """The link a token stands for, or :class:`LinkError` (never anything else)."""
    raw = _unb64(token)
    if len(raw) < 5 + 2 + MAC_BYTES:
        raise LinkError("not a link token")
    head, hidden, mac = raw[:5], raw[5:-MAC_BYTES], raw[-MAC_BYTES:]
    domain = PURPOSES[purpose]
    fields = next((f for secret in keys.all if (f := _open(secret, head, hidden, mac, domain)) is not None), None)
    if fields is None:
        raise LinkError("the link's signature does not match")
    version, when = struct.unpack(">BI", head)
    if version != VERSION:
        raise LinkError("unknown link version")
    try:
        customer_id, email, language = (part.decode() for part in fields.split(_SEP))
    except ValueError:
        raise LinkError("not a link token") from None
    issued = dt.datetime.fromtimestamp(when, dt.UTC)
    age = (now or dt.datetime.now(dt.UTC)) - issued
    if age < -CLOCK_SKEW:  # signed "in 2100" would never expire
        raise LinkError("the link's issue time is in the future")
    if age > lifetime:
        raise LinkError("the link has expired")
    return Link(customer_id, email, language, issued)


def sign_view(keys: LinkKeys, key: str, day: dt.date | str, issued: dt.datetime | None = None) -> str:
    """The token of an email's web version: its key and the day it was rendered for, hidden and
    signed like a customer link (nothing readable in it), valid for :data:`VIEW_LIFETIME`."""
    return sign(keys, str(key), str(day), "", issued=issued, purpose="view")


def verify_view(keys: LinkKeys, token: str, *, now: dt.datetime | None = None) -> tuple[str, str]:
    """``(key, day)`` of a view token, or :class:`LinkError`."""
    link = verify(keys, token, now=now, purpose="view", lifetime=VIEW_LIFETIME)
    return link.customer_id, link.email


def url(base: str, path: str, token: str) -> str:
    return f"{base.rstrip('/')}/{path}/{quote(token, safe='')}"


# --- where the secrets come from ---------------------------------------------------------------

def _check(secret: str, where: str) -> bytes:
    if len(secret) < MIN_SECRET_CHARS:
        raise ValueError(f"{where}: a link secret needs at least {MIN_SECRET_CHARS} characters "
                         "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))')")
    return secret.encode()


def _split(raw: str) -> list[str]:
    return [s.strip() for s in raw.split(",") if s.strip()]


def _from_connection() -> tuple[str, list[str]] | None:
    raw = os.environ.get("AIRFLOW_CONN_" + CONN_ID.upper())
    if raw:
        data = json.loads(raw) if raw.strip().startswith("{") else None
        if data is None:
            from urllib.parse import unquote, urlsplit

            parts = urlsplit(raw.strip())
            return unquote(parts.password or ""), []
        extra = data.get("extra") or {}
        if isinstance(extra, str):
            extra = json.loads(extra or "{}")
        return data.get("password") or "", list(extra.get("previous") or [])
    from milestones.core import airflow_conn

    if not airflow_conn.reachable():
        return None  # the command line without Airflow: do not boot it for nothing
    try:
        from airflow.sdk import BaseHook  # only inside a running task or the API server

        conn = BaseHook.get_connection(CONN_ID)
    except Exception:
        return None
    return conn.password or "", list((conn.extra_dejson or {}).get("previous") or [])


def load_keys(data_dir: Path | str) -> LinkKeys:
    """The link secrets: env vars, else the Airflow connection, else the data directory's own."""
    current = os.environ.get("MILESTONES_LINK_SECRET", "").strip()
    previous = _split(os.environ.get("MILESTONES_LINK_SECRETS_OLD", ""))
    where = "MILESTONES_LINK_SECRET"
    if not current:
        found = _from_connection()
        if found and found[0]:
            current, previous, where = found[0], previous + found[1], f"connection {CONN_ID}"
    if not current:
        current, where = secretfile.read_or_create(data_dir, "link_secret"), "data_dir/secrets/link_secret"
    return LinkKeys(_check(current, where),
                    tuple(_check(p, "MILESTONES_LINK_SECRETS_OLD") for p in previous))
