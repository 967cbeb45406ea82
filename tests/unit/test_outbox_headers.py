"""Names are data: no value from an extract can add a header to an outbox email (issue 15, item 3)."""

from __future__ import annotations

import email
import email.policy
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from milestones.deliver.delivery import OutboxTransport, build_mime

OWN_HEADERS = ["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post",
               "X-Milestones-Event", "X-Milestones-Key", "MIME-Version",
               "Content-Type"]
ATTACK = "=?utf-8?q?Ann=0D=0ABcc:_attacker@evil.example=0D=0A?="
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def message(**extra) -> dict:
    return {"key": "k1", "customer_id": "C1", "event_type": "birthday", "email": "ann@example.com",
            "subject": "Happy birthday!", "text": "Dear Ann,", "html": "<p>Dear Ann,</p>",
            "unsubscribe_url": "https://milestones.example/u/tok", **extra}


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_an_encoded_word_in_a_name_stays_text_in_the_outbox_file(tmp_path):
    outbox = OutboxTransport(tmp_path, from_email="hello@milestones.example", from_name="Milestones")
    m = message(subject=f"Happy birthday, {ATTACK}!", text=f"Dear {ATTACK},", html=f"<p>Dear {ATTACK},</p>")
    assert outbox.send(m).state == "accepted"
    raw = (tmp_path / "k1.eml").read_bytes()
    assert not re.search(rb"(?im)^bcc:", raw)  # no header line, folded or not, starts a Bcc
    parsed = parse(raw)
    assert parsed.keys() == OWN_HEADERS and parsed["Bcc"] is None
    # What a reader decodes is exactly the name as it was given, encoded word and all.
    assert str(parsed["Subject"]) == f"Happy birthday, {ATTACK}!"
    parts = {p.get_content_type(): p.get_content() for p in parsed.iter_parts()}
    assert parts == {"text/plain": f"Dear {ATTACK},", "text/html": f"<p>Dear {ATTACK},</p>"}
    assert all(p.get_content_charset() == "utf-8" for p in parsed.iter_parts())


def test_line_breaks_in_any_field_cannot_start_a_header():
    raw = build_mime(message(subject="Hi\r\nBcc: a@evil.example", customer_id="C1\nBcc: b@evil.example",
                             event_type="birthday\u2028Bcc: c@evil.example", key="k1\rX-Evil: 1"),
                     from_email="hello@milestones.example", from_name="Milestones\r\nBcc: d@evil.example")
    parsed = parse(raw)
    assert parsed.keys() == OWN_HEADERS
    assert str(parsed["Subject"]) == "Hi  Bcc: a@evil.example"  # the break became spaces, on one line
    assert b"b@evil.example" not in raw.split(b"\r\n\r\n", 1)[0]  # the customer id is in no header (issue 24)
    assert b"\r\nMessage-ID: <k1 X-Evil: 1@milestones.example>\r\n" in raw  # one line, on the sending domain


def test_a_recipient_address_with_a_line_break_is_refused(tmp_path):
    outbox = OutboxTransport(tmp_path, from_email="hello@milestones.example", from_name="Milestones")
    outcome = outbox.send(message(email="ann@example.com\r\nBcc: x@evil.example"))
    assert outcome.state == "failed" and "control" in outcome.error
    assert list(tmp_path.iterdir()) == []


hostile_text = st.lists(st.one_of(st.characters(), st.sampled_from(["\r\n", "\n", "=?", "?=", "=?utf-8?q?",
                                                                     "=0D=0A", "Bcc: ", ":", "\x00"])),
                        max_size=60).map("".join)


@settings(max_examples=150, deadline=None)
@given(subject=hostile_text, customer_id=hostile_text, from_name=hostile_text)
def test_no_value_adds_a_header_and_each_reads_back_as_given(subject, customer_id, from_name):
    raw = build_mime(message(subject=subject, customer_id=customer_id), from_email="hello@milestones.example",
                     from_name=from_name)
    head = raw.split(b"\r\n\r\n", 1)[0]
    head.decode("ascii")  # every header line is 7-bit
    assert max(len(line) for line in head.split(b"\r\n")) <= 998
    parsed = parse(raw)
    assert parsed.keys() == OWN_HEADERS
    expected = CONTROL.sub(" ", subject)
    assert str(parsed["Subject"]).strip() == expected.strip()
    assert parsed["X-Milestones-Key"] == "k1" and parsed["To"] == "ann@example.com"


def test_body_base64_lines_are_76_characters_with_crlf_and_decode_back():
    import base64

    from milestones.deliver.delivery import _base64_lines

    for size in (0, 1, 56, 57, 58, 113, 114, 115, 1000):
        text = ("é" * size)[:size]
        lines = _base64_lines(text)
        assert lines == b"" if size == 0 else lines.endswith(b"\r\n")
        parts = lines.split(b"\r\n")[:-1]
        assert all(len(p) == 76 for p in parts[:-1]) and all(0 < len(p) <= 76 for p in parts)
        assert base64.b64decode(b"".join(parts)).decode("utf-8") == text
