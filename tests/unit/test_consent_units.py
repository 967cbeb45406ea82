"""Every preference change records its consent proof; an older history table gains the columns."""

from __future__ import annotations

import sqlalchemy as sa

from milestones.decide.preferences import Change, Preferences
from milestones.measure.feedback import Feedback


def test_each_source_records_its_wording_and_a_given_proof_is_kept(tmp_path):
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    store = Preferences(url)
    store.apply("C1", Change(language="fi"), "page", proof={"wording": "page-fi-abc", "client_hash": "client:12"})
    store.apply("C2", Change(unsubscribed=True), "crm_import")
    Feedback(url).ingest([{"event": "unsubscribe", "email": "c3@example.com", "customer_id": "C3",
                           "sg_event_id": "u1"}])
    got = {cid: [(h["source"], h["wording"], h["client_hash"]) for h in store.history(cid)]
           for cid in ("C1", "C2", "C3")}
    assert got == {"C1": [("page", "page-fi-abc", "client:12")], "C2": [("crm_import", "crm-import", None)],
                   "C3": [("webhook", "sendgrid-event-webhook", None)]}


def test_an_older_history_table_gains_the_proof_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE preference_history (id INTEGER PRIMARY KEY, customer_id VARCHAR(64) "
                             "NOT NULL, at DATETIME NOT NULL, source VARCHAR(16) NOT NULL, field VARCHAR(32) NOT NULL, "
                             "old TEXT, new TEXT)")
        conn.exec_driver_sql("INSERT INTO preference_history (customer_id, at, source, field, old, new) VALUES "
                             "('C0', '2026-01-01 00:00:00', 'one_click', 'unsubscribed', 'false', 'true')")
    store = Preferences(url)
    store.apply("C1", Change(unsubscribed=True), "one_click")
    assert [(h["customer_id"], h["wording"]) for h in store.history("C0") + store.history("C1")] == [
        ("C0", None), ("C1", "list-unsubscribe")]
