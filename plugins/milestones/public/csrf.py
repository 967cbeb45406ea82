"""CSRF protection for the preference forms, without cookies or sessions.

Each form carries ``<issued>.<mac>``: HMAC-SHA256 under the link secret over the
page's link token and the time the form was shown, valid for :data:`LIFETIME`.
A forged form cannot carry it (it needs the secret and the token), and a
request whose ``Origin`` or ``Sec-Fetch-Site`` says it came from another site is
refused as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from urllib.parse import urlsplit

from milestones.core.links import LinkKeys

LIFETIME = 24 * 3600


def _mac(secret: bytes, token: str, issued: int) -> str:
    digest = hmac.new(secret, f"csrf\x1f{token}\x1f{issued}".encode(), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue(keys: LinkKeys, token: str, now: float | None = None) -> str:
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_mac(keys.current, token, issued)}"


def valid(keys: LinkKeys, token: str, value: str, now: float | None = None) -> bool:
    issued_text, _, mac = (value or "").partition(".")
    if not issued_text.isascii() or not issued_text.isdigit() or len(issued_text) > 12:
        return False
    issued = int(issued_text)
    if issued_text != str(issued):  # one spelling: no leading zeros (nor other digits than ASCII)
        return False
    age = (now if now is not None else time.time()) - issued
    if not 0 <= age <= LIFETIME:
        return False
    return any(hmac.compare_digest(_mac(secret, token, issued), mac) for secret in keys.all)


def _origin(url: str) -> tuple[str, str]:
    """``(scheme, host[:port])`` of a URL, lower case, the scheme's default port dropped."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    try:
        port = parts.port
    except ValueError:
        return scheme, "\x00"  # a port that is not a number matches nothing
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(scheme)
    return scheme, host if port in (None, default) else f"{host}:{port}"


def same_site(headers, public_url: str = "") -> bool:
    """False when the browser says the request came from another site.

    With ``public_url`` set, the ``Origin`` must be its scheme and host (``http://`` for an
    ``https://`` site is another origin); without it, the request's own ``Host``."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return False
    origin = headers.get("origin")
    if not origin or origin == "null":
        return origin != "null"
    if public_url:
        return _origin(origin) == _origin(public_url)
    return urlsplit(origin).netloc.lower() == headers.get("host", "").lower()
