"""kill -9 at random points of a delivery to the fault server, then a re-run (issue 15).

Each trial forks a worker process that sends 120 emails through deliver() and the
SendGrid transport (4 connections) to the project's fault server on 127.0.0.1, which
answers some requests 429, 500 or 503, drops some connections and lets some time out. The
worker is killed with SIGKILL at a random moment; then the same emails are delivered again
to the end. Checked from the server's side and the ledger's, for every trial:

* no email accepted twice by the server (0 duplicates);
* no silent loss: every email the ledger calls accepted was accepted by the server, every
  email the server accepted is accepted or in doubt in the ledger, nothing it never
  accepted is called sent;
* the rows the kill left in doubt (``sending``) are at most ``send_concurrency``, every
  other row the kill interrupted is still ``pending`` (and is sent by the re-run);
* the re-run reports the doubtful rows as ``in_doubt`` (never ``already_sent``), and
  ``Ledger.in_doubt`` lists them.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import time
from collections import Counter

import pytest

from milestones.deliver.delivery import deliver
from milestones.deliver.ledger import ACCEPTED, PENDING, SENDING, UNKNOWN, Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport
from tests.servers.fault_server import FaultServer

pytestmark = pytest.mark.e2e

TRIALS, EMAILS, CONCURRENCY = 20, 120, 4
SETTINGS = {"from_email": "hello@milestones.example", "from_name": "Milestones", "timeout": 0.15,
            "backoff": 0.01, "max_attempts": 3, "max_wait": 0.05}

def worker(ledger_url: str, url: str, prefix: str, ready) -> None:
    """The process that is killed: forked from the test (no start-up), it delivers ``prefix``'s emails."""
    ledger, transport = Ledger(ledger_url), SendGridTransport("SG.kill-test", url, **SETTINGS)
    ready.set()
    deliver(messages(prefix), transport, ledger, concurrency=CONCURRENCY, batch_size=50)


def messages(prefix: str) -> list[dict]:
    return [{"key": f"{prefix}-{i:03d}", "customer_id": f"C{i}", "event_type": "birthday",
             "event_date": "2026-11-22", "email": f"c{i}@example.com", "subject": "Happy birthday!",
             "html": "<p>Hi</p>", "text": "Hi", "unsubscribe_url": "https://milestones.example/u",
             "template_version": "v1", "send_at": 0} for i in range(EMAILS)]


def fault_plan(prefix: str, rng: random.Random) -> dict[str, list[str]]:
    faults = [["429", "202"], ["500", "202"], ["503", "503", "202"], ["drop"], ["slow"], ["429", "429", "429"]]
    return {m["key"]: list(rng.choice(faults)) for m in messages(prefix) if rng.random() < 0.25}


def test_kill_9_during_delivery_then_rerun(tmp_path):
    rng = random.Random(15)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    ledger = Ledger(ledger_url)
    figures = []
    fork = multiprocessing.get_context("fork")  # the worker starts at once, with the test's imports
    with FaultServer(slow_seconds=0.3) as server:
        for trial in range(TRIALS):
            prefix = f"t{trial:02d}"
            server.plan.update(fault_plan(prefix, rng))
            ready = fork.Event()
            process = fork.Process(target=worker, args=(ledger_url, server.url, prefix, ready), daemon=True)
            process.start()
            assert ready.wait(30)
            time.sleep(rng.uniform(0.0, 0.3))  # somewhere in the middle of the delivery
            running = process.is_alive()
            os.kill(process.pid, signal.SIGKILL)
            process.join()

            keys = [m["key"] for m in messages(prefix)]
            after_kill = ledger.states(keys)
            in_doubt = sorted(k for k, s in after_kill.items() if s == SENDING)
            assert len(in_doubt) <= CONCURRENCY, (trial, in_doubt)
            # Every row of the interrupted run was answered (and recorded), is in doubt, or was
            # never claimed: still pending (or not registered yet), owed to the re-run.
            assert set(ledger.in_doubt(limit=1000)[SENDING]["keys"]) >= set(in_doubt)

            transport = SendGridTransport("SG.kill-test", server.url, **SETTINGS)
            again = deliver(messages(prefix), transport, ledger, concurrency=CONCURRENCY, batch_size=50)
            transport.close()
            doubtful_before = sum(1 for s in after_kill.values() if s in (SENDING, UNKNOWN))
            assert again.get("in_doubt", 0) == doubtful_before, (trial, again)
            assert again.get("already_sent", 0) == sum(1 for s in after_kill.values() if s == ACCEPTED)

            final = ledger.states(keys)
            assert len(final) == EMAILS  # every email is in the ledger
            for key in keys:
                accepted = server.accepted[key]
                assert accepted <= 1, (trial, key, "accepted twice")
                if final[key] == ACCEPTED:
                    assert accepted == 1, (trial, key, "called sent, never accepted")
                if accepted:
                    assert final[key] in (ACCEPTED, UNKNOWN, SENDING), (trial, key, final[key])
                if final[key] == PENDING:
                    assert accepted == 0
            # The doubtful rows are exactly the kill's, untouched by the re-run.
            assert [k for k in keys if final[k] == SENDING] == in_doubt
            figures.append((trial, running, len(in_doubt), sum(1 for k in in_doubt if server.accepted[k]),
                            Counter(final.values())))
    mid_delivery = [f for f in figures if f[1]]
    print("\ntrial, killed mid-delivery, rows in doubt, of which the server had accepted, final states")
    for row in figures:
        print(*row)
    assert len(mid_delivery) >= TRIALS // 2, "most kills must land during the delivery"
    assert any(f[2] for f in figures), "some kill must leave a request in flight"
