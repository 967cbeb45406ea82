"""The SendGrid transport's outcome mapping, one answer or fault at a time (README, "Faults").

Each case is one email against the fault server on 127.0.0.1 (a thread in this process),
with millisecond backoff: 2xx -> accepted with its X-Message-Id; 400, 401, 403, 413 and
other 4xx -> failed, sent once; 429 and 5xx -> tried again, then ``pending`` after
``max_attempts``; never connected -> tried again, then ``pending``; sent and no answer
(timeout, connection dropped) -> ``unknown``, sent once. Also deliver()'s own mapping for a
transport without ``start``: an exception after the claim is ``unknown``.
"""

from __future__ import annotations

import logging
import socket
import threading
import time

import pytest

from milestones.deliver.delivery import Outcome, deliver
from milestones.deliver.ledger import Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport
from tests.servers.fault_server import FaultServer

ATTEMPTS = 3
#: No case here takes a second; a send that never ends (a mutant that loses an email, say)
#: fails in 20 s instead of holding the run.
pytestmark = pytest.mark.timeout(20)


def message(key: str, **extra) -> dict:
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"{key}@example.com", "subject": "Hi", "text": "t", "html": "<p>h</p>",
            "unsubscribe_url": "https://x.example/u", "send_at": 0, **extra}


def transport(url: str, **options) -> SendGridTransport:
    defaults = {"from_email": "a@example.com", "from_name": "A", "timeout": 0.4,
                "max_attempts": ATTEMPTS, "backoff": 0.001, "max_wait": 5.0}
    return SendGridTransport("SG.k", url, **{**defaults, **options})


@pytest.fixture(scope="module")
def server():
    with FaultServer(slow_seconds=1.0) as running:
        # A "slow" answer written after the client gave up is a broken pipe: expected, quiet.
        running.httpd.handle_error = lambda request, address: None
        yield running


@pytest.fixture
def send(server, request):
    """One email whose requests get ``plan``'s answers in turn: its outcome and the requests made."""
    key = request.node.name

    def send(plan: list[str], **options) -> tuple[Outcome, int]:
        server.plan[key] = list(plan)
        t = transport(server.url, **options)
        try:
            outcome = t.send(message(key))
        finally:
            t.close()
        return outcome, server.received[key]

    send.message_id = f"msg-{key}"
    return send


@pytest.mark.parametrize("status", ["202", "200", "201", "399"])
def test_an_answer_under_400_is_accepted_with_its_message_id(status, send):
    # The fault server sends X-Message-Id with its 202 only.
    outcome, requests = send([status])
    assert outcome.state == "accepted" and requests == 1
    assert outcome.message_id == (send.message_id if status == "202" else None)
    assert outcome.error is None


@pytest.mark.parametrize("status", ["400", "401", "403", "413", "404", "422", "499"])
def test_a_refusal_for_good_fails_at_once_with_its_reason(status, send):
    outcome, requests = send([status, "202"])
    assert (outcome.state, requests) == ("failed", 1)  # not retried: the 202 is never asked for
    assert outcome.error == f'HTTP {status}: {{"errors":[{{"message":"injected"}}]}}'
    assert outcome.message_id is None


def test_an_error_body_in_several_pieces_is_recorded_whole(send):
    outcome, requests = send(["400-chunked"])
    assert (outcome.state, requests) == ("failed", 1)
    assert outcome.error == 'HTTP 400: {"errors":[{"message":"two chunks"}]}'


def test_a_header_is_found_by_its_whole_name_only():
    from milestones.deliver.sendgrid_transport import _header

    lines = [b"HTTP/1.1 202 Accepted\r\n", b"X-Message-Id:abc\r\n", b"Content-Type: text/plain\r\n",
             b"X-Message-Idx: no\r\n", b"x-message-id\r\n", b"\r\n"]
    assert _header(lines, b"x-message-id") == "abc"  # "Content-Type" is as long, "...Idx" is not it
    assert _header([b"X-Message-Id: first\r\n", b"x-message-id:  last \r\n"], b"x-message-id") == "last"
    assert _header([b"X-Message-Id: \r\n"], b"x-message-id") is None
    assert _header([b"X-RateLimit-Reset: 17\r\n"], b"x-message-id") is None


@pytest.mark.parametrize("status", ["429", "500", "503", "599"])
def test_a_refusal_for_now_is_tried_again(status, send):
    outcome, requests = send([status, "202"])
    assert (outcome.state, outcome.message_id, requests) == ("accepted", send.message_id, 2)


@pytest.mark.parametrize("status", ["429", "500", "503"])
def test_refused_on_every_attempt_is_pending_for_the_next_run(status, send):
    outcome, requests = send([status] * ATTEMPTS + ["202"])
    assert (outcome.state, requests) == ("pending", ATTEMPTS)
    assert outcome.error.startswith(f"gave up after {ATTEMPTS} attempts: HTTP {status}: ")
    assert "injected" in outcome.error or "too many requests" in outcome.error


def test_the_last_of_several_refusals_is_the_one_recorded(send):
    outcome, requests = send(["503", "429", "500"])
    assert (outcome.state, requests) == ("pending", 3)
    assert outcome.error == 'gave up after 3 attempts: HTTP 500: {"errors":[{"message":"injected"}]}'


def test_one_attempt_means_one_request(send):
    outcome, requests = send(["503", "202"], max_attempts=1)
    assert (outcome.state, requests) == ("pending", 1)


def test_a_rate_limit_waits_until_its_reset(server):
    # The fault server's 429 says X-RateLimit-Reset = now + 0.2 s; the backoff alone is ~1 ms.
    server.plan["reset"] = ["429", "429", "202"]
    t = transport(server.url)
    waits = []
    wait = t._wait
    t._wait = lambda attempt, reset=None: waits.append((attempt, bool(reset))) or wait(attempt, reset)
    started = time.monotonic()
    try:
        outcome = t.send(message("reset"))
    finally:
        t.close()
    assert outcome.state == "accepted"
    assert time.monotonic() - started >= 0.3  # twice the reset's 0.2 s (less a little rounding)
    assert waits == [(0, True), (1, True)]


@pytest.mark.parametrize("action", ["slow", "drop"])
def test_sent_without_an_answer_is_unknown_and_never_resent(action, send):
    outcome, requests = send([action, "202"])
    assert (outcome.state, requests) == ("unknown", 1)
    assert outcome.error.startswith("no answer after the request was sent: ")
    if action == "slow":  # the timeout is named with the limit, not the exception's text
        assert outcome.error == ("no answer after the request was sent: curl 28 (timed out): "
                                 "no answer within 0.8 s")  # twice the timeout: connect, then answer
    else:  # libcurl's code and message are named
        assert outcome.error == "no answer after the request was sent: curl 52: Empty reply from server"


@pytest.mark.parametrize("guarded", [True, False])
def test_a_reused_connection_closed_without_an_answer_is_never_resent(guarded, server, monkeypatch):
    """libcurl resends a request by itself when a reused connection closes before any byte of
    the answer. The transport refuses that second start: unknown, one request. Without the
    guard (the second case) the server gets the email twice: the guard is what prevents it."""
    from milestones.deliver import sendgrid_transport

    if not guarded:
        monkeypatch.setattr(sendgrid_transport._Slot, "_prereq", lambda self, *conn: 0)
    first, second = f"reuse-first-{guarded}", f"reuse-dropped-{guarded}"
    server.plan[second] = ["drop", "202"]
    t = transport(server.url)
    try:
        outcomes = t.send_many([message(first), message(second)], concurrency=1)  # one connection
    finally:
        t.close()
    assert outcomes[0].state == "accepted"
    if guarded:
        assert (outcomes[1].state, server.received[second]) == ("unknown", 1)
        assert outcomes[1].error == ("no answer after the request was sent: the connection closed "
                                     "without an answer (not resent)")
    else:
        assert (outcomes[1].state, server.received[second]) == ("accepted", 2)


def test_an_unexpected_failure_after_the_request_is_unknown_and_never_resent(server):
    """Reading the answer fails in a way no rule names: the request left, so it is in doubt."""
    t = transport(server.url)
    reads = []

    def explode(job, slot, code, text):
        reads.append(code)
        raise RuntimeError("exploded reading the answer")

    t._verdict = explode
    try:
        outcome = t.send(message("exploding"))
        after = t.send(message("after-the-explosion"))  # the loop goes on
    finally:
        t.close()
    assert outcome == Outcome("unknown", error="RuntimeError: exploded reading the answer")
    assert (server.received["exploding"], reads) == (1, [0, 0])
    assert after.state == "unknown" and server.received["after-the-explosion"] == 1


def test_a_failing_send_loop_leaves_nothing_waiting(server, monkeypatch):
    """libcurl itself failing: what was handed to it is unknown, what was not is owed, no
    caller waits forever, and the next send starts a new loop, even while the failed loop's
    thread is still ending (it reports, then closes its handles: slowed down here)."""
    import pycurl

    from milestones.deliver import sendgrid_transport

    t = transport(server.url)
    failing = {"on": True}
    real_turn, real_report = sendgrid_transport._Loop._turn, sendgrid_transport._Loop._report

    def turn(self):
        if failing["on"]:
            failing["on"] = False
            raise pycurl.error(2, "injected")
        return real_turn(self)

    def report(self):
        real_report(self)
        if self.closed:
            time.sleep(0.5)  # the failed loop's thread lives on a little after reporting

    monkeypatch.setattr(sendgrid_transport._Loop, "_turn", turn)
    monkeypatch.setattr(sendgrid_transport._Loop, "_report", report)
    try:
        outcomes = t.send_many([message("loop-a"), message("loop-b")], concurrency=1)
        later = t.send(message("loop-c"))
    finally:
        t.close()
    assert [o.state for o in outcomes] == ["pending", "pending"]
    assert outcomes[0].error == "not sent: the send loop failed: error: (2, 'injected')"
    assert later.state == "accepted" and "loop-a" not in server.received


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_never_connected_is_tried_again_then_pending():
    t = transport(f"http://127.0.0.1:{_closed_port()}")
    waits = []
    wait = t._wait
    t._wait = lambda attempt, reset=None: waits.append(attempt) or wait(attempt, reset)
    try:
        outcome = t.send(message("k"))
    finally:
        t.close()
    assert waits == list(range(ATTEMPTS - 1))  # backoff between refused attempts, none after the last
    assert outcome.state == "pending"
    assert outcome.error.startswith(f"gave up after {ATTEMPTS} attempts: not sent: curl 7: Failed to connect")


def test_a_tls_handshake_without_an_answer_is_never_sent_and_tried_again():
    """The server takes the connection and says nothing: libcurl times out before the request
    could leave (no request started), so the email is owed, not in doubt."""
    listener = socket.create_server(("127.0.0.1", 0))
    held = []

    def hold():
        while True:
            try:
                held.append(listener.accept()[0])  # never read, never answered
            except OSError:
                return

    threading.Thread(target=hold, daemon=True).start()
    t = transport(f"https://127.0.0.1:{listener.getsockname()[1]}", timeout=0.2, max_attempts=2)
    try:
        outcome = t.send(message("k"))
    finally:
        t.close()
        listener.close()
        for conn in held:
            conn.close()
    assert outcome.state == "pending" and len(held) == 2  # one connection per attempt
    assert outcome.error.startswith("gave up after 2 attempts: not sent: curl 28: ")


def test_an_email_that_cannot_be_encoded_fails_without_a_request(server):
    t = transport(server.url)
    try:
        outcome = t.send({k: v for k, v in message("unencodable").items() if k != "subject"})
    finally:
        t.close()
    assert "unencodable" not in server.received
    assert outcome.state == "failed" and outcome.error == "payload: KeyError: 'subject'"


def test_a_long_error_body_is_cut_to_300_characters():
    from milestones.deliver.sendgrid_transport import _short

    assert _short(b"x" * 301) == "x" * 300
    assert _short("y" * 300) == "y" * 300
    assert _short(b"\xff ok") == "\ufffd ok"  # not UTF-8: replaced, never an exception
    assert _short({"a": 1}, limit=4) == "{'a'"


class TestWait:
    """How long to wait before the next attempt (``attempt`` counts from 0)."""

    t = transport("http://127.0.0.1:9", backoff=0.5, max_wait=60.0)

    def test_backoff_doubles_with_jitter(self, monkeypatch):
        for jitter, factor in ((0.0, 0.5), (0.999, 1.499)):
            monkeypatch.setattr("random.random", lambda j=jitter: j)
            assert [round(self.t._wait(a), 6) for a in range(4)] == [
                round(0.5 * 2 ** a * factor, 6) for a in range(4)]

    def test_backoff_is_capped_at_max_wait(self, monkeypatch):
        monkeypatch.setattr("random.random", lambda: 0.5)
        assert self.t._wait(6) == 32.0
        assert self.t._wait(7) == 60.0
        assert self.t._wait(20) == 60.0

    def test_rate_limit_reset_is_honoured_and_capped(self, monkeypatch):
        monkeypatch.setattr("random.random", lambda: 0.5)
        now = time.time()
        assert 9.0 < self.t._wait(0, f"{now + 10:.3f}") <= 10.001
        assert self.t._wait(0, f"{now + 600:.3f}") == 60.0

    @pytest.mark.parametrize("header", [None, "", "soon", "0", "past"])
    def test_without_a_usable_reset_the_backoff_applies(self, monkeypatch, header):
        monkeypatch.setattr("random.random", lambda: 0.5)
        if header == "past":
            header = f"{time.time() - 5:.3f}"
        assert self.t._wait(1, header) == 1.0


class Raising:
    """A transport without ``start`` whose send raises after deliver() claimed the email."""

    name = "raising"

    def send(self, m):
        if m["key"] == "boom":
            raise ConnectionResetError("lost after the claim")
        return Outcome("accepted", message_id=f"id-{m['key']}")


@pytest.mark.parametrize("concurrency", [1, 20])
def test_deliver_records_an_exception_after_the_claim_as_unknown(tmp_path, concurrency):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    counts = deliver([message(k) for k in ("a", "boom", "c")], Raising(), ledger, concurrency=concurrency)
    assert counts == {"sent": 2, "unknown": 1}
    assert ledger.states() == {"a": "accepted", "boom": "unknown", "c": "accepted"}
    assert ledger.get("boom")["last_error"] == "ConnectionResetError: lost after the claim"
    assert ledger.get("a")["message_id"] == "id-a"


@pytest.mark.parametrize("concurrency", [1, 20])
def test_the_ledger_names_the_transport_that_sent_the_email(tmp_path, concurrency):
    """Registered by an outbox run that never sent it, sent later through another transport:
    the row names the transport that did send it (what `ledger status` and support look at)."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.register([{"key": k, "customer_id": k, "event_type": "birthday", "event_date": "2026-11-22",
                      "template_version": "v1", "transport": "outbox"} for k in ("a", "boom")])
    deliver([message(k) for k in ("a", "boom")], Raising(), ledger, concurrency=concurrency)
    assert {k: (r["state"], r["transport"]) for k in ("a", "boom") for r in [ledger.get(k)]} == {
        "a": ("accepted", "raising"), "boom": ("unknown", "raising")}


class Starting:
    """A transport with its own ``start`` (as SendGrid's): records the concurrency it is handed."""

    name = "starting"

    def __init__(self):
        self.concurrency: set[int] = set()

    def start(self, batch, concurrency, done):
        self.concurrency.add(concurrency)
        done([(m, Outcome("accepted", message_id=f"id-{m['key']}")) for m in batch])


def test_deliver_hands_a_starting_transport_its_concurrency(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    t = Starting()
    assert deliver([message(f"k{i}") for i in range(7)], t, ledger, concurrency=3) == {"sent": 7}
    assert t.concurrency == {3}  # its senders (connections) are as many as the setting says


class Meeting:
    """Each send waits until ``parties`` sends are running at once (or fails after 10 s)."""

    name = "meeting"

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=10)
        self.running = self.most = 0
        self.lock = threading.Lock()
        self.threads: set[str] = set()

    def send(self, m):
        with self.lock:
            self.threads.add(threading.current_thread().name)
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            self.barrier.wait()
        finally:
            with self.lock:
                self.running -= 1
        return Outcome("accepted", message_id=f"id-{m['key']}")


def test_a_transport_without_start_sends_on_at_most_eight_threads(tmp_path):
    from milestones.deliver.delivery import MAX_THREADS

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    t = Meeting(MAX_THREADS)  # the sends only pass in groups of eight: all eight threads are used
    assert deliver([message(f"k{i:02d}") for i in range(2 * MAX_THREADS)], t, ledger, concurrency=20) == {
        "sent": 2 * MAX_THREADS}
    assert t.most == MAX_THREADS == 8
    # Named for what they do (thread dumps, log records with %(threadName)s): send_0 ... send_7.
    assert t.threads == {f"send_{i}" for i in range(MAX_THREADS)}


def test_an_email_not_accepted_is_logged_with_its_reason_and_a_masked_address(tmp_path, caplog):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    caplog.set_level(logging.WARNING, logger="milestones.deliver.delivery")
    assert deliver([message("good"), message("boom")], Raising(), ledger) == {"sent": 1, "unknown": 1}
    assert [r.getMessage() for r in caplog.records if r.name == "milestones.deliver.delivery"] == [
        "email boom to b***@example.com: unknown (ConnectionResetError: lost after the claim)"]
    assert ledger.get("good")["transport"] == ledger.get("boom")["transport"] == "raising"


def test_a_reset_that_is_now_or_past_or_unreadable_backs_off_instead(monkeypatch):
    """A rate limit whose reset time has come (or is not a number) is no reason to try again at
    once: the jittered backoff applies, bounded by max_wait; a reset ahead is waited for."""
    import milestones.deliver.sendgrid_transport as sendgrid_transport

    t = transport("http://127.0.0.1:9", backoff=1.0, max_wait=30.0)
    monkeypatch.setattr(sendgrid_transport.time, "time", lambda: 1_800_000_000.0)
    monkeypatch.setattr(sendgrid_transport.random, "random", lambda: 0.5)  # the jitter's middle: x1
    assert t._wait(2, "1800000000") == 4.0  # backoff * 2 ** attempt
    assert t._wait(2, "1799999990") == 4.0
    assert t._wait(2, "soon") == 4.0
    assert t._wait(2, "1800000007.5") == 7.5
    assert t._wait(6, None) == 30.0  # 64 s of backoff, capped
    t.close()
