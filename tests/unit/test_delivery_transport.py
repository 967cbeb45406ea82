"""deliver()'s claim window, the outbox's recovery and the SendGrid transport's fault mapping."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading

import pytest

from milestones.deliver.delivery import Outcome, deliver
from milestones.deliver.ledger import Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport


def test_a_key_with_a_line_break_is_refused_without_showing_it():
    with pytest.raises(ValueError) as err:
        SendGridTransport("SG.secret\r\nX-Injected: 1", "http://127.0.0.1:9",
                          from_email="a@example.com", from_name="A")
    assert "secret" not in str(err.value)
    transport = SendGridTransport("SG.secret", "http://127.0.0.1:9", from_email="a@example.com", from_name="A")
    assert "secret" not in repr(transport)


def message(key: str) -> dict:
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"{key}@example.com"}


class Threaded:
    """A transport called from deliver()'s threads (no start). Records how many rows of the
    ledger were ``sending`` whenever it was handed an email."""

    name = "fake"

    def __init__(self, ledger=None):
        self.sent: list[str] = []
        self.ledger = ledger
        self.sending_seen: list[int] = []
        self._lock = threading.Lock()

    def send(self, m):
        with self._lock:
            self.sent.append(m["key"])
            if self.ledger is not None:
                self.sending_seen.append(self.ledger.counts().get("sending", 0))
        if m["key"].endswith("boom"):
            raise RuntimeError("exploded after the claim")
        return Outcome("failed", error="HTTP 400") if m["key"].endswith("bad") else Outcome("accepted", "id-" + m["key"])


class Started(Threaded):
    """A transport that takes the emails and reports each outcome itself, like SendGridTransport.start."""

    def __init__(self, ledger=None, break_after: int | None = None):
        super().__init__(ledger)
        self.handed: list[list[str]] = []
        self.break_after = break_after
        self.pool = concurrent.futures.ThreadPoolExecutor(4)

    def start(self, batch, concurrency, done):
        self.handed.append([m["key"] for m in batch])
        if self.break_after is not None and sum(map(len, self.handed)) > self.break_after:
            raise KeyboardInterrupt("the worker is stopped")  # what a kill looks like from inside
        for m in batch:
            self.pool.submit(lambda m=m: done([(m, self.send_safely(m))]))

    def send_safely(self, m):  # a transport that reports outcomes turns its own failures into outcomes
        try:
            return self.send(m)
        except RuntimeError as exc:
            return Outcome("unknown", error=str(exc))


@pytest.mark.parametrize("transport, concurrency", [(Threaded, 1), (Threaded, 4), (Started, 3)])
def test_at_most_concurrency_rows_are_sending_and_each_is_recorded(tmp_path, transport, concurrency):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    keys = [f"k{i}" for i in range(23)] + ["k-bad", "k-boom"]
    t = transport(ledger)
    counts = deliver([message(k) for k in keys], t, ledger, concurrency=concurrency, batch_size=5)
    assert counts == {"sent": 23, "failed": 1, "unknown": 1}
    assert sorted(t.sent) == sorted(keys)
    # Claimed only when handed over: never more than `concurrency` rows in flight.
    assert max(t.sending_seen) <= concurrency and min(t.sending_seen) >= 1
    if concurrency > 1:
        assert max(t.sending_seen) > 1  # and it does use the places it has
    states = ledger.states()
    assert states["k7"] == "accepted" and ledger.get("k7")["message_id"] == "id-k7"
    assert states["k-bad"] == "failed" and states["k-boom"] == "unknown"
    assert "exploded" in ledger.get("k-boom")["last_error"]
    again = deliver([message(k) for k in keys], transport(), ledger, concurrency=concurrency, batch_size=5)
    # Counted by what the ledger holds: only accepted emails are "already sent".
    assert again == {"already_sent": 23, "already_failed": 1, "in_doubt": 1}


def test_a_stopped_delivery_leaves_only_what_was_in_flight_in_doubt(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    keys = [f"k{i:02d}" for i in range(40)]
    t = Started(ledger, break_after=10)
    with pytest.raises(KeyboardInterrupt):
        deliver([message(k) for k in keys], t, ledger, concurrency=3, batch_size=8)
    t.pool.shutdown(wait=True)
    states = ledger.states()
    handed = [k for batch in t.handed for k in batch]
    sending = [k for k in keys if states.get(k) == "sending"]
    # What was handed over and answered is recorded or in doubt; nothing else was claimed.
    assert 1 <= len(sending) <= 3
    assert set(sending) <= set(handed)
    assert all(states.get(k, "pending") == "pending" for k in keys if k not in handed)
    assert ledger.in_doubt()["sending"]["total"] == len(sending)
    # The re-run sends what is owed and reports the rest by its state, never as sent.
    again = deliver([message(k) for k in keys], Started(), ledger, concurrency=3, batch_size=8)
    assert again["in_doubt"] == len(sending)
    assert again["already_sent"] == sum(1 for k in keys if states.get(k) == "accepted")
    assert again["sent"] == len(keys) - again["in_doubt"] - again["already_sent"]


def test_the_outbox_settles_a_crashed_batch_from_its_files(tmp_path):
    from milestones.deliver.delivery import OutboxTransport, recover

    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    outbox = OutboxTransport(tmp_path / "outbox", from_email="a@example.com", from_name="A")
    msgs = [{**message(f"k{i}"), "subject": "Hi", "text": "t", "html": "<p>h</p>",
             "unsubscribe_url": "https://x.example/u"} for i in range(6)]
    ledger.register({"key": m["key"], "customer_id": "C", "event_type": "birthday", "event_date": "2026-11-22",
                     "template_version": "", "transport": "outbox"} for m in msgs)
    assert ledger.claim_many([m["key"] for m in msgs]) == {m["key"] for m in msgs}  # a whole batch claimed
    for m in msgs[:2]:  # then the worker died after writing two of them, in the middle of a third
        assert outbox.send(m).state == "accepted"
    (tmp_path / "outbox" / ".k2.eml.tmp").write_bytes(b"From: half")
    assert recover(msgs, outbox, ledger) == 6
    assert ledger.states() == {"k0": "accepted", "k1": "accepted", **{f"k{i}": "pending" for i in range(2, 6)}}
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == ["k0.eml", "k1.eml"]
    assert deliver(msgs, outbox, ledger, concurrency=2) == {"already_sent": 2, "sent": 4}


def test_the_outbox_writers_write_each_email_once_and_an_unexpected_error_is_unknown(tmp_path, monkeypatch):
    """The outbox's own writer threads (chunks of CHUNK): every file once, a crash of one email's
    write is that email's ``unknown`` (never a stuck loop), the rest of its chunk still written."""
    from milestones.deliver import delivery
    from milestones.deliver.delivery import OutboxTransport

    real = delivery.build_mime

    def build(m, **kw):
        if m["key"] == "k037":
            raise RuntimeError("boom")
        return real(m, **kw)

    monkeypatch.setattr(delivery, "build_mime", build)
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    outbox = OutboxTransport(tmp_path / "outbox", from_email="a@example.com", from_name="A")
    msgs = [{**message(f"k{i:03d}"), "subject": "Hi", "text": "t", "html": "<p>h</p>",
             "unsubscribe_url": "https://x.example/u"} for i in range(120)]
    assert deliver(msgs, outbox, ledger, concurrency=3, batch_size=40) == {"sent": 119, "unknown": 1}
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == [
        f"{m['key']}.eml" for m in msgs if m["key"] != "k037"]
    assert ledger.states()["k037"] == "unknown" and ledger.counts() == {"accepted": 119, "unknown": 1}
    assert len({t.name for t in threading.enumerate() if t.name.startswith("outbox")}) <= 3


def test_an_outbox_that_cannot_write_owes_the_email_and_leaves_no_temp_file(tmp_path):
    from milestones.deliver.delivery import OutboxTransport

    outbox = OutboxTransport(tmp_path / "outbox", from_email="a@example.com", from_name="A")
    (tmp_path / "outbox" / "k1.eml").mkdir()  # the rename cannot replace a directory
    m = {**message("k1"), "subject": "Hi", "text": "t", "html": "h", "unsubscribe_url": "https://x.example/u"}
    outcome = outbox.send(m)
    assert outcome.state == "pending" and "outbox write failed" in outcome.error
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["k1.eml"]


def test_a_timeout_after_the_request_is_unknown_and_not_resent():
    """The fault mapping of a request that got no answer: recorded unknown, sent once."""
    received = []

    async def scenario():
        async def handle(reader, writer):
            received.append(await reader.readuntil(b"\r\n\r\n"))
            await asyncio.sleep(5)  # never answers within the client's timeout
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            transport = SendGridTransport("SG.k", f"http://127.0.0.1:{port}", from_email="a@example.com",
                                          from_name="A", timeout=0.3, max_attempts=3, backoff=0.01)
            outcome = await asyncio.wait_for(asyncio.to_thread(transport.send, {
                **message("k1"), "subject": "Hi", "text": "t", "html": "h",
                "unsubscribe_url": "https://x.example/u", "send_at": 0}), 10)
            transport.close()
            return outcome

    outcome = asyncio.run(scenario())
    assert outcome.state == "unknown" and "no answer" in outcome.error
    assert len(received) == 1  # sent once, never retried blindly
