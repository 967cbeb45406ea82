"""The hostile corpus (tests/hostile/corpus.py): every case ends as it says, nothing leaks.

File cases run through the real command line in-process (exit code, one stderr
line, no cell or file content anywhere in the output); the row cases are one
extract run through the whole pipeline to the file outbox: each bad row is
quarantined with exactly its reasons, each kept row is mailed, and no email
carries a header the project does not write. Two cases run as real processes,
where the exit code path itself matters.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
import re
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from milestones.cli import main
from tests.hostile.corpus import AS_OF, FILES, NAME, ROWS, SECRET, row_values, write_rows
from tests.hostile.instructions import OUTCOME_FILES, PREFERENCE_FILES, PROFILE_FILES
from tests.owners import owners

#: Every header the outbox writes (delivery.build_mime); anything else was injected.
OWN_HEADERS = {"from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post",
               "x-milestones-event", "x-milestones-key", "content-type",
               "content-transfer-encoding", "mime-version"}


@pytest.mark.parametrize("case", FILES, ids=[c.name for c in FILES])
def test_file_case(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MILESTONES_MAX_INVALID_SHARE", "1")  # the corpus is about the file, not the share
    root = tmp_path / "in"
    root.mkdir()
    path = case.build(root)
    started = time.perf_counter()
    code = main(["validate", str(path), "--data-dir", str(tmp_path / "data"), *case.args])
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == case.exit, err
    for text in case.never:
        assert text not in out + err
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds
    if case.exit:
        assert err.count("\n") == 1 and err.startswith("milestones: error: "), err
        assert re.search(case.message, err), err
        assert not (tmp_path / "data" / "snapshots").exists() or not list((tmp_path / "data").rglob("*.parquet"))
        return
    summary = json.loads(out.strip().splitlines()[-1])
    assert (summary["quarantined"], summary["valid"]) == (case.quarantined, case.valid)
    quarantine = pq.read_table(summary["quarantine"]).to_pylist()
    assert all(row["reasons"] and row["row_number"] >= 2 for row in quarantine)


def test_columns_named_like_the_quarantine_keep_its_reasons(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MILESTONES_MAX_INVALID_SHARE", "1")
    case = next(c for c in FILES if c.name == "columns_named_like_the_quarantine")
    (tmp_path / "in").mkdir()
    assert main(["validate", str(case.build(tmp_path / "in")), "--data-dir", str(tmp_path / "d")]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    row = pq.read_table(summary["quarantine"]).to_pylist()[0]
    assert row["reasons"] == "customer_id:missing" and row["row_number"] == 4
    assert row["reasons (extract column)"] == "ok"


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The row corpus as one extract, through every stage to the outbox (no holdout, no gate share)."""
    from milestones import pipeline
    from milestones.core.config import load_settings

    root = tmp_path_factory.mktemp("hostile-rows")
    extract = write_rows(root / NAME)
    settings = load_settings(data_dir=root / "data").replace(holdout_share=0.0, max_invalid_share=1.0)
    summary = pipeline.run(extract, AS_OF, settings, at=dt.datetime.fromisoformat(f"{AS_OF}T06:00:00+00:00"))
    snapshot = root / "data" / "snapshots" / AS_OF
    quarantine = {r["customer_id"]: r for r in pq.read_table(snapshot / "quarantine.parquet").to_pylist()}
    kept = set(pq.read_table(snapshot / "snapshot.parquet", columns=["customer_id"]).column(0).to_pylist())
    owner = owners(root / "data")
    mails = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
             for p in sorted((root / "data" / "outbox").glob("*.eml"))]
    mails = [{"customer_id": owner[str(m["X-Milestones-Key"])], **{k: m[k] for k in m.keys()}, "_mail": m}
             for m in mails]
    return summary, quarantine, kept, mails


@pytest.mark.parametrize("index", range(len(ROWS)), ids=[c.name for c in ROWS])
def test_row_case(hostile_run, index):
    summary, quarantine, kept, mails = hostile_run
    case = ROWS[index]
    customer_id = row_values(index, case)["customer_id"]
    if case.reasons:
        assert customer_id not in kept
        row = quarantine[customer_id]
        assert set(row["reasons"].split("; ")) == set(case.reasons)
        assert row["row_number"] == index + 2
    else:
        assert customer_id in kept and customer_id not in quarantine
        sent = [m for m in mails if m["customer_id"] == customer_id]
        assert len(sent) == 1, f"{case.name}: a kept row with today's birthday gets its email"


def test_row_corpus_summary_and_emails(hostile_run):
    summary, quarantine, kept, mails = hostile_run
    bad = sum(1 for c in ROWS if c.reasons)
    assert (summary["rows"], summary["quarantined"], summary["valid"]) == (len(ROWS), bad, len(ROWS) - bad)
    assert summary["emails_sent"] == len(mails) == len(ROWS) - bad
    for row in mails:
        mail = row["_mail"]
        assert {k.lower() for k in mail.keys()} <= OWN_HEADERS, mail.keys()
        assert mail["To"].count("@") == 1
        assert not re.search(r"[\x00-\x1f\x7f\u200b\u202a-\u202e\u2066-\u2069]", str(mail["Subject"]))
        assert len(str(mail["Subject"])) < 200


def test_cli_refuses_a_link_to_passwd_in_a_real_process(tmp_path):
    """The exit code path as a user meets it: exit 3, one line, nothing of the target echoed."""
    (tmp_path / NAME).symlink_to("/etc/passwd")
    milestones = str(Path(sys.executable).with_name("milestones"))
    done = subprocess.run([milestones, "validate", str(tmp_path / NAME), "--data-dir", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert done.stderr == f"milestones: error: {NAME}: is a symbolic link; refused (copy the file itself, " \
                          "or pass --follow-symlinks)\n"
    assert "root:" not in done.stdout and done.stdout == ""


def test_a_locked_ledger_is_one_line_and_exit_4(tmp_path, capsys, monkeypatch):
    """Another process holds the ledger's write lock: one line after the wait, no traceback."""
    from milestones.deliver import ledger as ledger_module
    from milestones.deliver.ledger import Ledger

    monkeypatch.setattr(ledger_module, "LOCK_WAIT_SECONDS", 0.2)
    Ledger(f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    holder = sqlite3.connect(tmp_path / "ledger.sqlite", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code = main(["ledger", "resolve", "k1", "--as", "pending", "--note", "x", "--data-dir", str(tmp_path)])
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    err = capsys.readouterr().err
    assert code == 4
    assert err == ("milestones: error: the ledger database is locked by another milestones process "
                   "(a delivery still running?): run again when it has finished\n")


def test_disk_full_is_one_line_and_leaves_no_temp_file(tmp_path, capsys, monkeypatch, sample_current):
    """ENOSPC while a stage writes its file: exit 4, one line, the temporary file removed."""
    import errno
    import os

    from milestones.core import storage

    real_replace = os.replace

    def full(src, dst):
        if str(dst).endswith("events.parquet"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(src))
        return real_replace(src, dst)

    monkeypatch.setattr(storage.os, "replace", full)
    code = main(["run", "--extract", str(sample_current), "--as-of", AS_OF, "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 4 and err.count("\n") == 1
    assert "no space left on the device" in err and "Traceback" not in err
    assert not [p for p in tmp_path.rglob("*.tmp")]


@pytest.mark.parametrize("argv, message", [
    (["sample", "--customers", "-5"], "--customers: must be at least 1, not -5"),
    (["run", "--extract", "x.csv", "--as-of", AS_OF, "--days", "0"], "--days: must be at least 1, not 0"),
    (["detect", "--extract", "x.csv", "--as-of", AS_OF, "--days", "0", "--out", "e.csv"],
     "--days: must be at least 1, not 0"),
])
def test_bad_numbers_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err


def test_missing_previous_is_named(tmp_path, capsys, sample_current):
    code = main(["run", "--extract", str(sample_current), "--previous", str(tmp_path / "nosuch.csv"),
                 "--as-of", AS_OF, "--data-dir", str(tmp_path)])
    assert code == 3
    assert capsys.readouterr().err == f"milestones: error: {tmp_path / 'nosuch.csv'}: no such file\n"


def test_every_option_has_help():
    import argparse

    from milestones.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    missing = [f"{name} {action.dest}" for name, sub in subparsers.choices.items() for action in sub._actions
               if not isinstance(action, argparse._HelpAction) and not action.help]
    assert missing == []


def test_proof_names_the_fallback_locale(tmp_path, capsys):
    code = main(["proof", "--template", "birthday", "--locale", "xx", "--to", "a@example.com",
                 "--data-dir", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 0
    assert "no 'xx' translation; the proof uses the fallback locale 'en'" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["requested_locale"] == "xx" and summary["locale"] == "en"


def test_detect_csv_is_safe_from_formula_injection(tmp_path, capsys):
    rows = [ROWS[[c.name for c in ROWS].index("name_formula")]]
    extract = write_rows(tmp_path / NAME, rows)
    assert main(["detect", "--extract", str(extract), "--as-of", AS_OF, "--out", str(tmp_path / "e.csv")]) == 0
    text = (tmp_path / "e.csv").read_text(encoding="utf-8")
    assert "'=1+1" in text and "\n=1+1" not in text and ",=1+1" not in text
    assert SECRET not in text


def test_inbox_never_claims_a_link_or_a_fifo(tmp_path, caplog):
    import os

    from milestones.airflow.triggers import claim_next

    inbox, received = tmp_path / "inbox", tmp_path / "received"
    inbox.mkdir()
    (inbox / NAME).symlink_to("/etc/passwd")
    os.mkfifo(inbox / "customers_2026-11-23.csv")
    settled: dict = {}
    for _ in range(3):
        assert claim_next(inbox, received, settled) is None
    assert (inbox / NAME).is_symlink() and not received.exists()
    refusals = [r.getMessage() for r in caplog.records if "not a regular file" in r.getMessage()]
    assert len(refusals) == 2  # said once per file, not at every poll
    assert not any("root:" in r.getMessage() for r in caplog.records)


def test_object_storage_inbox_never_lists_a_link(tmp_path):
    from milestones.ingest.sources import list_extracts

    (tmp_path / NAME).symlink_to("/etc/passwd")
    (tmp_path / "customers_2026-11-23.csv").write_text("customer_id\nC1\n", encoding="utf-8")
    assert [e.name for e in list_extracts(f"file://{tmp_path}/")] == ["customers_2026-11-23.csv"]


# --- round two (issue 26): preferences, outcomes, profiles ------------------------------------------

def _run_case(case, argv, capsys):
    started = time.perf_counter()
    code = main(argv)
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert code == case.exit, err
    for text in case.never:
        assert text not in out + err
    if case.max_seconds is not None:
        assert elapsed < case.max_seconds
    if case.exit:
        assert err.count("\n") == 1 and err.startswith("milestones: error: ") and out == "", err
        assert re.search(case.message, err), err
        assert "Traceback" not in err
    return out


@pytest.mark.parametrize("case", PREFERENCE_FILES, ids=[c.name for c in PREFERENCE_FILES])
def test_preferences_import_case(case, tmp_path, capsys):
    """All or nothing: exit 3 with one line and no row applied, or exit 0 with every row applied."""
    import sqlalchemy as sa

    from milestones.core.config import load_settings
    from milestones.decide.preferences import Preferences, preferences

    root = tmp_path / "in"
    root.mkdir()
    path = case.build(root)
    out = _run_case(case, ["preferences", "import", str(path), "--data-dir", str(tmp_path / "data")], capsys)
    store = Preferences(load_settings(data_dir=tmp_path / "data").ledger_database_url)
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.count()).select_from(preferences)).scalar_one()
    assert stored == (case.valid if case.exit == 0 else 0)
    if case.exit == 0:
        assert json.loads(out.strip().splitlines()[-1])["applied"] == case.valid


@pytest.mark.parametrize("case", OUTCOME_FILES, ids=[c.name for c in OUTCOME_FILES])
def test_outcomes_case(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MILESTONES_MAX_INVALID_SHARE", "1")
    root = tmp_path / "in"
    root.mkdir()
    out = _run_case(case, ["outcomes", "load", str(case.build(root)), "--data-dir", str(tmp_path / "data")], capsys)
    if case.exit == 0:
        summary = json.loads(out.strip().splitlines()[-1])
        assert (summary["quarantined"], summary["valid"]) == (case.quarantined, case.valid)
        quarantine = pq.read_table(tmp_path / "data" / summary["quarantine"]).to_pylist()
        assert {r["reasons"] for r in quarantine} == {"customer_id:control_characters"}


@pytest.mark.parametrize("case", PROFILE_FILES, ids=[c.name for c in PROFILE_FILES])
def test_profile_case(case, tmp_path, capsys, sample_current):
    root = tmp_path / "in"
    root.mkdir()
    _run_case(case, ["validate", str(sample_current), "--profile", str(case.build(root)),
                     "--data-dir", str(tmp_path / "data")], capsys)
