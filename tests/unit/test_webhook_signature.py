"""The webhook's signature check: a real ECDSA P-256 key, the replay window on both sides."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from milestones.core.config import Settings
from milestones.measure.feedback import BadSignature, verify_signature

NOW = 1_800_000_000.0
BODY = b'[{"event": "delivered", "key": "k1"}]'


@pytest.fixture(scope="module")
def keys():
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, base64.b64encode(public).decode()


def sign(private, timestamp: str, body: bytes = BODY) -> str:
    return base64.b64encode(private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()


def test_default_replay_window_is_five_minutes():
    assert Settings().webhook_replay_seconds == 300.0


@pytest.mark.parametrize("offset, accepted", [
    (0, True),
    (-300, True), (-301, False),   # sent up to 300 s ago
    (300, True), (301, False),     # a clock up to 300 s ahead, not a request from the future
    (-86_400, False), (86_400, False),
])
def test_replay_window_both_ways(keys, offset, accepted):
    private, public = keys
    timestamp = str(int(NOW + offset))
    check = lambda: verify_signature(public, sign(private, timestamp), timestamp, BODY,  # noqa: E731
                                     now=NOW, replay_window=300.0)
    if accepted:
        check()
    else:
        with pytest.raises(BadSignature, match="replay window"):
            check()


def test_window_setting_is_honoured(keys):
    private, public = keys
    timestamp = str(int(NOW - 100))
    verify_signature(public, sign(private, timestamp), timestamp, BODY, now=NOW, replay_window=100)
    with pytest.raises(BadSignature, match="replay window"):
        verify_signature(public, sign(private, timestamp), timestamp, BODY, now=NOW, replay_window=99)


@pytest.mark.parametrize("tamper", ["body", "timestamp", "key", "signature", "missing"])
def test_anything_but_the_signed_request_is_refused(keys, tamper):
    private, public = keys
    timestamp = str(int(NOW))
    signature, body = sign(private, timestamp), BODY
    if tamper == "body":
        body = BODY.replace(b"k1", b"k2")
    elif tamper == "timestamp":
        timestamp = str(int(NOW) + 1)  # inside the window, but not what was signed
    elif tamper == "key":
        other = ec.generate_private_key(ec.SECP256R1()).public_key()
        public = base64.b64encode(other.public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    elif tamper == "signature":
        signature = base64.b64encode(b"\x30\x06\x02\x01\x01\x02\x01\x01").decode()
    else:
        signature = ""
    with pytest.raises(BadSignature):
        verify_signature(public, signature, timestamp, body, now=NOW)
    # The untouched request passes: the refusal above is the tampering's doing.
    verify_signature(keys[1], sign(private, str(int(NOW))), str(int(NOW)), BODY, now=NOW)


def test_timestamp_must_be_a_number(keys):
    private, public = keys
    with pytest.raises(BadSignature, match="not a number"):
        verify_signature(public, sign(private, "soon"), "soon", BODY, now=NOW)


def test_defaults_and_messages(keys):
    private, public = keys
    now = __import__("time").time()
    fresh = str(int(now))
    verify_signature(public, sign(private, fresh), fresh, BODY)  # the clock of now, the 300 s default
    old = str(int(NOW - 301))
    with pytest.raises(BadSignature) as refused:
        verify_signature(public, sign(private, old), old, BODY, now=NOW)
    assert str(refused.value) == "timestamp outside the 300 s replay window"
    edge = str(int(NOW - 300))
    verify_signature(public, sign(private, edge), edge, BODY, now=NOW)
    for signature, timestamp in (("", fresh), (sign(private, fresh), ""), ("", "")):
        with pytest.raises(BadSignature) as missing:
            verify_signature(public, signature, timestamp, BODY, now=NOW)
        assert str(missing.value) == "missing signature or timestamp header"
    with pytest.raises(BadSignature) as nan:
        verify_signature(public, sign(private, "soon"), "soon", BODY, now=NOW)
    assert str(nan.value) == "timestamp is not a number"
    with pytest.raises(BadSignature) as forged:
        verify_signature(public, sign(private, fresh), fresh, BODY + b" ", now=float(fresh))
    assert str(forged.value) == "signature does not verify (InvalidSignature)"
