"""Sign SendGrid event webhook POSTs as SendGrid does (ECDSA P-256 over timestamp + body), for the benchmarks."""

from __future__ import annotations

import base64
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def new_key() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A fresh signing key and its public key as the server's setting (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    return private, public


def signed_headers(private: ec.EllipticCurvePrivateKey, body: bytes) -> dict[str, str]:
    """The headers of one webhook POST of ``body``, signed now."""
    stamp = str(int(time.time()))
    signature = base64.b64encode(private.sign(stamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    return {"Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Signature": signature,
            "X-Twilio-Email-Event-Webhook-Timestamp": stamp}
