"""Issue 26, item 1: the SendGrid key never reaches a log, the ledger or the terminal.

A server or proxy that echoes the ``Authorization`` header in its error body (the fault
server's ``401-echo``/``502-echo``) must leave ``Bearer ***`` in ``last_error`` and in the
``-v`` log, whatever the key's shape; so must any error text the project prints.
"""

from __future__ import annotations

import logging

import pytest

from milestones.core import logsafe
from milestones.deliver.delivery import deliver
from milestones.deliver.ledger import Ledger
from milestones.deliver.sendgrid_transport import SendGridTransport
from tests.servers.fault_server import FaultServer

pytestmark = pytest.mark.timeout(30)

#: The shape of a real key: SG. + 22 + . + 43 characters (made up).
KEY = "SG.Zq3vT0pX8kLmN2bR4sW6yA.f9Hj2Kl4Mn6Pq8Rs0Tu2Vw4Xy6Za8Bc0De2Fg4Hi6J"
#: Another key of that shape, never configured here.
SHAPED = "SG.Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op.Qr8St9Uv0Wx1Yz2Ab3Cd4Ef5Gh6Ij7Kl8Mn9Op0Qr1"
#: A key of no known shape (a proxy's token): masked because it is the configured one.
ODD_KEY = "proxy-token-7f3a9c1e5b2d4f6a8c0e"


def _message(key: str) -> dict:
    return {"key": key, "customer_id": f"C-{key}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"{key}@example.com", "subject": "Hi", "text": "t", "html": "<p>h</p>",
            "unsubscribe_url": "https://x.example/u", "send_at": 0}


@pytest.mark.parametrize("api_key", [KEY, ODD_KEY])
@pytest.mark.parametrize("answer, state", [("401-echo", "failed"), ("502-echo", "pending")])
def test_an_echoed_authorization_header_is_masked_in_the_ledger_and_the_log(tmp_path, caplog, api_key,
                                                                               answer, state):
    caplog.set_level(logging.DEBUG)
    ledger = Ledger(f"sqlite:///{tmp_path / 'l.sqlite'}")
    with FaultServer(plan={"k1": [answer] * 3}) as server:
        transport = SendGridTransport(api_key, server.url, from_email="a@example.com", from_name="A",
                                      timeout=2, max_attempts=3, backoff=0.001)
        try:
            counts = deliver([_message("k1")], transport, ledger)
        finally:
            transport.close()
        assert server.auth_headers == {f"Bearer {api_key}"}  # the server did get (and echo) the key
    assert counts == {"failed" if state == "failed" else "retry_later": 1}
    error = ledger.get("k1")["last_error"]
    assert error.startswith(f"{'gave up after 3 attempts: ' if state == 'pending' else ''}HTTP {answer[:3]}: ")
    assert "Bearer ***" in error
    logged = caplog.text
    for text in (error, logged):
        assert api_key not in text and api_key[:12] not in text and api_key[-12:] not in text


@pytest.mark.parametrize("text, masked", [
    ("Authorization: Bearer SG.abc.def-ghi_jkl", "Authorization: Bearer ***"),
    ('{"Authorization": "Bearer abcdefgh12345678"}', '{"Authorization": "Bearer ***"}'),
    ("authorization: bearer%20abcdefgh1234", "authorization: bearer%20***"),
    ("Basic dXNlcjpwYXNzd29yZA==", "Basic ***"),
    # Keys never configured in this process (the registry is not what masks them).
    (f"key {SHAPED} leaked", "key SG.*** leaked"),
    (f"cut {SHAPED[:40]}", "cut SG.***"),
    ("nothing secret here: HTTP 400", "nothing secret here: HTTP 400"),
])
def test_shapes_of_credentials_are_masked(text, masked):
    assert logsafe.mask_secrets(text) == masked


def test_a_registered_secret_is_masked_whole_or_cut(caplog):
    secret = "opaque-credential-0123456789"
    logsafe.register_secret(secret)
    assert logsafe.mask_secrets(f"a {secret} b") == "a *** b"
    assert secret[:12] not in logsafe.mask_secrets(f"cut: {secret[:20]}")
    logsafe.install()
    caplog.set_level(logging.INFO)
    logging.getLogger("milestones.test").info("echo %s", secret)
    try:
        raise RuntimeError(f"server said {secret}")
    except RuntimeError:
        logging.getLogger("milestones.test").exception("failed")
    formatted = "\n".join(logging.Formatter().format(r) for r in caplog.records)
    assert secret not in formatted and secret not in caplog.text
    assert "echo ***" in formatted and "RuntimeError: server said ***" in formatted


def test_safe_error_never_carries_sql_parameters():
    import sqlalchemy as sa

    engine = sa.create_engine("sqlite://")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (email TEXT PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO t VALUES ('secret.person@example.com')"))
        with pytest.raises(sa.exc.IntegrityError) as failed:
            conn.execute(sa.text("INSERT INTO t VALUES (:e)"), [{"e": "secret.person@example.com"}])
    assert "secret.person" in str(failed.value)  # SQLAlchemy's own text lists them...
    line = logsafe.safe_error(failed.value)
    assert line.startswith("IntegrityError: (sqlite3.IntegrityError) UNIQUE constraint failed")
    assert "secret.person" not in line and "INSERT" not in line  # ...the project's never does


def test_the_cli_masks_a_credential_in_its_error_line(capsys, monkeypatch):
    from milestones import cli

    def boom(args):
        raise ValueError(f"proxy answered: Authorization: Bearer {KEY}")

    monkeypatch.setattr(cli, "build_parser", lambda: _Parser(boom))
    assert cli.main(["x"]) == 2
    err = capsys.readouterr().err
    assert KEY not in err and err == "milestones: error: proxy answered: Authorization: Bearer ***\n"


class _Parser:
    def __init__(self, func):
        self.func = func

    def parse_args(self, argv):
        import argparse

        return argparse.Namespace(func=self.func, verbose=False)
