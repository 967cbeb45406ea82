"""Every request the project sends is accepted by SendGrid's own Mail Send spec (Prism, 127.0.0.1)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from milestones.deliver.ledger import Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport

pytestmark = pytest.mark.needs("prism")  # tests/tools.py: fails naming the set-up command, runs last

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "contracts" / "sendgrid" / "tsg_mail_v3.json"
PRISM = ROOT / "node_modules" / ".bin" / "prism"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prism():
    if not PRISM.exists():
        pytest.fail("Prism is missing: run `make test` (scripts/test-deps.sh installs it with npm ci)")
    port = _free_port()
    proc = subprocess.Popen([str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), str(SPEC)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.3)
    else:
        os.killpg(proc.pid, signal.SIGTERM)
        pytest.fail("Prism did not start")
    yield url
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(10)


def _violations(url: str, payload: dict) -> list:
    """Ask Prism directly why a payload is refused (the sl-violations header)."""
    req = urllib.request.Request(f"{url}/v3/mail/send", data=json.dumps(payload).encode(), method="POST",
                                 headers={"Authorization": "Bearer SG.x", "Content-Type": "application/json"})
    try:
        urllib.request.urlopen(req, timeout=10)
        return []
    except urllib.error.HTTPError as err:
        return json.loads(err.headers.get("sl-violations") or "[]")


@pytest.fixture(scope="module")
def rendered_messages(tmp_path_factory):
    """The sample day's real rendered emails (every event type, four languages)."""
    from milestones import pipeline
    from milestones.core.config import load_settings
    from tests.conftest import SAMPLES

    settings = load_settings(data_dir=tmp_path_factory.mktemp("prism") / "data", dry_run=True)
    pipeline.run(SAMPLES / "customers_2026-11-22.csv", "2026-11-22", settings,
                 previous=SAMPLES / "customers_2026-11-21.csv")
    messages = pipeline.storage.read_parquet(settings.data_dir / "messages" / "2026-11-22" / "messages.parquet")
    return messages.to_dict("records"), settings


@pytest.mark.parametrize("options", [{}, {"sandbox": True, "asm_group_id": 4242}], ids=["plain", "sandbox+asm"])
def test_every_email_is_accepted_by_the_spec(prism, rendered_messages, tmp_path, options):
    from milestones.deliver.delivery import deliver

    messages, settings = rendered_messages
    assert {m["event_type"] for m in messages} >= {"birthday", "marriage", "retirement"}
    transport = SendGridTransport("SG.prism-test-key", prism, from_email=settings.from_email,
                                  from_name=settings.from_name, timeout=10, **options)
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    counts = deliver(messages, transport, ledger, concurrency=4)
    refused = {k: ledger.get(k)["last_error"] for k, s in ledger.states().items() if s != "accepted"}
    details = {k: _violations(prism, transport.payload(next(m for m in messages if m["key"] == k)))
               for k in list(refused)[:3]}
    assert not refused, f"Prism refused {len(refused)}: {details}"
    assert counts == {"sent": len(messages)}


def test_prism_does_catch_a_bad_payload(prism):
    """The stand-in is not a yes-man: a payload without a sender is refused, with the reason."""
    violations = _violations(prism, {"personalizations": [{"to": [{"email": "a@example.com"}]}],
                                     "subject": "x", "content": [{"type": "text/plain", "value": "x"}]})
    assert any("from" in json.dumps(v) for v in violations)


def test_prism_is_the_pinned_version():
    """The Prism that ran above is the one package.json pins (npm ci), run by this machine's Node."""
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]["@stoplight/prism-cli"]
    out = subprocess.run([str(PRISM), "--version"], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == pinned
