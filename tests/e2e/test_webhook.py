"""The SendGrid Event Webhook receiver with real ECDSA signatures (keys made here)."""

from __future__ import annotations

import base64
import json
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi.testclient import TestClient

from milestones.measure.feedback import SIGNATURE_HEADER, TIMESTAMP_HEADER, Feedback


@pytest.fixture
def signer(request, tmp_path, monkeypatch):
    """Sign bodies; the app (with its writer process unless the test's param says False); the data dir."""
    monkeypatch.setenv("MILESTONES_WRITER_PROCESS", str(getattr(request, "param", True)).lower())
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MILESTONES_WEBHOOK_PUBLIC_KEY", base64.b64encode(public).decode())
    monkeypatch.setenv("MILESTONES_WEBHOOK_MAX_BYTES", "20000")

    def sign(body: bytes, timestamp: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        signature = private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp,
                "Content-Type": "application/json"}

    from milestones.public import create_app

    with TestClient(create_app()) as client:  # its lifespan stops the writer process
        yield sign, client, tmp_path / "data"


def _events():
    return [
        {"event": "unsubscribe", "email": "Quit@Example.com", "sg_event_id": "e1", "timestamp": 1790000000,
         "key": "k1", "customer_id": "C1", "event_type": "birthday"},
        {"event": "delivered", "email": "ok@example.com", "sg_event_id": "e2", "timestamp": 1790000001,
         "key": "k2", "customer_id": "C2", "event_type": "birthday"},
        {"event": "open", "email": "ok@example.com", "timestamp": 1790000002, "key": "k2", "customer_id": "C2"},
    ]


def _stored(data) -> int:
    from milestones.core.config import load_settings

    return len(Feedback(load_settings().ledger_database_url).events_for())


@pytest.mark.parametrize("signer", [True, False], indirect=True, ids=["writer process", "writer thread"])
def test_signed_events_are_stored_once_and_acted_on(signer):
    sign, client, data = signer
    from milestones.core.config import load_settings
    from milestones.deliver.ledger import Ledger
    from milestones.public.writer_process import WriterProcess

    assert isinstance(client.app.state.public.writer, WriterProcess) == load_settings().writer_process

    ledger = Ledger(load_settings().ledger_database_url)
    ledger.register([{"key": "k2", "customer_id": "C2", "event_type": "birthday", "event_date": "2026-11-22",
                      "template_version": "v", "transport": "sendgrid"}])
    ledger.claim("k2")
    ledger.finish("k2", "unknown", error="timeout after the request was sent")

    body = json.dumps(_events()).encode()
    first = client.post("/webhook/sendgrid", content=body, headers=sign(body))
    assert first.status_code == 200
    assert first.json() == {"stored": 3, "suppressed": 1, "settled": 1, "unsubscribed": 1}
    # The same delivery again (SendGrid retries): nothing new, events without an id included.
    again = client.post("/webhook/sendgrid", content=body, headers=sign(body))
    assert again.json() == {"duplicate": 3}
    feedback = Feedback(load_settings().ledger_database_url)
    assert feedback.suppressed() == {"quit@example.com": "unsubscribe"}
    assert ledger.get("k2")["state"] == "accepted"
    k2 = ledger.get("k2")
    assert k2["delivered_at"] is not None and k2["opened_at"] is not None and k2["clicked_at"] is None


@pytest.mark.parametrize("case", ["tampered", "stale", "unsigned", "wrong key"])
def test_untrusted_requests_are_refused_and_nothing_stored(signer, case):
    sign, client, data = signer
    body = json.dumps(_events()).encode()
    headers = sign(body)
    if case == "tampered":
        body = body.replace(b"unsubscribe", b"delivered__")
    elif case == "stale":
        old = str(int(time.time()) - 3600)
        headers = sign(body, old)
    elif case == "unsigned":
        headers = {"Content-Type": "application/json"}
    else:
        other = ec.generate_private_key(ec.SECP256R1())
        ts = headers[TIMESTAMP_HEADER]
        headers[SIGNATURE_HEADER] = base64.b64encode(
            other.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))).decode()
    response = client.post("/webhook/sendgrid", content=body, headers=headers)
    assert response.status_code == 403
    assert _stored(data) == 0


def test_malformed_and_oversized(signer):
    sign, client, data = signer
    bad = b'{"event": "open",'
    assert client.post("/webhook/sendgrid", content=bad, headers=sign(bad)).status_code == 400
    not_list = b'{"event": "open"}'
    assert client.post("/webhook/sendgrid", content=not_list, headers=sign(not_list)).status_code == 400
    huge = json.dumps([{"event": "open", "email": "x@example.com", "pad": "x" * 30000}]).encode()
    assert client.post("/webhook/sendgrid", content=huge, headers=sign(huge)).status_code == 413
    assert _stored(data) == 0


def test_suppression_reaches_the_next_decision(signer):
    sign, client, data = signer
    import datetime as dt

    import pandas as pd

    from milestones.core.config import load_settings
    from milestones.decide.policy import decide
    from milestones.pipeline import policy_for

    body = json.dumps(_events()[:1]).encode()
    assert client.post("/webhook/sendgrid", content=body, headers=sign(body)).status_code == 200
    policy = policy_for(dt.date(2026, 11, 22), load_settings(), [])
    # The customer who unsubscribed (custom arg customer_id) is unsubscribed; anyone else on that
    # address is stopped too, by the inbox owner's own choice (RFC 8058: the owner asked to stop),
    # which comes before the address's suppression in the policy's order.
    people = pd.DataFrame([{"customer_id": c, "email": "quit@example.com", "marketing_opt_in": True,
                            "deceased": False} for c in ("C1", "C9")])
    events = pd.DataFrame([{"customer_id": c, "event_type": "birthday",
                            "event_date": pd.Timestamp("2026-11-22"), "key": f"x{c}"} for c in ("C1", "C9")])
    assert list(decide(events, people, policy)["reason"]) == ["unsubscribed", "unsubscribed_address"]


def test_malformed_events_are_rejected_one_by_one_and_the_batch_is_kept(signer):
    sign, client, data = signer
    import sqlalchemy as sa

    from milestones.core.config import load_settings
    from milestones.measure.feedback import rejected_events

    good = _events()
    bad = [{"event": 5, "email": "a@example.com"}, {"event": "open", "email": 7},
           {"event": "open", "key": ["k"]}, {"event": "open", "timestamp": 10**29 + 7},
           {"event": "open", "timestamp": "123456789012345678901234567890"}, "not an object"]
    body = json.dumps(good[:2] + bad + good[2:]).encode()[:-1] + b', {"event": "open", "timestamp": NaN}]'
    response = client.post("/webhook/sendgrid", content=body, headers=sign(body))
    assert response.status_code == 200
    assert response.json()["stored"] == 3 and response.json()["rejected"] == 7
    assert _stored(data) == 3
    engine = sa.create_engine(load_settings().ledger_database_url)
    with engine.connect() as conn:
        reasons = [r for (r,) in conn.execute(sa.select(rejected_events.c.reason).order_by(rejected_events.c.id))]
    assert [r.split(": ", 1)[1] for r in reasons] == [
        "event: not a string of 1-32 characters", "email: not a string of 1-320 characters",
        "key: not a string of 1-64 characters"] + [
        "timestamp: not seconds since the epoch between 2000 and 2100"] * 2 + [
        "not a JSON object", "timestamp: not seconds since the epoch between 2000 and 2100"]
    # SendGrid retries the same delivery: the good events are duplicates, nothing fails.
    again = client.post("/webhook/sendgrid", content=body, headers=sign(body))
    assert again.status_code == 200 and again.json()["duplicate"] == 3


def test_a_writer_process_that_dies_fails_what_it_held_and_the_next_request_gets_a_new_one(signer):
    import os
    import signal
    import threading

    from milestones.core import links
    from milestones.core.config import load_settings
    from milestones.decide.preferences import Preferences

    sign, client, data = signer
    writer = client.app.state.public.writer
    dead = writer._process
    os.kill(dead.pid, signal.SIGSTOP)  # it holds the next request without answering it
    body = json.dumps(_events()).encode()
    answers = []
    held = threading.Thread(target=lambda: answers.append(
        client.post("/webhook/sendgrid", content=body, headers=sign(body))))
    held.start()
    deadline = time.monotonic() + 20
    while not writer._pending and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(dead.pid, signal.SIGKILL)
    held.join(30)
    assert answers[0].status_code == 503 and _stored(data) == 0  # refused, so SendGrid retries it

    # The next requests start a new writer process: the retry is stored once, a one-click works.
    retry = client.post("/webhook/sendgrid", content=body, headers=sign(body))
    assert retry.status_code == 200 and retry.json()["stored"] == 3
    assert writer._process is not dead and writer._process.is_alive()
    token = links.sign(links.load_keys(data), "C5", "c5@example.com", "en")
    assert client.post(f"/u/{token}", content=b"List-Unsubscribe=One-Click",
                       headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 200
    assert Preferences(load_settings().ledger_database_url).get("C5").unsubscribed
