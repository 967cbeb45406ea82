"""The public app in-process for the fast layer: a TestClient on a fresh data directory, the
database writer on a thread (no writer process to spawn), a real ECDSA key for the webhook."""

from __future__ import annotations

import base64
import json
import time
from contextlib import contextmanager

from milestones.measure.feedback import SIGNATURE_HEADER, TIMESTAMP_HEADER


class Signer:
    def __init__(self):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import ec

        self.private = ec.generate_private_key(ec.SECP256R1())
        self.public = base64.b64encode(self.private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()

    def headers(self, body: bytes, timestamp: str | None = None) -> dict[str, str]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec

        timestamp = timestamp or str(int(time.time()))
        signature = self.private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp,
                "Content-Type": "application/json"}


@contextmanager
def public_client(data_dir, monkeypatch, **env: str):
    """``(client, signer, settings)`` for the public app on ``data_dir``."""
    from fastapi.testclient import TestClient

    from milestones.core.config import load_settings
    from milestones.public import create_app

    signer = Signer()
    monkeypatch.setenv("MILESTONES_WRITER_PROCESS", "false")
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MILESTONES_WEBHOOK_PUBLIC_KEY", signer.public)
    monkeypatch.setenv("MILESTONES_LINK_SECRET", "l" * 40)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    with TestClient(create_app(settings)) as client:
        yield client, signer, settings


def body_of(events: list, huge: dict[str, str] | None = None) -> bytes:
    """The JSON body of ``events`` as SendGrid would send it; each ``huge`` placeholder string is
    replaced by its raw JSON text (numbers Python cannot write itself, e.g. 5,000 digits)."""
    text = json.dumps(events)
    for placeholder, raw in (huge or {}).items():
        text = text.replace(json.dumps(placeholder), raw)
    return text.encode()
