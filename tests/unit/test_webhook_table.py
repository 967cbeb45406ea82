"""The SendGrid Event Webhook as a table: every event type SendGrid documents, with the field
variations its reference shows, each alone in a fresh store, and what it must leave behind:
the event stored, the address suppressed (and why), the customer's own unsubscribe recorded, an
``unknown`` email settled, the ledger's delivered/opened/clicked times.

Event shapes follow SendGrid's Event Webhook reference (delivery events: processed, deferred,
delivered, bounce with ``type`` bounce, dropped; engagement events: open, click, spamreport,
unsubscribe, group_unsubscribe, group_resubscribe; account events: account_status_change), with
the custom args this project sends (``key``, ``customer_id``, ``event_type``). The expected
outcomes are the module's documented rules, written out per row, not computed.
"""

from __future__ import annotations

import pytest

from milestones.decide.preferences import Preferences
from milestones.deliver.ledger import Ledger
from milestones.measure.feedback import Feedback

pytestmark = pytest.mark.unit

ADDRESS = "Aino.Virtanen@Example.FI"
STORED_AS = "aino.virtanen@example.fi"  # addresses are compared in lower case
GROUP = 42

BASE = {"email": ADDRESS, "timestamp": 1790000000, "smtp-id": "<14c5d75ce93.dfd.64b469@ismtpd-555>",
        "sg_event_id": "ZmFrZS1ldmVudC1pZA==", "sg_message_id": "14c5d75ce93.dfd.64b469.filter0001.16648.5515E0B88.0",
        "category": "milestones", "key": "k1", "customer_id": "C1", "event_type": "birthday"}

# id: (event fields over BASE, asm group configured, suppressed reason or None, customer unsubscribed,
#      unknown email settled, ledger column set)
TABLE = {
    "processed": ({"event": "processed"}, GROUP, None, False, True, None),
    "deferred": ({"event": "deferred", "response": "400 try again later", "attempt": "5"}, GROUP,
                 None, False, False, None),
    "delivered": ({"event": "delivered", "response": "250 OK", "ip": "168.1.1.1", "tls": 1}, GROUP,
                  None, False, True, "delivered_at"),
    "bounce (hard)": ({"event": "bounce", "type": "bounce", "status": "5.1.1", "reason": "550 5.1.1 no such user",
                       "bounce_classification": "Invalid Address"}, GROUP, "bounce", False, False, None),
    # A block is temporary (the receiving server refused this time): one alone suppresses nothing;
    # repeated soft failures do (tests/unit/test_address_lifecycle.py).
    "bounce (blocked)": ({"event": "bounce", "type": "blocked", "status": "4.0.0",
                          "reason": "550 temporarily blocked", "bounce_classification": "Reputation"}, GROUP,
                         None, False, False, None),
    "dropped": ({"event": "dropped", "reason": "Bounced Address", "status": "5.0.0"}, GROUP,
                "dropped", False, False, None),
    "open": ({"event": "open", "useragent": "Mozilla/5.0", "ip": "255.255.255.255", "sg_machine_open": False},
             GROUP, None, False, True, "opened_at"),
    "click": ({"event": "click", "url": "https://bank.example/offer", "url_offset": {"index": 0, "type": "html"},
               "useragent": "Mozilla/5.0", "ip": "255.255.255.255"}, GROUP, None, False, True, "clicked_at"),
    "spamreport": ({"event": "spamreport"}, GROUP, "spamreport", False, False, None),
    "unsubscribe": ({"event": "unsubscribe"}, GROUP, "unsubscribe", True, False, None),
    "group_unsubscribe, our group": ({"event": "group_unsubscribe", "asm_group_id": GROUP}, GROUP,
                                     "group_unsubscribe", True, False, None),
    "group_unsubscribe, our group as text": ({"event": "group_unsubscribe", "asm_group_id": str(GROUP)}, GROUP,
                                             "group_unsubscribe", True, False, None),
    # Another group's list: the address stops receiving mail from that group, not a choice about ours.
    "group_unsubscribe, another group": ({"event": "group_unsubscribe", "asm_group_id": 7}, GROUP,
                                         "group_unsubscribe", False, False, None),
    # No group configured: SendGrid still reports it; the address is suppressed, no choice recorded.
    "group_unsubscribe, no group configured": ({"event": "group_unsubscribe", "asm_group_id": 7}, 0,
                                               "group_unsubscribe", False, False, None),
    "group_unsubscribe without asm_group_id": ({"event": "group_unsubscribe"}, GROUP,
                                               "group_unsubscribe", True, False, None),
    "group_resubscribe": ({"event": "group_resubscribe", "asm_group_id": GROUP}, GROUP, None, False, False, None),
    # Field variations of the reference: category as a list, no sg_event_id, a timestamp as text.
    "delivered, categories as a list": ({"event": "delivered", "category": ["milestones", "birthday"]}, GROUP,
                                        None, False, True, "delivered_at"),
    "spamreport without sg_event_id": ({"event": "spamreport", "sg_event_id": None}, GROUP,
                                       "spamreport", False, False, None),
    "unsubscribe with a text timestamp": ({"event": "unsubscribe", "timestamp": "1790000000"}, GROUP,
                                          "unsubscribe", True, False, None),
    # Without our custom args (an email sent by something else on the account): nothing to settle or
    # record for a customer, yet the address is suppressed.
    "unsubscribe without custom args": ({"event": "unsubscribe", "key": None, "customer_id": None,
                                         "event_type": None}, GROUP, "unsubscribe", False, False, None),
    "delivered without custom args": ({"event": "delivered", "key": None, "customer_id": None,
                                       "event_type": None}, GROUP, None, False, False, None),
    # Account events carry no address and no email.
    "account_status_change": ({"event": "account_status_change", "type": "compliance_suspend", "email": None,
                               "key": None, "customer_id": None, "event_type": None, "smtp-id": None,
                               "sg_message_id": None}, GROUP, None, False, False, None),
}


def _event(fields: dict) -> dict:
    event = {**BASE, **fields}
    return {k: v for k, v in event.items() if v is not None}


@pytest.fixture
def world(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    ledger = Ledger(url)
    ledger.register([{"key": "k1", "customer_id": "C1", "event_type": "birthday", "event_date": "2026-09-21",
                      "template_version": "v1", "transport": "sendgrid"}])
    ledger.claim("k1")
    ledger.finish("k1", "unknown", error="timeout after the request was sent")
    return url, ledger


@pytest.mark.parametrize("case", list(TABLE))
def test_each_event_alone(world, case):
    url, ledger = world
    fields, group, reason, unsubscribed, settled, column = TABLE[case]
    feedback = Feedback(url, asm_group_id=group)
    counts = feedback.ingest([_event(fields)])
    assert counts["stored"] == 1 and not counts["rejected"], counts
    (stored,) = feedback.events_for()
    assert stored["event"] == fields["event"]
    assert stored["email"] == (None if "email" in fields and fields["email"] is None else STORED_AS)
    assert feedback.suppressed() == ({STORED_AS: reason} if reason else {})
    assert counts["suppressed"] == (1 if reason else 0)
    assert Preferences(url).get("C1").unsubscribed is unsubscribed
    assert counts["unsubscribed"] == (1 if unsubscribed else 0)
    row = ledger.get("k1")
    assert row["state"] == ("accepted" if settled else "unknown")
    assert counts["settled"] == (1 if settled else 0)
    for name in ("delivered_at", "opened_at", "clicked_at"):
        assert (row[name] is not None) is (name == column), name


def test_every_documented_event_type_is_in_the_table():
    documented = {"processed", "deferred", "delivered", "bounce", "dropped", "open", "click", "spamreport",
                  "unsubscribe", "group_unsubscribe", "group_resubscribe", "account_status_change"}
    assert {fields["event"] for fields, *_ in TABLE.values()} == documented


def test_an_address_already_suppressed_keeps_its_first_reason(world):
    url, _ = world
    feedback = Feedback(url, asm_group_id=GROUP)
    feedback.ingest([_event({"event": "spamreport", "sg_event_id": "a"})])
    counts = feedback.ingest([_event({"event": "unsubscribe", "sg_event_id": "b", "email": ADDRESS.upper()})])
    assert counts["stored"] == 1 and not counts["suppressed"]
    assert feedback.suppressed() == {STORED_AS: "spamreport"}


def test_a_retried_delivery_changes_nothing_the_second_time(world):
    url, ledger = world
    feedback = Feedback(url, asm_group_id=GROUP)
    batch = [_event({"event": "open", "sg_event_id": "o1", "timestamp": 1790000100}),
             _event({"event": "open", "sg_event_id": None, "timestamp": 1790000200})]
    assert feedback.ingest(batch)["stored"] == 2
    first = ledger.get("k1")["opened_at"]
    assert feedback.ingest(batch) == {"duplicate": 2}
    assert ledger.get("k1")["opened_at"] == first


def test_the_first_open_is_kept_when_later_ones_arrive(world):
    url, ledger = world
    feedback = Feedback(url, asm_group_id=GROUP)
    feedback.ingest([_event({"event": "open", "sg_event_id": "o1", "timestamp": 1790000100})])
    feedback.ingest([_event({"event": "open", "sg_event_id": "o2", "timestamp": 1790009999})])
    # date -u -d @1790000100: Mon Sep 21 14:15:00 UTC 2026 (the later open: 16:59:59)
    assert str(ledger.get("k1")["opened_at"])[:19].replace("T", " ") == "2026-09-21 14:15:00"


def test_an_accepted_email_is_never_moved_back_or_sideways(world):
    url, ledger = world
    Feedback(url).ingest([_event({"event": "delivered", "sg_event_id": "d1"})])
    assert ledger.get("k1")["state"] == "accepted"
    counts = Feedback(url).ingest([_event({"event": "processed", "sg_event_id": "p1"})])
    assert not counts["settled"] and ledger.get("k1")["state"] == "accepted"
