"""Keeping secrets and personal data out of logs."""

from __future__ import annotations

import logging


def mask_email(address: str) -> str:
    """``customer1@example.com`` -> ``c***@example.com``: enough to debug, not to contact."""
    local, sep, domain = (address or "").partition("@")
    if not sep:
        return "***"
    return f"{local[:1]}***@{domain}"


def silence_http_client_debug() -> None:
    """python_http_client logs request headers (the API key) at DEBUG: never let it."""
    for name in ("python_http_client", "python_http_client.client"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.INFO)
        logger.propagate = False
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
