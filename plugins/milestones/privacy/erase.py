"""Erasure (GDPR art. 17): remove a customer's personal data from every place the pipeline keeps it.

``milestones erase --customer ID ... | --file requests.csv --by NAME`` and the
``privacy_erasure`` DAG (an ``erasure_requests_*.csv`` dropped into the inbox) call
:func:`erase`. In order:

1. The customers' addresses are found (snapshots, quarantine, messages, preferences,
   webhook events): what names them is their ids and those addresses (:class:`Subjects`).
2. One transaction records keyed hashes of every id and address (``erased_subjects``: from
   now on the policy skips them, reason ``erased``, even if the CRM still sends them) and
   the erasure in progress (``erasure_journal``, with the identifiers).
3. One transaction removes them from the database (:mod:`.scrub_db`).
4. Every file under the data directory and ``data_url`` (and the inbox) is scrubbed
   (:mod:`.scrub`): each rewritten whole, or deleted.
5. One transaction logs the erasure (time, operator, customers, what changed; never who)
   and deletes the journal row.

Killed half-way, the journal row is still there: the next ``milestones erase`` (any, also
``--resume`` alone) completes it first. Every step is idempotent.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from milestones.core import pseudonym, storage
from milestones.core.config import Settings
from milestones.privacy import registry, scrub_db
from milestones.privacy.scrub import Subjects, files_under, scrub_file

log = logging.getLogger(__name__)
REQUEST_PATTERN = "erasure_requests_*.csv"


def read_requests(path: Path | str) -> list[str]:
    """Customer ids of a request file: a CSV with a ``customer_id`` column (other columns ignored).

    The file goes through the project's one file gate (:func:`milestones.ingest.gate.read_rows`):
    a regular UTF-8 file, well-formed CSV, every id free of control characters, formulas and
    blanks. A breach raises :class:`~milestones.ingest.errors.ExtractError` naming lines and
    columns (exit 3), and no customer of the file is erased. A URL (an object-storage inbox) is
    copied into a private temporary directory first, under its own name.
    """
    import tempfile

    from milestones.ingest import gate

    name = Path(str(path)).name
    if isinstance(path, Path) or "://" not in str(path):
        rows = gate.read_rows(Path(path))
    else:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / name
            local.write_bytes(storage.locate(path).read_bytes())
            rows = gate.read_rows(local)
    return [values["customer_id"].strip() for _, values in rows.rows]


def places(settings: Settings) -> list[Any]:
    """Where files with personal data may be: stage files, data_dir (outbox, received, exports), the inbox."""
    found = [storage.root(settings)]
    local = Path(settings.data_dir)
    if settings.data_url:
        found.append(local)
    inbox = Path(settings.inbox)
    if not inbox.resolve().is_relative_to(local.resolve()):
        found.append(inbox)
    if settings.inbox_url:
        found.append(storage.locate(settings.inbox_url, settings.inbox_conn_id))
    return found


def _addresses_in_files(settings: Settings, ids: set[str]) -> set[str]:
    """Addresses of the customers in the stage files (every day)."""
    import pyarrow.parquet as pq

    found: set[str] = set()
    root = storage.root(settings)
    paths = [p for stage, name in (("snapshots", "snapshot.parquet"), ("snapshots", "quarantine.parquet"),
                                   ("messages", "messages.parquet"))
             for p in storage.day_files(root, stage, name)]
    for path in paths:
        with storage.locate(path).open("rb") as fh:
            data = io.BytesIO(fh.read())
        names = set(pq.read_schema(data).names)
        if not {"customer_id", "email"} <= names:
            continue
        table = pq.read_table(data, columns=["customer_id", "email"])
        for cid, email in zip(table["customer_id"].to_pylist(), table["email"].to_pylist(), strict=True):
            if cid is not None and str(cid) in ids and email:
                found.add(str(email).strip().lower())
    return found


def subjects_for(settings: Settings, engine: sa.Engine, ids: list[str]) -> Subjects:
    wanted = {str(i).strip() for i in ids if str(i).strip()}
    addresses = scrub_db.gather(engine, wanted) | _addresses_in_files(settings, wanted)
    return Subjects(wanted, addresses)


def _with_pseudonyms(subjects: Subjects, key: bytes) -> Subjects:
    subjects.pseudonyms = {cid: pseudonym.pseudonym(key, cid) for cid in subjects.ids}
    return subjects


def _begin(engine: sa.Engine, subjects: Subjects, key: bytes, *, operator: str, source: str,
           now: dt.datetime) -> str:
    hashes = {pseudonym.keyed_hash(key, "customer_id", c) for c in subjects.ids}
    hashes |= {pseudonym.keyed_hash(key, "email", e) for e in subjects.emails}
    job = str(uuid.uuid4())
    with engine.begin() as conn:
        registry.remember(conn, hashes, now)
        conn.execute(registry.erasure_journal.insert(), [{
            "id": job, "started_at": now, "operator": operator, "source": source,
            "subjects": json.dumps({"ids": sorted(subjects.ids), "emails": sorted(subjects.emails)})}])
    return job


def _complete(settings: Settings, engine: sa.Engine, job: dict[str, Any], key: bytes) -> dict[str, Any]:
    saved = json.loads(job["subjects"])
    subjects = _with_pseudonyms(Subjects(set(saved["ids"]), set(saved["emails"])), key)
    now = dt.datetime.now(dt.UTC)
    changed: Counter = Counter()
    keys = scrub_db.email_keys(engine, subjects)
    with engine.begin() as conn:
        changed.update({f"db:{k}": v for k, v in scrub_db.scrub(conn, subjects, now).items() if v})
    outbox = Path(settings.data_dir) / "outbox"
    for email_key in sorted(keys):
        eml = outbox / f"{email_key}.eml"
        if eml.is_file():
            eml.unlink()
            changed["files:outbox:deleted"] += 1
    for where in places(settings):
        for name, path in files_under(where):
            done = scrub_file(name, path, subjects)
            if done:
                changed[f"files:{name.split('/', 1)[0] if '/' in name else '.'}:{done}"] += 1
    record = registry.log(engine, operator=job["operator"], customers=len(subjects.ids), source=job["source"],
                          changed=dict(sorted(changed.items())), now=now)
    with engine.begin() as conn:
        conn.execute(registry.erasure_journal.delete().where(registry.erasure_journal.c.id == job["id"]))
    scrub_db.compact(engine)
    log.info("erasure by %s: %d customers, %d places changed", job["operator"], len(subjects.ids), len(changed))
    return {"at": record["at"].isoformat(timespec="seconds"), "operator": job["operator"],
            "customers": len(subjects.ids), "changed": dict(sorted(changed.items()))}


def _engine(settings: Settings) -> sa.Engine:
    from milestones.measure.feedback import Feedback

    Feedback(settings.ledger_database_url, soft_failure_limit=0, soft_failure_days=1)  # every table exists
    return registry.engine_for(settings.ledger_database_url)


def resume(settings: Settings) -> list[dict[str, Any]]:
    """Complete every erasure a crash left half-done."""
    engine = _engine(settings)
    key = pseudonym.load_key(settings.data_dir)
    with engine.connect() as conn:
        pending = [dict(r) for r in conn.execute(sa.select(registry.erasure_journal)
                                                 .order_by(registry.erasure_journal.c.started_at)).mappings()]
    return [_complete(settings, engine, job, key) for job in pending]


def erase(settings: Settings, customer_ids: list[str], *, operator: str, source: str = "cli") -> dict[str, Any]:
    """Erase ``customer_ids`` everywhere; a summary without personal data (counts per place)."""
    if not operator.strip():
        raise ValueError("an erasure needs an operator (--by NAME)")
    resumed = resume(settings)
    engine = _engine(settings)
    key = pseudonym.load_key(settings.data_dir)
    subjects = subjects_for(settings, engine, customer_ids)
    out: dict[str, Any] = {"resumed": len(resumed)}
    if not subjects.ids:
        return {**out, "customers": 0, "changed": {}}
    now = dt.datetime.now(dt.UTC)
    job = _begin(engine, subjects, key, operator=operator.strip(), source=source, now=now)
    with engine.connect() as conn:
        row = dict(conn.execute(sa.select(registry.erasure_journal)
                                .where(registry.erasure_journal.c.id == job)).mappings().one())
    return {**out, **_complete(settings, engine, row, key)}
