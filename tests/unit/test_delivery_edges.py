"""Fast unit tests that kill the mutants of deliver.delivery: what is sent, retried, held or failed.

Expected values are written by hand from the contract and the docs, never computed by the
code under test (docs/design/testing.md).
"""

from __future__ import annotations

import base64
import email
import email.policy
import json

import pytest
import sqlalchemy as sa

from milestones.deliver import delivery
from milestones.deliver.delivery import (
    OutboxTransport,
    Outcome,
    _base64_lines,
    _ledger_row,
    _parse_connection,
    _result,
    attempt,
    build_mime,
    domain_of,
    encoded_words,
    header_text,
    list_unsubscribe,
    message_id,
    sendgrid_payload,
)
from milestones.deliver.ledger import Ledger, emails

MESSAGE = {"key": "k1", "customer_id": "C1", "event_type": "birthday", "event_date": "2026-11-22 00:00:00",
           "email": "ann@example.com", "subject": "Hyvää syntymäpäivää", "text": "Hei Ann", "html": "<p>Hei Ann</p>",
           "unsubscribe_url": "https://x.example/u/tok", "template_version": "v3"}


@pytest.mark.parametrize("value, header", [
    ("Happy birthday", "Happy birthday"),
    ("a\r\nBcc: eve@example.com", "a  Bcc: eve@example.com"),
    ("tab\there\x00\x7f\x85", "tab here   "),
    ("line\u2028para\u2029", "line para "),
    ("", ""),
    (42, "42"),
    ("x" * 900, "x" * 900),
    ("Äiti", "=?utf-8?b?w4RpdGk=?="),
    ("plain =?utf-8?b?QmNjOg==?=", "=?utf-8?b?" + base64.b64encode(b"plain =?utf-8?b?QmNjOg==?=").decode() + "?="),
])
def test_header_values_are_plain_or_encoded_never_decoded(value, header):
    assert header_text(value) == header


def test_a_long_plain_header_is_encoded_in_words_of_45_bytes():
    text = header_text("x" * 901)
    words = text.split("\r\n ")
    assert len(words) == 21 and all(len(w) <= 75 for w in words)
    assert words[0] == "=?utf-8?b?" + base64.b64encode(b"x" * 45).decode() + "?="


def test_encoded_words_never_split_a_character():
    assert encoded_words("a" * 45) == "=?utf-8?b?" + base64.b64encode(b"a" * 45).decode() + "?="
    assert encoded_words("a" * 46).split("\r\n ") == [
        "=?utf-8?b?" + base64.b64encode(b"a" * 45).decode() + "?=", "=?utf-8?b?YQ==?="]
    # 44 bytes then a two-byte character: 46 > 45, so the character starts the next word.
    assert encoded_words("a" * 44 + "ä").split("\r\n ") == [
        "=?utf-8?b?" + base64.b64encode(b"a" * 44).decode() + "?=", "=?utf-8?b?w6Q=?="]
    assert encoded_words("a" * 43 + "ä") == "=?utf-8?b?" + base64.b64encode(("a" * 43 + "ä").encode()).decode() + "?="


def test_base64_body_lines():
    assert _base64_lines("") == b""
    assert _base64_lines("a" * 57) == base64.b64encode(b"a" * 57) + b"\r\n"  # 76 characters: one line
    two = _base64_lines("a" * 58).split(b"\r\n")
    assert [len(line) for line in two] == [76, 4, 0]


def test_message_id_list_unsubscribe_and_domains():
    assert message_id("k1", "mail.bank.example") == "<k1@mail.bank.example>"
    assert list_unsubscribe("https://x.example/u/t") == "<https://x.example/u/t>"
    assert list_unsubscribe("https://x.example/u/t", "stop@bank.example") == (
        "<https://x.example/u/t>, <mailto:stop@bank.example?subject=unsubscribe>")
    assert domain_of("News@Mail.Bank.Example ") == "mail.bank.example"
    assert domain_of("a@b@c.example") == "c.example"
    assert domain_of("nobody@") == "localhost" and domain_of("") == "localhost"


def test_a_mime_email_has_exactly_these_headers_in_this_order():
    raw = build_mime(MESSAGE, from_email="news@bank.example", from_name="Pankki Ö", unsubscribe_mailto="u@bank.example")
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line.startswith(" ")]
    assert names == ["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
                     "X-Milestones-Event", "X-Milestones-Key", "MIME-Version", "Content-Type"]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["To"] == "ann@example.com" and parsed["Subject"] == "Hyvää syntymäpäivää"
    assert parsed["From"].addresses[0].display_name == "Pankki Ö"
    assert parsed["From"].addresses[0].addr_spec == "news@bank.example"
    assert parsed["Message-ID"] == "<k1@bank.example>"
    assert parsed["List-Unsubscribe"] == "<https://x.example/u/tok>, <mailto:u@bank.example?subject=unsubscribe>"
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert (parsed["X-Milestones-Event"], parsed["X-Milestones-Key"]) == ("birthday", "k1")
    assert parsed["MIME-Version"] == "1.0" and parsed.get_content_type() == "multipart/alternative"
    assert "C1" not in head  # no header names the customer
    text, html = parsed.iter_parts()
    assert (text.get_content_type(), text.get_content()) == ("text/plain", "Hei Ann")
    assert (html.get_content_type(), html.get_content()) == ("text/html", "<p>Hei Ann</p>")
    assert text["Content-Transfer-Encoding"] == "base64" and text.get_content_charset() == "utf-8"
    boundary = parsed.get_boundary()
    assert boundary.startswith("=_milestones_") and len(boundary) == len("=_milestones_") + 24
    assert raw.endswith(f"--{boundary}--\r\n".encode())
    other = build_mime({**MESSAGE, "key": "k2"}, from_email="news@bank.example", from_name="Pankki")
    assert email.message_from_bytes(other).get_boundary() != boundary  # one per email key


def test_the_message_id_is_on_the_brands_sending_domain_when_set():
    raw = build_mime(MESSAGE, from_email="news@bank.example", from_name="P", message_domain="mail.bank.example")
    assert email.message_from_bytes(raw)["Message-ID"] == "<k1@mail.bank.example>"
    assert email.message_from_bytes(raw)["List-Unsubscribe"] == "<https://x.example/u/tok>"


@pytest.mark.parametrize("address", ["ann@example.com\r\nBcc: eve@example.com", "änn@example.com", "ann@exa\x00mple.com"])
def test_a_recipient_address_that_could_add_a_header_is_refused(address):
    with pytest.raises(ValueError) as refused:
        build_mime({**MESSAGE, "email": address}, from_email="n@b.example", from_name="P")
    assert str(refused.value) == "the recipient address contains a control or non-ASCII character"


def test_the_sendgrid_body_in_full():
    payload = sendgrid_payload({**MESSAGE, "send_at": "1795338000"}, from_email="news@bank.example",
                               from_name="Pankki", sandbox=True, asm_group_id="42",
                               categories=("milestones", "birthday"), unsubscribe_mailto="u@bank.example")
    assert payload == {
        "personalizations": [{"to": [{"email": "ann@example.com"}],
                              "custom_args": {"customer_id": "C1", "event_type": "birthday", "key": "k1"}}],
        "from": {"email": "news@bank.example", "name": "Pankki"},
        "subject": "Hyvää syntymäpäivää",
        "content": [{"type": "text/plain", "value": "Hei Ann"}, {"type": "text/html", "value": "<p>Hei Ann</p>"}],
        "categories": ["milestones", "birthday"],
        "headers": {"Message-ID": "<k1@bank.example>",
                    "List-Unsubscribe": "<https://x.example/u/tok>, <mailto:u@bank.example?subject=unsubscribe>",
                    "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        "send_at": 1795338000,
        "asm": {"group_id": 42},
        "mail_settings": {"sandbox_mode": {"enable": True}},
    }


def test_a_plain_sendgrid_body_has_no_schedule_group_or_sandbox_and_at_most_ten_categories():
    payload = sendgrid_payload({**MESSAGE, "send_at": None}, from_email="news@bank.example", from_name="P",
                               categories=tuple(f"c{i}" for i in range(12)), message_domain="mail.bank.example")
    assert not {"send_at", "asm", "mail_settings"} & set(payload)
    assert payload["categories"] == [f"c{i}" for i in range(10)]
    assert payload["headers"]["Message-ID"] == "<k1@mail.bank.example>"
    assert payload["headers"]["List-Unsubscribe"] == "<https://x.example/u/tok>"
    assert sendgrid_payload(MESSAGE, from_email="n@b.example", from_name="P")["categories"] == ["milestones", "birthday"]


def test_a_ledger_row_of_a_message():
    assert _ledger_row(MESSAGE, "outbox") == {
        "key": "k1", "customer_id": "C1", "event_type": "birthday", "event_date": "2026-11-22",
        "template_version": "v3", "transport": "outbox", "partner_id": ""}
    bare = {k: v for k, v in MESSAGE.items() if k != "template_version"}
    assert _ledger_row({**bare, "partner_id": "C2"}, "sendgrid")["template_version"] == ""
    assert _ledger_row({**bare, "partner_id": "C2"}, "sendgrid")["partner_id"] == "C2"
    assert _ledger_row({**bare, "partner_id": None}, "sendgrid")["partner_id"] == ""


def test_a_result_row_masks_secrets_and_logs_what_was_not_accepted(caplog):
    secret = "SG.abcdefghijklmnop.qrstuvwxyz0123456789"
    with caplog.at_level("WARNING", logger="milestones.deliver.delivery"):
        row = _result(MESSAGE, Outcome("failed", None, f"refused with {secret}"), "sendgrid")
        ok = _result(MESSAGE, Outcome("accepted", "m-1"), "sendgrid")
    assert row == {"key": "k1", "state": "failed", "message_id": None, "error": "refused with SG.***",
                   "transport": "sendgrid"}
    assert ok == {"key": "k1", "state": "accepted", "message_id": "m-1", "error": None, "transport": "sendgrid"}
    assert [r.getMessage() for r in caplog.records] == ["email k1 to a***@example.com: failed (refused with SG.***)"]


def test_an_unexpected_failure_of_a_transport_is_unknown():
    class Broken:
        name = "broken"

        def send(self, message):
            raise RuntimeError("the wire broke")

    assert attempt(Broken(), MESSAGE) == Outcome("unknown", error="RuntimeError: the wire broke")


@pytest.mark.parametrize("raw, expected", [
    ("sendgrid://:SG.key@", {"api_key": "SG.key", "host": "https://api.sendgrid.com"}),
    (" http://user:SG%2Fkey@127.0.0.1:8025 ", {"api_key": "SG/key", "host": "http://127.0.0.1:8025"}),
    ("generic://:SG.key@mock.example", {"api_key": "SG.key", "host": "https://mock.example"}),
    ("https://:SG.key@api.example", {"api_key": "SG.key", "host": "https://api.example"}),
    (json.dumps({"password": "SG.key"}), {"api_key": "SG.key", "host": "https://api.sendgrid.com"}),
    (json.dumps({"password": "SG.key", "host": "127.0.0.1", "schema": "http", "port": 4010}),
     {"api_key": "SG.key", "host": "http://127.0.0.1:4010"}),
    (json.dumps({"password": "SG.key", "host": "mock.example"}), {"api_key": "SG.key", "host": "https://mock.example"}),
    (json.dumps({"password": "SG.key", "host": "http://mock.example:1", "port": 9}),
     {"api_key": "SG.key", "host": "http://mock.example:1"}),
])
def test_the_sendgrid_connection_in_uri_or_json_form(raw, expected):
    assert _parse_connection(raw) == expected


@pytest.mark.parametrize("raw", ["sendgrid://user@host", json.dumps({"host": "h"}), json.dumps({"password": ""})])
def test_a_sendgrid_connection_without_a_key_is_refused(raw):
    with pytest.raises(ValueError) as refused:
        _parse_connection(raw)
    assert str(refused.value) == "sendgrid_default connection has no password (the API key)"


def test_the_sendgrid_connection_from_the_environment_or_none(monkeypatch):
    monkeypatch.setattr("milestones.core.airflow_conn.reachable", lambda: False)
    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    assert delivery.sendgrid_connection() is None
    monkeypatch.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", "sendgrid://:SG.key@")
    assert delivery.sendgrid_connection() == {"api_key": "SG.key", "host": "https://api.sendgrid.com"}


def test_the_outbox_writes_one_file_per_email_and_refuses_what_it_cannot_write(tmp_path):
    outbox = OutboxTransport(tmp_path / "out", from_email="news@bank.example", from_name="P")
    assert outbox.send(MESSAGE) == Outcome("accepted", message_id="outbox:k1")
    assert (tmp_path / "out" / "k1.eml").read_bytes().startswith(b"From: P <news@bank.example>\r\n")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["k1.eml"]
    bad = outbox.send({**MESSAGE, "key": "k2", "email": "a\n@example.com"})
    assert bad == Outcome("failed", error="message: ValueError: the recipient address contains a control or "
                                          "non-ASCII character")
    missing = outbox.send({k: v for k, v in MESSAGE.items() if k != "subject"})
    assert missing == Outcome("failed", error="message: KeyError: 'subject'")
    assert outbox.path("k9") == tmp_path / "out" / "k9.eml"


def test_the_outbox_recovers_written_emails_and_drops_cut_writes(tmp_path):
    outbox = OutboxTransport(tmp_path, from_email="n@b.example", from_name="P")
    (tmp_path / "k1.eml").write_text("x")
    (tmp_path / ".k2.eml.tmp").write_text("half")
    assert outbox.recover(["k1", "k2"]) == {"k1": "accepted", "k2": "pending"}
    assert not (tmp_path / ".k2.eml.tmp").exists()


class Scripted:
    """A transport answering each key as told."""

    name = "scripted"

    def __init__(self, answers):
        self.answers, self.sent = answers, []

    def send(self, message):
        self.sent.append(message["key"])
        return self.answers[message["key"]]


def _messages(*keys):
    return [{**MESSAGE, "key": k, "customer_id": f"C{k}"} for k in keys]


def test_deliver_counts_each_outcome_and_each_key_held_before(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    before = Scripted({"a": Outcome("accepted", "m"), "f": Outcome("failed", error="no"),
                       "u": Outcome("unknown", error="?")})
    delivery.deliver(_messages("a", "f", "u"), before, ledger)
    now = Scripted({"s": Outcome("accepted", "m"), "x": Outcome("failed", error="bad"),
                    "p": Outcome("pending", error="later"), "q": Outcome("unknown", error="timeout")})
    counts = delivery.deliver(_messages("a", "f", "u", "s", "x", "p", "q"), now, ledger, concurrency=2, batch_size=3)
    assert counts == {"already_sent": 1, "already_failed": 1, "in_doubt": 1, "sent": 1, "failed": 1,
                      "retry_later": 1, "unknown": 1}
    assert sorted(now.sent) == ["p", "q", "s", "x"]
    again = Scripted({"p": Outcome("accepted", "m")})
    assert delivery.deliver(_messages("p"), again, ledger) == {"sent": 1}
    assert delivery.deliver([], again, ledger) == {}


def test_deliver_closes_what_the_check_stops_and_sends_the_rest(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    transport = Scripted({"a": Outcome("accepted", "m"), "b": Outcome("accepted", "m")})

    def check(messages):
        return {m["key"]: ("cancelled", "unsubscribed since") for m in messages if m["key"] == "b"}

    assert delivery.deliver(_messages("a", "b"), transport, ledger, check=check) == {"sent": 1, "cancelled": 1}
    assert transport.sent == ["a"]
    assert delivery.deliver(_messages("b"), transport, ledger) == {"already_cancelled": 1}


class _Conn:
    def __init__(self, password="SG.key", host=None, schema=None, port=None):
        self.password, self.host, self.schema, self.port = password, host, schema, port


@pytest.mark.parametrize("conn, expected", [
    (_Conn(), {"api_key": "SG.key", "host": "https://api.sendgrid.com"}),
    (_Conn(host="mail.example"), {"api_key": "SG.key", "host": "https://mail.example"}),
    (_Conn(host="mail.example", schema="http", port=8080), {"api_key": "SG.key", "host": "http://mail.example:8080"}),
    (_Conn(host="http://127.0.0.1:4010"), {"api_key": "SG.key", "host": "http://127.0.0.1:4010"}),
    (_Conn(password=""), None),
    (_Conn(password=None), None),
])
def test_the_sendgrid_connection_from_airflow(monkeypatch, conn, expected):
    from airflow.sdk import BaseHook

    asked = []
    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    monkeypatch.setattr("milestones.core.airflow_conn.reachable", lambda: True)
    monkeypatch.setattr(BaseHook, "get_connection", lambda conn_id: asked.append(conn_id) or conn)
    assert delivery.sendgrid_connection() == expected
    assert asked == ["sendgrid_default"]


def test_no_sendgrid_connection_when_airflow_has_none_or_is_not_there(monkeypatch):
    from airflow.sdk import BaseHook

    def missing(conn_id):
        raise LookupError(f"The conn_id `{conn_id}` isn't defined")

    monkeypatch.delenv("AIRFLOW_CONN_SENDGRID_DEFAULT", raising=False)
    monkeypatch.setattr(BaseHook, "get_connection", missing)
    monkeypatch.setattr("milestones.core.airflow_conn.reachable", lambda: True)
    assert delivery.sendgrid_connection() is None
    monkeypatch.setattr(BaseHook, "get_connection", lambda conn_id: _Conn())
    monkeypatch.setattr("milestones.core.airflow_conn.reachable", lambda: False)
    assert delivery.sendgrid_connection() is None  # Airflow not there: not asked at all


class _Keeper:
    """A recoverable transport whose store holds the emails named."""

    name = "keeper"
    recoverable = True

    def __init__(self, held):
        self.held, self.asked = held, []

    def recover(self, keys):
        self.asked.append(list(keys))
        return {k: "accepted" if k in self.held else "pending" for k in keys}


def _stuck(tmp_path, *keys):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.register([delivery._ledger_row(m, "keeper") for m in _messages(*keys)])
    for key in keys:
        assert ledger.claim(key)
    return ledger


def test_recovery_settles_only_this_runs_stuck_emails_and_names_the_transport(tmp_path):
    ledger = _stuck(tmp_path, "a", "b", "c")
    keeper = _Keeper({"a"})
    assert delivery.recover(_messages("a", "b"), keeper, ledger) == 2
    assert keeper.asked == [["a", "b"]]
    assert ledger.states() == {"a": "accepted", "b": "pending", "c": "sending"}
    with ledger.engine.connect() as conn:
        notes = dict(conn.execute(sa.select(emails.c.key, emails.c.last_error)).all())
    assert notes["a"] == "recovered: the keeper transport holds this email"
    assert notes["b"] == "recovered: the keeper transport never took this email; owed again"
    assert delivery.recover(_messages("a", "b"), keeper, ledger) == 0  # nothing left sending
    assert delivery.recover([], keeper, ledger) == 0


@pytest.mark.parametrize("transport", [Scripted({}), type("Refuses", (), {"recoverable": False})()])
def test_a_transport_that_cannot_tell_what_it_holds_recovers_nothing(tmp_path, transport):
    ledger = _stuck(tmp_path, "a")
    assert delivery.recover(_messages("a"), transport, ledger) == 0
    assert ledger.states() == {"a": "sending"}  # in doubt: for a person, never guessed


def test_the_outbox_writes_on_its_own_named_threads_at_most_its_limit(tmp_path):
    import threading

    for concurrency, threads in ((0, 1), (1, 1), (3, 3), (64, OutboxTransport.THREADS)):
        outbox = OutboxTransport(tmp_path / f"o{concurrency}", from_email="n@b.example", from_name="P")
        names, written = [], threading.Event()

        def done(results, names=names, written=written):
            names.append(threading.current_thread().name)
            written.set()

        outbox.start(_messages("a"), concurrency, done)
        assert written.wait(10)
        assert outbox._pool._max_workers == threads and names[0].startswith("outbox_")
        outbox._pool.shutdown()


def test_a_cut_write_that_vanishes_while_recovering_is_no_error(tmp_path):
    class Racy(type(tmp_path)):
        def glob(self, pattern):
            yield self / ".gone.eml.tmp"  # listed, then removed by another worker

    outbox = OutboxTransport(tmp_path, from_email="n@b.example", from_name="P")
    outbox.outbox_dir = Racy(tmp_path)
    assert outbox.recover(["k1"]) == {"k1": "pending"}


class _SyncStart:
    """A transport with its own ``start`` that answers every send at once, in the caller's thread:
    the send loop's steps are then the same every run."""

    name = "sync"

    def __init__(self, recoverable):
        self.recoverable = recoverable

    def start(self, messages, concurrency, done):
        done([(m, Outcome("accepted", message_id=f"sync:{m['key']}")) for m in messages])


def _steps(tmp_path, monkeypatch, transport, count, **kwargs):
    """(registered, claimed, outcomes recorded) of each ledger step of one deliver() call."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'steps.sqlite'}")
    seen = []
    real = ledger.step

    def spy(*, register, close, outcomes, claim):
        seen.append((len(register), len(claim), len(outcomes)))
        return real(register=register, close=close, outcomes=outcomes, claim=claim)

    monkeypatch.setattr(ledger, "step", spy)
    keys = [f"k{i:04d}" for i in range(count)]
    assert delivery.deliver(_messages(*keys), transport, ledger, **kwargs) == {"sent": count}
    assert set(ledger.states().values()) == {"accepted"}
    return seen


def test_the_outbox_keeps_two_batches_claimed_and_commits_once_a_batch(tmp_path, monkeypatch):
    # Window two batches (6), a step once a batch (3) is free: claims 6, then the last 4.
    assert _steps(tmp_path, monkeypatch, _SyncStart(True), 10, batch_size=3) == [(6, 6, 0), (4, 4, 6), (0, 0, 4)]


def test_the_outbox_batch_is_500_emails_unless_told(tmp_path, monkeypatch):
    assert _steps(tmp_path, monkeypatch, _SyncStart(True), 1001) == [(1000, 1000, 0), (1, 1, 1000), (0, 0, 1)]


def test_any_other_transport_has_at_most_its_concurrency_claimed(tmp_path, monkeypatch):
    # All registered at once (under a batch); four claimed, answered, recorded with the next claims.
    assert _steps(tmp_path, monkeypatch, _SyncStart(False), 10, concurrency=4) == [
        (10, 4, 0), (0, 4, 4), (0, 2, 4), (0, 0, 2)]


def test_one_send_at_a_time_unless_told(tmp_path, monkeypatch):
    assert _steps(tmp_path, monkeypatch, _SyncStart(False), 3) == [(3, 1, 0), (0, 1, 1), (0, 1, 1), (0, 0, 1)]


def test_the_outbox_file_carries_the_brands_domain_and_mailto_and_a_plain_mode(tmp_path, monkeypatch):
    import os
    import stat

    outbox = OutboxTransport(tmp_path / "a" / "b", from_email="n@bank.example", from_name="P",
                             message_domain="mail.bank.example", unsubscribe_mailto="unsub@bank.example")
    replaced = []
    real_replace = os.replace
    monkeypatch.setattr(delivery.os, "replace", lambda src, dst: replaced.append(src) or real_replace(src, dst))
    (tmp_path / "a" / "b" / ".k1.eml.tmp").write_bytes(b"x" * 100_000)  # a longer cut write left before
    old = os.umask(0o022)
    try:
        assert outbox.send(MESSAGE) == Outcome("accepted", message_id="outbox:k1")
        assert outbox.send({**MESSAGE, "key": "k2"}) == Outcome("accepted", message_id="outbox:k2")
    finally:
        os.umask(old)
    # rw for the owner, read for the rest, never executable (a new file: 0o666 less the umask).
    assert stat.S_IMODE((tmp_path / "a" / "b" / "k2.eml").stat().st_mode) == 0o644
    written = tmp_path / "a" / "b" / "k1.eml"
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert parsed["Message-ID"] == "<k1@mail.bank.example>"
    assert parsed["List-Unsubscribe"] == "<https://x.example/u/tok>, <mailto:unsub@bank.example?subject=unsubscribe>"
    assert not written.read_bytes().endswith(b"x")  # the old bytes were cut, not left at the end
    assert replaced[0] == str(tmp_path / "a" / "b" / ".k1.eml.tmp")  # written beside its target
    plain = OutboxTransport(tmp_path / "plain", from_email="n@bank.example", from_name="P")
    assert plain.send(MESSAGE).state == "accepted"
    parsed = email.message_from_bytes((tmp_path / "plain" / "k1.eml").read_bytes(), policy=email.policy.default)
    assert parsed["List-Unsubscribe"] == "<https://x.example/u/tok>"  # no mailto unless configured
    assert parsed["Message-ID"] == "<k1@bank.example>"  # the sender's own domain unless told


def test_a_write_the_disk_refuses_is_owed_again_with_the_reason(tmp_path):
    outbox = OutboxTransport(tmp_path, from_email="n@b.example", from_name="P")
    (tmp_path / "k1.eml").mkdir()  # the rename cannot replace a directory
    assert outbox.send(MESSAGE) == Outcome("pending", error="outbox write failed: IsADirectoryError: Is a directory")
    assert not (tmp_path / ".k1.eml.tmp").exists()
    (tmp_path / ".k2.eml.tmp").mkdir()  # the temporary name cannot even be opened, nor removed
    assert outbox.send({**MESSAGE, "key": "k2"}) == Outcome(
        "pending", error="outbox write failed: IsADirectoryError: Is a directory")


def test_every_word_after_the_first_holds_45_bytes_too():
    words = encoded_words("a" * 91).split("\r\n ")
    assert [base64.b64decode(w[10:-2]) for w in words] == [b"a" * 45, b"a" * 45, b"a"]


def test_a_stopped_delivery_records_the_answers_it_had(tmp_path):
    """The recheck fails on the second step: the first batch's answers, already back, are recorded
    before the error goes up; nothing else was handed over."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    calls = []

    def check(messages):
        calls.append(len(messages))
        if len(calls) == 2:
            raise RuntimeError("the recheck's database went away")
        return {}

    with pytest.raises(RuntimeError, match="went away"):
        delivery.deliver(_messages("a", "b", "c", "d"), _SyncStart(False), ledger, concurrency=2, check=check)
    assert ledger.states() == {"a": "accepted", "b": "accepted", "c": "pending", "d": "pending"}


def test_a_stopped_delivery_that_cannot_record_says_so_and_keeps_its_error(tmp_path, monkeypatch, caplog):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    real, steps = ledger.step, []

    def failing(**kwargs):
        steps.append(kwargs)
        if len(steps) > 1:
            raise sa.exc.OperationalError("UPDATE", {}, Exception("disk I/O error"))
        return real(**kwargs)

    monkeypatch.setattr(ledger, "step", failing)
    with pytest.raises(sa.exc.OperationalError):
        delivery.deliver(_messages("a", "b", "c"), _SyncStart(False), ledger, concurrency=1)
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        "could not record the outcomes of a stopped delivery"]
    assert [len(s.get("outcomes", [])) for s in steps] == [0, 1, 1]  # the last try: the answer it had


def test_the_transport_that_finally_sent_an_email_is_the_one_recorded(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    first = Scripted({"a": Outcome("pending", error="try later")})
    delivery.deliver(_messages("a"), first, ledger)
    second = _SyncStart(False)
    assert delivery.deliver(_messages("a"), second, ledger) == {"sent": 1}
    with ledger.engine.connect() as conn:
        assert conn.execute(sa.select(emails.c.transport)).scalar_one() == "sync"


def test_the_date_header_is_this_seconds_time_in_gmt(monkeypatch):
    clock = [1_795_000_000.2]  # 2026-11-18 11:06:40 UTC (`date -u -d @1795000000`)
    monkeypatch.setattr(delivery.time, "time", lambda: clock[0])
    monkeypatch.setattr(delivery, "_date_cache", (0, ""))
    assert delivery._date_header() == "Wed, 18 Nov 2026 11:06:40 GMT"
    clock[0] += 0.7  # the same second: the same text
    assert delivery._date_header() == "Wed, 18 Nov 2026 11:06:40 GMT"
    clock[0] += 1.0  # the next second: formatted again
    assert delivery._date_header() == "Wed, 18 Nov 2026 11:06:41 GMT"
