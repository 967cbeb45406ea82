"""The preference store's guarantees on SQLite and on a real PostgreSQL server: history append-only,
concurrent writers for one customer lose nothing, the webhook's unsubscribes in the same transaction."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from milestones.decide.preferences import Change, Preferences
from milestones.measure.feedback import Feedback
from tests.pg import clean_database_url, postgres_server

TABLES = "preferences, preference_history, emails, webhook_events, webhook_rejected_events, suppressions"


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return clean_database_url(request, tmp_path, TABLES)


def test_history_is_append_only(db_url):
    store = Preferences(db_url)
    store.apply("C1", Change(unsubscribed=True), "one_click")
    for statement in ("UPDATE preference_history SET new = 'false'", "DELETE FROM preference_history"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), store.engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert [h["new"] for h in store.history("C1")] == ["true"]


def test_concurrent_writers_for_one_new_customer(db_url):
    Preferences(db_url)
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def worker(n: int) -> None:
        try:
            mine = Preferences(db_url)
            barrier.wait()
            mine.apply("C1", Change(unsubscribed=True), "one_click")
            mine.apply("C1", Change(opted_out=frozenset({["birthday", "graduation"][n % 2]})), "page")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    history = Preferences(db_url).history("C1")
    assert [h["field"] for h in history].count("unsubscribed") == 1
    changes = [h for h in history if h["field"] == "opted_out"]
    assert changes[0]["old"] == "" and all(a["new"] == b["old"] for a, b in zip(changes, changes[1:], strict=False))


def test_webhook_unsubscribe_lands_in_the_store_with_its_event(db_url):
    feedback = Feedback(db_url, asm_group_id=42)
    counts = feedback.ingest([
        {"event": "group_unsubscribe", "asm_group_id": 42, "email": "A@x.fi", "customer_id": "C1",
         "sg_event_id": "g1", "timestamp": 1790000000},
        {"event": "group_unsubscribe", "asm_group_id": 7, "email": "b@x.fi", "customer_id": "C2",
         "sg_event_id": "g2", "timestamp": 1790000000},  # another group's list: not ours
        {"event": "open", "timestamp": float("nan")},
    ])
    assert counts == {"stored": 2, "rejected": 1, "suppressed": 2, "unsubscribed": 1}
    store = Preferences(db_url)
    assert store.get("C1").unsubscribed and store.history("C1")[0]["source"] == "webhook"
    assert not store.get("C2").exists
    assert store.policy_view(dt.date(2026, 11, 22)).unsubscribed == frozenset({"C1"})


def test_the_public_apps_writer_process_on_each_database(db_url, tmp_path, monkeypatch):
    """``milestones serve`` as deployed: its writer process applies concurrent one-click POSTs for one
    customer and a webhook delivery unsubscribing her, once each, on SQLite and on PostgreSQL."""
    import base64
    import http.client
    import json
    import time
    from concurrent.futures import ThreadPoolExecutor
    from urllib.parse import urlsplit

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    from milestones.core import links
    from milestones.core.config import load_settings
    from tests.servers.public_app import public_server

    private = ec.generate_private_key(ec.SECP256R1())
    public = base64.b64encode(private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
    monkeypatch.setenv("MILESTONES_LINK_SECRET", "s" * 40)
    settings = load_settings(data_dir=tmp_path / "data", ledger_url=db_url, webhook_public_key=public)
    assert settings.writer_process
    token = links.sign(links.load_keys(settings.data_dir), "C1", "a@x.fi", "fi")
    events = json.dumps([{"event": "unsubscribe", "email": "a@x.fi", "customer_id": "C1", "sg_event_id": "u1",
                          "timestamp": 1790000000}]).encode()

    with public_server(settings) as base:
        parts = urlsplit(base)

        def post(n: int) -> int:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            if n == 5:
                stamp = str(int(time.time()))
                signature = private.sign(stamp.encode() + events, ec.ECDSA(hashes.SHA256()))
                conn.request("POST", "/webhook/sendgrid", events, {
                    "Content-Type": "application/json", "X-Twilio-Email-Event-Webhook-Timestamp": stamp,
                    "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode()})
            else:
                conn.request("POST", f"/u/{token}", b"List-Unsubscribe=One-Click",
                             {"Content-Type": "application/x-www-form-urlencoded"})
            status = conn.getresponse().status
            conn.close()
            return status

        with ThreadPoolExecutor(12) as pool:
            assert list(pool.map(post, range(12))) == [200] * 12
    history = Preferences(db_url).history("C1")
    assert [(h["field"], h["new"]) for h in history] == [("unsubscribed", "true")]
    assert [e["dedupe_key"] for e in Feedback(db_url).events_for()] == ["sg:u1"]
