"""Keeping secrets and personal data out of logs and stored error texts.

:func:`mask_secrets` is applied to every error text the project stores (the ledger's
``last_error``) or prints (log records, through :func:`install`): a server or proxy that
echoes the request's ``Authorization`` header in an error body must not put the SendGrid
key into a log or the ledger. Masked are

* ``Bearer <anything>`` and ``Basic <anything>`` (an Authorization header's credentials);
* anything shaped like a SendGrid API key (``SG.<id>.<secret>``);
* every secret registered with :func:`register_secret` (the configured key itself, whatever
  its shape), and its first 12 characters when an error text was cut inside it.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback

MASK = "***"
#: ``Authorization: Bearer <token>`` (or Basic) as an echoed header, a JSON value or prose.
_AUTH = re.compile(r"(?i)\b(bearer|basic)(\s+|%20|\\u0020|\+)([A-Za-z0-9._~+/=%-]{4,})")
#: A SendGrid API key: ``SG.`` + a 22-character id + ``.`` + a 43-character secret (any lengths here).
_SENDGRID = re.compile(r"SG\.[A-Za-z0-9_-]{6,}(?:\.[A-Za-z0-9_-]*)?")
_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Mask ``value`` wherever it appears in a text passed to :func:`mask_secrets` (8+ characters)."""
    if value and len(value) >= 8:
        with _lock:
            _registered.add(value)


def mask_secrets(text: str | None, *secrets: str) -> str | None:
    """``text`` with credentials replaced by ``***`` (see the module's docstring)."""
    if not text:
        return text
    for secret in (*secrets, *sorted(_registered, key=len, reverse=True)):
        if secret and len(secret) >= 8:
            text = text.replace(secret, MASK)
            if len(secret) > 12:
                text = text.replace(secret[:12], MASK)  # a key cut short by a truncated error body
    text = _AUTH.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    return _SENDGRID.sub("SG." + MASK, text)


def mask_email(address: str) -> str:
    """``customer1@example.com`` -> ``c***@example.com``: enough to debug, not to contact."""
    local, sep, domain = (address or "").partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def safe_error(exc: BaseException, limit: int = 300) -> str:
    """``Type: message`` of an exception for a log line or a stored error: secrets masked, SQL
    parameter lists (``[parameters: ...]``, personal data) and DETAIL lines (a key's values) cut."""
    text = str(exc).split("\n[SQL:", 1)[0].split("\n[parameters:", 1)[0].split("\nDETAIL:", 1)[0]
    text = re.sub(r"\[parameters: .*", "[parameters hidden]", text, flags=re.S)
    return mask_secrets(f"{type(exc).__name__}: {text}")[:limit]


class _MaskedRecord(logging.LogRecord):
    """A log record whose message and traceback text are masked once formatted."""

    def getMessage(self) -> str:  # noqa: N802 - logging's name
        if self.exc_info and not self.exc_text:
            self.exc_text = mask_secrets("".join(traceback.format_exception(*self.exc_info)).rstrip("\n"))
        return mask_secrets(super().getMessage())


def install() -> None:
    """Mask every log record of this process (messages, arguments and tracebacks)."""
    if logging.getLogRecordFactory() is not _MaskedRecord:
        logging.setLogRecordFactory(_MaskedRecord)


def silence_http_client_debug() -> None:
    """python_http_client logs request headers (the API key) at DEBUG: never let it."""
    for name in ("python_http_client", "python_http_client.client"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
