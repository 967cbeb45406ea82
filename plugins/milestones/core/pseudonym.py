"""Keyed hashes of identifiers (customer ids, email addresses, client IP addresses).

What is kept instead of a value that must not be kept: the erased customers' ids and
addresses (so that a later extract still naming them is never written to), the client
address of a preference page change (consent proof). HMAC-SHA256 with a secret key,
so nobody without the key can test a guessed address against a stored hash.

The key comes from ``MILESTONES_PRIVACY_KEY``, else ``<data_dir>/secrets/privacy_key``
(created once, mode 0600), as the link secret does. Every worker must see the same key:
with several machines, set the variable (or share data_dir/secrets).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from milestones.core import secretfile

ENV = "MILESTONES_PRIVACY_KEY"
MIN_KEY_CHARS = 32
#: Kinds of value hashed; the kind is part of the hashed text (an id never equals an address).
KINDS = ("customer_id", "email", "client")


def load_key(data_dir: Path | str) -> bytes:
    """The privacy key: the environment's, else the data directory's own (created on first use)."""
    value = os.environ.get(ENV, "").strip()
    if value:
        if len(value) < MIN_KEY_CHARS:
            raise ValueError(f"{ENV}: a privacy key needs at least {MIN_KEY_CHARS} characters")
        return value.encode()
    return secretfile.read_or_create(data_dir, "privacy_key").encode()


def normalise(kind: str, value: object) -> str:
    text = str(value).strip()
    return text.lower() if kind in ("email", "client") else text


def keyed_hash(key: bytes, kind: str, value: object) -> str:
    """``kind:hex`` (32 hex digits) of ``value``; equal for equal values (addresses in any case)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}")
    digest = hmac.new(key, f"{kind}\x1f{normalise(kind, value)}".encode(), hashlib.sha256).hexdigest()
    return f"{kind}:{digest[:32]}"


def pseudonym(key: bytes, customer_id: object) -> str:
    """What stands for an erased customer id where a row must stay (ledger, statistics)."""
    return "erased-" + keyed_hash(key, "customer_id", customer_id).split(":", 1)[1][:20]
