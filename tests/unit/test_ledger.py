"""The ledger's exactly-once mechanics and the operator commands."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import threading
from pathlib import Path

from milestones.deliver.ledger import Ledger


def row(key: str) -> dict:
    return {"key": key, "customer_id": "C1", "event_type": "birthday", "event_date": "2026-11-22",
            "template_version": "v1", "transport": "outbox"}


def test_register_is_idempotent_and_claim_has_one_winner(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    assert ledger.register([row("a"), row("b")]) == 2
    assert ledger.register([row("a"), row("c")]) == 1
    wins = []
    threads = [threading.Thread(target=lambda: wins.append(ledger.claim("a"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wins.count(True) == 1
    assert ledger.get("a")["state"] == "sending" and ledger.get("a")["attempts"] == 1


def test_crash_between_claim_and_answer_becomes_unknown_never_resent(tmp_path):
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    ledger.register([row("a")])
    assert ledger.claim("a")
    assert ledger.mark_stale_unknown(older_than=dt.timedelta(0)) == 1
    assert ledger.get("a")["state"] == "unknown"
    assert not ledger.claim("a")  # unknown is never picked up again by itself


def test_operator_resolves_unknown(tmp_path):
    data = tmp_path / "data"
    ledger = Ledger(f"sqlite:///{data / 'ledger.sqlite'}")
    ledger.register([row("k1")])
    ledger.claim("k1")
    ledger.finish("k1", "unknown", error="timeout after the request was sent")
    milestones = str(Path(sys.executable).with_name("milestones"))

    def cli(*args):
        return subprocess.run([milestones, "ledger", *args, "--data-dir", str(data)],
                              capture_output=True, text=True, timeout=60)

    ledger.register([row("k2")])
    ledger.claim("k2")  # claimed, no answer recorded: in doubt too, and reported as such
    status = json.loads(cli("status").stdout.strip().splitlines()[-1])
    assert status["states"] == {"unknown": 1, "sending": 1} and status["unknown"] == ["k1"]
    assert status["sending"] == ["k2"] and status["in_doubt_total"] == 2
    assert status["unknown_total"] == 1 and status["sending_total"] == 1
    bad = cli("resolve", "k1", "--as", "pending")
    assert bad.returncode == 2 and "--note" in bad.stderr
    ok = cli("resolve", "k1", "--as", "pending", "--note", "not in SendGrid activity feed")
    assert ok.returncode == 0, ok.stderr
    assert ledger.get("k1")["state"] == "pending" and "activity feed" in ledger.get("k1")["last_error"]
    assert cli("resolve", "k1", "--as", "accepted", "--note", "x").returncode == 2  # no longer unknown
