"""A worker that died mid-send: only its `sending` rows older than 15 minutes become `unknown`."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from milestones.deliver.ledger import Ledger, emails


def _row(key: str) -> dict:
    return {"key": key, "customer_id": key, "event_type": "birthday", "event_date": "2026-11-22",
            "template_version": "v1", "transport": "outbox"}


def test_only_sending_rows_older_than_15_minutes_become_unknown(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    keys = ["sending_16", "sending_14", "pending_16", "accepted_16", "failed_16"]
    ledger.register([_row(k) for k in keys])
    for k in keys:
        if not k.startswith("pending"):
            assert ledger.claim(k)
    ledger.finish("accepted_16", "accepted")
    ledger.finish("failed_16", "failed", error="HTTP 400")
    now = dt.datetime.now(dt.UTC)
    with ledger.engine.begin() as conn:
        for k in keys:
            minutes = int(k.rsplit("_", 1)[1])
            conn.execute(emails.update().where(emails.c.key == k)
                         .values(updated_at=now - dt.timedelta(minutes=minutes)))
    assert ledger.mark_stale_unknown() == 1
    states = ledger.states()
    assert states == {"sending_16": "unknown", "sending_14": "sending", "pending_16": "pending",
                      "accepted_16": "accepted", "failed_16": "failed"}
    row = ledger.get("sending_16")
    assert row["last_error"] == "worker stopped between claim and answer"
    with ledger.engine.connect() as conn:
        updated = conn.execute(sa.select(emails.c.updated_at).where(emails.c.key == "sending_16")).scalar_one()
    assert updated.replace(tzinfo=dt.UTC) > now - dt.timedelta(minutes=1)  # the change is timestamped
    assert ledger.mark_stale_unknown(older_than=dt.timedelta(minutes=13)) == 1  # the window is a setting
    assert ledger.get("sending_14")["state"] == "unknown"
