"""Our SendGrid transport (libcurl; the official client supplies the URL and headers) against a faulty server on 127.0.0.1.

The server counts what it received and accepted per email key: no duplicate
(accepted at most once) and no loss (every email either accepted or recorded
failed/unknown/pending in the ledger with its reason).
"""

from __future__ import annotations

import gc
import logging
import threading
import time

import pytest

from milestones.deliver.delivery import deliver
from milestones.deliver.ledger import Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport
from tests.servers.fault_server import FaultServer
from tests.servers.tls import self_signed

API_KEY = "SG.test-key-never-logged.abcdefghijklmnop"


def message(key: str, **extra) -> dict:
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"{key}@example.com", "subject": "Happy birthday!", "html": "<p>Hi</p>",
            "text": "Hi", "unsubscribe_url": f"https://milestones.example/u?k={key}",
            "template_version": "v1", "send_at": 0, **extra}


def transport(url: str, **kw) -> SendGridTransport:
    defaults = {"from_email": "hello@milestones.example", "from_name": "Milestones",
                "timeout": 0.5, "backoff": 0.01, "max_attempts": 4}
    return SendGridTransport(API_KEY, url, **{**defaults, **kw})


PLAN = {
    "ok": [],
    "ratelimited": ["429", "429", "202"],
    "flaky": ["500", "503", "202"],
    "dropped": ["drop"],
    "slow": ["slow"],
    "bad": ["400"],
    "unauthorized": ["401"],
    "too-big": ["413"],
    "down": ["503", "503", "503", "503"],  # one answer per attempt (max_attempts=4)
}
EXPECTED = {"ok": "accepted", "ratelimited": "accepted", "flaky": "accepted", "dropped": "unknown",
            "slow": "unknown", "bad": "failed", "unauthorized": "failed", "too-big": "failed",
            "down": "pending"}


def test_faults_no_duplicate_no_loss(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with FaultServer(PLAN, slow_seconds=1.5) as server:
        counts = deliver([message(k) for k in PLAN], transport(server.url), ledger, concurrency=4)
        states = ledger.states()
        assert states == EXPECTED
        assert counts == {"sent": 3, "unknown": 2, "failed": 3, "retry_later": 1}
        assert all(n == 1 for n in server.accepted.values())
        assert server.received["ratelimited"] == 3 and server.received["flaky"] == 3
        # Ambiguous outcomes were sent exactly once and never blindly resent.
        assert server.received["dropped"] == 1 and server.received["slow"] == 1
        assert server.received["bad"] == 1  # 4xx: never retried
        assert ledger.get("ratelimited")["message_id"] == "msg-ratelimited"
        assert "HTTP 400" in ledger.get("bad")["last_error"]

        # A re-run sends only what is still owed (pending), nothing already decided.
        before = dict(server.received)
        again = deliver([message(k) for k in PLAN], transport(server.url), ledger, concurrency=4)
        # Counted by what the ledger holds: "already sent" only for what was accepted.
        assert again == {"already_sent": 3, "already_failed": 3, "in_doubt": 2, "sent": 1}
        assert {k: n - before.get(k, 0) for k, n in server.received.items() if n != before.get(k, 0)} == {"down": 1}
        assert ledger.states()["down"] == "accepted"
    # The key went out in the Authorization header, and nowhere else.
    assert server.auth_headers == {f"Bearer {API_KEY}"}
    assert API_KEY not in caplog.text
    assert all(API_KEY not in (ledger.get(k)["last_error"] or "") for k in PLAN)


def test_connection_refused_is_retried_then_left_pending(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with FaultServer() as server:
        url = server.url
    # The server is gone: nothing listens on that port any more.
    counts = deliver([message("a")], transport(url), ledger)
    assert counts == {"retry_later": 1}
    assert ledger.get("a")["state"] == "pending" and "not sent" in ledger.get("a")["last_error"]


@pytest.mark.parametrize("status", ["400", "413"])
def test_a_bad_email_fails_alone(tmp_path, status):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with FaultServer({"bad": [status]}) as server:
        counts = deliver([message("bad"), message("good1"), message("good2")], transport(server.url), ledger)
    assert counts == {"failed": 1, "sent": 2}


def test_connections_are_kept_alive_across_batches(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    with FaultServer() as server:
        counts = deliver([message(f"k{i}") for i in range(60)], transport(server.url), ledger,
                         concurrency=3, batch_size=20)
    assert counts == {"sent": 60}
    assert server.accepted == {f"k{i}": 1 for i in range(60)}
    assert len(server.connections) <= 3  # 60 emails, at most one connection per sender


def test_connections_the_server_closes_are_replaced_not_left_unknown():
    """Connection: close, a chunked answer, and a kept-alive connection the server closed
    while idle: each email accepted once, none recorded unknown. (libcurl looks for closed
    connections in its pool at most once a second: see the next test for a reuse sooner.)"""
    with FaultServer({"closing": ["close"], "chunky": ["chunked"]}, idle_timeout=0.2) as server:
        sendgrid = transport(server.url)
        first = sendgrid.send_many([message("closing"), message("chunky")], concurrency=1)
        time.sleep(1.3)  # the server drops the idle connection meanwhile
        second = sendgrid.send_many([message("after-idle")], concurrency=1)
        sendgrid.close()
    assert [(o.state, o.message_id) for o in first + second] == [
        ("accepted", "msg-closing"), ("accepted", "msg-chunky"), ("accepted", "msg-after-idle")]
    assert server.received == server.accepted == {"closing": 1, "chunky": 1, "after-idle": 1}
    assert len(server.connections) == 3


def test_the_loop_thread_and_connections_end_with_the_transport():
    def new_loops():  # loop threads of earlier tests' transports may end meanwhile (gc.collect)
        return {t for t in threading.enumerate() if t.name == "sendgrid-loop"} - before

    before = {t for t in threading.enumerate() if t.name == "sendgrid-loop"}
    with FaultServer() as server:
        closed = transport(server.url)
        assert closed.send_many([message("a"), message("b")], concurrency=2)[0].state == "accepted"
        dropped = transport(server.url)
        assert dropped.send(message("c")).state == "accepted"
        assert len(new_loops()) == 2
        closed.close()
        del dropped
        gc.collect()
        deadline = time.monotonic() + 5
        while new_loops() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert not new_loops()


def test_https_checks_the_certificate_and_keeps_connections_alive(tmp_path, monkeypatch):
    import ssl

    cert, key = self_signed(tmp_path)
    server = FaultServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    url = server.url.replace("http://", "https://")
    with server:
        untrusted = transport(url, max_attempts=2).send(message("untrusted"))
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the system store, as the client reads it
        trusted = transport(url).send_many([message(f"t{i}") for i in range(6)], concurrency=2)
    # A certificate that does not verify: the request never left, so it is owed, not unknown.
    assert untrusted.state == "pending"
    assert "not sent: curl 60: SSL certificate" in untrusted.error and "self-signed" in untrusted.error
    assert [o.state for o in trusted] == ["accepted"] * 6
    assert server.accepted == {f"t{i}": 1 for i in range(6)} and len(server.connections) == 2


def _tls_server(tmp_path):
    import ssl

    cert, key = self_signed(tmp_path)
    server = FaultServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
    return server, server.url.replace("http://", "https://"), cert


def test_sends_through_an_https_proxy_with_a_private_ca(tmp_path, monkeypatch):
    """HTTPS_PROXY is honoured (CONNECT tunnel), the CA bundle setting verifies the API's
    certificate end to end through the tunnel; NO_PROXY bypasses the proxy; a proxy that
    refuses leaves the email owed (never left), not unknown."""
    from tests.servers.connect_proxy import ConnectProxy

    for name in ("NO_PROXY", "no_proxy", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"):
        monkeypatch.delenv(name, raising=False)
    server, url, cert = _tls_server(tmp_path)
    with server, ConnectProxy() as proxy, ConnectProxy(refuse=True) as refusing:
        monkeypatch.setenv("HTTPS_PROXY", proxy.url)
        via_proxy = transport(url, ca_bundle=str(cert)).send_many([message(f"p{i}") for i in range(4)], 2)
        tunnels = len(proxy.tunnels)
        untrusted = transport(url, max_attempts=1).send(message("no-ca"))  # the system store lacks our CA
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        direct = transport(url, ca_bundle=str(cert)).send(message("direct"))
        monkeypatch.delenv("NO_PROXY")
        monkeypatch.setenv("HTTPS_PROXY", refusing.url)
        refused = transport(url, ca_bundle=str(cert), max_attempts=2).send(message("refused"))
    host = url.removeprefix("https://")
    assert [o.state for o in via_proxy] == ["accepted"] * 4
    assert tunnels == 2 and set(proxy.tunnels) == {host}  # one kept-alive tunnel per sender
    assert untrusted.state == "pending" and "not sent: curl 60: SSL certificate" in untrusted.error
    assert direct.state == "accepted" and len(proxy.tunnels) == tunnels + 1  # only no-ca's: NO_PROXY went direct
    assert refused.state == "pending" and "403" in refused.error and refusing.tunnels == [host, host]
    assert server.accepted == {**{f"p{i}": 1 for i in range(4)}, "direct": 1}
