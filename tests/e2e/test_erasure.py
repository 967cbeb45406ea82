"""Erasure end to end: a pipeline that ran several days (webhook events, outcomes, preference
changes, a quarantined row, Data Docs, exports), then one customer erased. A scan of every
file (Parquet column by column, JSON, HTML, CSV, .eml) and every table row finds none of their
addresses, names or ids; other customers' decisions are unchanged; a later run with the
customer still in the extract sends them nothing. On SQLite, PostgreSQL and object storage."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from milestones.cli import main
from milestones.core.config import load_settings
from tests.conftest import SAMPLES
from tests.e2e.test_object_storage_inbox import BUCKET, s3  # noqa: F401 (fixture)
from tests.pg import clean_database_url, postgres_server

TARGET, EMAIL, FIRST, LAST = "FI-ERASE-7", "Ilmatar.Erase@Example.fi", "Ilmatar", "Väinämöinen"
TOKENS = (TARGET, EMAIL.lower(), FIRST.lower(), LAST.lower(), json.dumps(LAST)[1:-1].lower())
TABLES = ("preferences, preference_history, preference_erasure_permits, preference_erasures, emails, "
          "webhook_events, webhook_rejected_events, suppressions, suppression_log, erased_subjects, erasure_log, "
          "erasure_journal")


@pytest.fixture(scope="module")
def pg_server():
    with postgres_server() as url:
        yield url


def _extract(tmp_path, day: str, source: str, dob: str):
    """The sample extract of ``source`` as ``customers_<day>.csv`` with the target's row added."""
    rows = list(csv.reader((SAMPLES / source).read_text(encoding="utf-8").splitlines()))
    header = rows[0]
    target = dict.fromkeys(header, "")
    target.update(customer_id=TARGET, first_name=FIRST, last_name=LAST, email=EMAIL, customer_since="2019-11-23",
                  marketing_opt_in="true", locale="fi", timezone="Europe/Helsinki", date_of_birth=dob,
                  marital_status="single", children_count="0", deceased="false", updated_at=f"{day}T06:00:00Z")
    path = tmp_path / "crm" / f"customers_{day}.csv"
    path.parent.mkdir(exist_ok=True)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerows([*rows, [target[c] for c in header]])
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return path


def _cli(capsys, *args) -> dict:
    assert main(list(args)) == 0, capsys.readouterr().err[-2000:]
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def _found_in(text: str) -> set[str]:
    low = text.lower()
    return {t for t in TOKENS if t.lower() in low}


def scan_files(fs_items) -> dict[str, set[str]]:
    """{file: tokens} for every file; Parquet read column by column."""
    hits = {}
    for name, data in fs_items:
        if name.endswith(".parquet"):
            table = pq.read_table(io.BytesIO(data))
            found = set()
            for column in table.columns:
                found |= _found_in("\n".join(str(v) for v in column.to_pylist()))
        else:
            found = _found_in(data.decode("utf-8", "ignore"))
        if found:
            hits[name] = found
    return hits


def scan_tables(url: str) -> dict[str, set[str]]:
    engine = sa.create_engine(url)
    hits = {}
    with engine.connect() as conn:
        for name in sa.inspect(engine).get_table_names():
            rows = conn.execute(sa.text(f'SELECT * FROM "{name}"')).all()
            found = _found_in("\n".join(str(v) for row in rows for v in row))
            if found:
                hits[name] = found
    engine.dispose()
    return hits


def _local_items(root):
    return [(p.relative_to(root).as_posix(), p.read_bytes()) for p in sorted(root.rglob("*")) if p.is_file()]


def _pipeline(tmp_path, capsys, settings):
    """Two days of runs, webhook events, a rejected payload, preference changes, outcomes, an export."""
    from milestones.decide.preferences import Change, Preferences
    from milestones.deliver.ledger import emails
    from milestones.measure.feedback import Feedback

    first = _extract(tmp_path, "2026-11-21", "customers_2026-11-21.csv", "1990-02-30")  # quarantined
    second = _extract(tmp_path, "2026-11-22", "customers_2026-11-22.csv", "1990-11-22")  # birthday
    _cli(capsys, "run", "--extract", str(first), "--as-of", "2026-11-21", "--at", "2026-11-21T06:00:00Z")
    summary = _cli(capsys, "run", "--extract", str(second), "--as-of", "2026-11-22", "--at", "2026-11-22T06:00:00Z")
    assert summary["emails_sent"] > 0
    received = settings.data_dir / "received"
    received.mkdir(parents=True, exist_ok=True)
    shutil.copy(second, received / second.name)
    url = settings.ledger_database_url
    feedback = Feedback(url)
    with feedback.engine.connect() as conn:
        key = conn.execute(sa.select(emails.c.key).where(emails.c.customer_id == TARGET)).scalar_one()
        other = conn.execute(sa.select(emails.c.key, emails.c.customer_id)
                             .where(emails.c.customer_id != TARGET).limit(1)).one()
    feedback.ingest([
        {"event": "delivered", "email": EMAIL, "key": key, "customer_id": TARGET, "sg_event_id": "e1",
         "timestamp": 1795000000},
        {"event": "open", "email": EMAIL, "key": key, "customer_id": TARGET, "sg_event_id": "e2",
         "timestamp": 1795000100, "ip": "192.0.2.7", "useragent": f"Mail for {FIRST}"},
        {"event": "deferred", "email": EMAIL, "key": key, "customer_id": TARGET, "sg_event_id": "e3",
         "timestamp": 1795000000, "response": f"450 mailbox of {EMAIL} busy"},
        {"event": "spamreport", "email": EMAIL, "key": key, "customer_id": TARGET, "sg_event_id": "e4",
         "timestamp": 1795000200},
        {"event": "open", "email": EMAIL, "timestamp": "yesterday"},  # rejected, payload kept
        {"event": "delivered", "email": f"customer{other.customer_id[1:].lstrip('0') or '0'}@example.com",
         "key": other.key, "customer_id": other.customer_id, "sg_event_id": "o1", "timestamp": 1795000000},
    ])
    store = Preferences(url)
    store.apply(TARGET, Change(language="fi", paused_until=__import__("datetime").date(2027, 1, 1)), "page",
                email=EMAIL, proof={"wording": "page-fi-test", "client_hash": "client:0123"})
    store.apply("C000003", Change(language="et"), "page", email="customer3@example.com")
    outcomes = tmp_path / "crm" / "outcomes_2026-11-23.csv"
    outcomes.write_text(f"customer_id,outcome,occurred_at,value\n{TARGET},purchase,2026-11-23T10:00:00Z,99\n"
                        f"C000001,purchase,2026-11-23T10:00:00Z,5\n", encoding="utf-8")
    _cli(capsys, "outcomes", "load", str(outcomes))
    _cli(capsys, "preferences", "export", "--out", str(settings.data_dir / "exports" / "preferences.csv"))
    return other.customer_id


def _whys(capsys, ids):
    return {cid: _cli(capsys, "why", cid) for cid in ids}


def _erase_and_check(tmp_path, capsys, settings, items, tables):
    others = ["C000001", "C000002", "C000003", _pipeline(tmp_path, capsys, settings)]
    before = scan_files(items())
    assert any(name.startswith("snapshots/") for name in before) and any(".eml" in n for n in before), before
    assert {"emails", "webhook_events", "webhook_rejected_events", "preference_history",
            "suppressions"} <= set(scan_tables(settings.ledger_database_url)), tables
    why_before = _whys(capsys, others)
    # Access first: everything held about them, in one file.
    held = _cli(capsys, "subject-export", "--customer", TARGET, "--out", str(tmp_path / "subject.json"))
    assert held["customer_id"] == TARGET and held["preferences"]
    assert held["extract_rows"] == 1 and held["quarantined_rows"] == 1 and held["emails"] == 1, held
    assert held["events"] >= 1 and held["decisions"] >= 1 and held["emails_rendered"] == 1, held
    assert held["preference_history"] == 2 and held["webhook_events"] == 4 and held["outcomes"] == 1, held
    assert held["suppressions"] == 1, held
    exported = json.loads((tmp_path / "subject.json").read_text(encoding="utf-8"))
    assert exported["addresses"] == [EMAIL.lower()] and exported["emails"][0]["state"] == "accepted"
    assert exported["extract_rows"]["2026-11-22"][0]["last_name"] == LAST
    assert {e["event"] for e in exported["webhook_events"]} == {"delivered", "open", "deferred", "spamreport"}
    assert exported["preference_history"][0]["wording"] == "page-fi-test"
    requests = tmp_path / "requests.csv"
    requests.write_text(f"customer_id,note\n{TARGET},asked by letter\n", encoding="utf-8")
    done = _cli(capsys, "erase", "--file", str(requests), "--by", "dpo@bank")
    assert done["customers"] == 1 and done["changed"]
    assert not _found_in(json.dumps(done))

    assert scan_files(items()) == {}
    assert scan_tables(settings.ledger_database_url) == {}
    assert _whys(capsys, others) == why_before
    from milestones.privacy import registry

    logged = registry.history(registry.engine_for(settings.ledger_database_url))
    assert [(e["operator"], e["customers"], e["source"]) for e in logged] == [("dpo@bank", 1, "file")]

    # The CRM still sends them: detected, decided "erased", nothing sent, nothing in the ledger.
    later = _extract(tmp_path, "2026-11-23", "customers_2026-11-22.csv", "1990-11-22")
    summary = _cli(capsys, "run", "--extract", str(later), "--as-of", "2026-11-23", "--at", "2026-11-23T06:00:00Z")
    assert summary["skipped"].get("erased") == 1, summary
    why = _cli(capsys, "why", TARGET)
    assert [(d["date"], d["reason"], d["email_state"]) for d in why["decisions"]] == [
        ("2026-11-23", "erased", None)]
    assert why["choices"] == [] and why["webhook_events"] == []
    assert not any(EMAIL.lower() in data.decode("utf-8", "ignore").lower()
                   for name, data in items() if name.endswith(".eml"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    return clean_database_url(request, tmp_path, TABLES)


def test_erasure_leaves_nothing_of_the_customer(tmp_path, capsys, monkeypatch, db_url):
    data = tmp_path / "data"
    for name, value in {"DATA_DIR": str(data), "LEDGER_URL": db_url, "HOLDOUT_SHARE": "0"}.items():
        monkeypatch.setenv(f"MILESTONES_{name}", value)
    _erase_and_check(tmp_path, capsys, load_settings(), lambda: _local_items(data), TABLES)


def test_erasure_in_object_storage(tmp_path, capsys, monkeypatch, s3):  # noqa: F811 (fixture)
    data, prefix = tmp_path / "data", f"{BUCKET}/erasure"
    for name, value in {"DATA_DIR": str(data), "DATA_URL": f"s3://{prefix}/", "HOLDOUT_SHARE": "0"}.items():
        monkeypatch.setenv(f"MILESTONES_{name}", value)

    def items():
        s3.invalidate_cache()
        remote = [(key.removeprefix(prefix + "/"), s3.cat(key)) for key in sorted(s3.find(prefix))]
        return remote + [(f"local:{n}", b) for n, b in _local_items(data)]

    _erase_and_check(tmp_path, capsys, load_settings(), items, TABLES)
