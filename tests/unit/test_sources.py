"""The object-storage inbox on file:// URLs, through Airflow's ObjectStoragePath (real fsspec).

The same code serves s3:// (tests/e2e/test_object_storage_inbox.py runs it against a
moto server); here every step of a claim, and what a crash between them leaves, is
checked on the local filesystem.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import pytest

from milestones.airflow.triggers import ObjectStorageInboxTrigger
from milestones.ingest import sources

NAME = "customers_2026-11-22.csv"


@pytest.fixture
def inbox(tmp_path) -> Path:
    path = tmp_path / "bucket" / "crm"
    path.mkdir(parents=True)
    return path


def url_of(path: Path) -> str:
    return f"file://{path}/"


def poll(inbox: Path, received: Path, settled: dict, times: int = 2):
    """``times`` polls of the watcher; the last one's answer."""
    answer = None
    for _ in range(times):
        answer = sources.claim_next(url_of(inbox), "aws_default", received, settled)
        if answer is not None:
            return answer
    return answer


def test_is_url():
    assert sources.is_url("s3://bucket/customers_2026-11-22.csv")
    assert sources.is_url("file:///data/inbox/")
    assert not sources.is_url("/data/inbox/customers_2026-11-22.csv")
    assert not sources.is_url(Path("data") / NAME)


def test_listing_keeps_only_extracts_directly_under_the_prefix(inbox):
    (inbox / "customers_2026-11-23.parquet").write_bytes(b"PAR1")
    (inbox / NAME).write_text("a\n")
    (inbox / "notes.txt").write_text("not an extract")
    (inbox / "customers_2026-11-2.csv").write_text("bad date")
    (inbox / "received").mkdir()
    (inbox / "received" / "customers_2026-11-01.csv").write_text("archived already")
    listed = sources.list_extracts(url_of(inbox))
    assert [e.name for e in listed] == [NAME, "customers_2026-11-23.parquet"]
    assert listed[0].url == f"file://{inbox}/{NAME}" and listed[0].size == 2


def test_missing_prefix_is_one_clear_error(tmp_path):
    with pytest.raises(sources.SourceError, match="no such object"):
        sources.list_extracts(f"file://{tmp_path}/nowhere/")


def test_claim_waits_for_settling_then_hands_over_once_and_archives(inbox, tmp_path):
    received = tmp_path / "data" / "received"
    (inbox / NAME).write_text("customer_id\nC1\n")
    settled: dict = {}
    assert sources.claim_next(url_of(inbox), None, received, settled) is None  # first sight
    path, source = sources.claim_next(url_of(inbox), None, received, settled)
    assert path == received / NAME and path.read_text() == "customer_id\nC1\n"
    assert source == f"file://{inbox}/{NAME}"
    # The object left the listed prefix for <prefix>/received/; nothing else is left over.
    assert sorted(p.name for p in inbox.iterdir()) == ["received"]
    assert (inbox / "received" / NAME).read_text() == "customer_id\nC1\n"
    assert sorted(p.name for p in received.iterdir()) == [".claims", NAME]
    (marker,) = (received / ".claims").iterdir()
    record = json.loads(marker.read_text())
    assert record["state"] == "archived" and record["path"] == str(path)
    assert record["archived_to"] == f"file://{inbox}/received/{NAME}"
    assert poll(inbox, received, settled, times=3) is None


def test_a_growing_object_is_not_claimed(inbox, tmp_path):
    received = tmp_path / "received"
    f = inbox / NAME
    f.write_text("a")
    settled: dict = {}
    sources.claim_next(url_of(inbox), None, received, settled)
    f.write_text("ab")  # still being uploaded
    assert sources.claim_next(url_of(inbox), None, received, settled) is None
    assert poll(inbox, received, settled, times=1)[0].read_text() == "ab"


def test_racing_claimers_hand_each_object_over_once(inbox, tmp_path):
    received = tmp_path / "received"
    (inbox / NAME).write_text("x" * 100_000)
    (extract,) = sources.list_extracts(url_of(inbox))
    barrier = threading.Barrier(8)
    results: list = []

    def claimer():
        barrier.wait()
        results.append(sources.claim(extract, None, received))

    threads = [threading.Thread(target=claimer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert won == [received / NAME] and len(results) == 8
    assert (received / NAME).stat().st_size == 100_000


def test_a_new_upload_under_a_claimed_name_is_a_new_delivery(inbox, tmp_path):
    received = tmp_path / "received"
    (inbox / NAME).write_text("first")
    first, _ = poll(inbox, received, {})
    (inbox / NAME).write_text("second, corrected")
    os.utime(inbox / NAME, (1_700_000_000, 1_700_000_000))
    second, _ = poll(inbox, received, {})
    # Never overwritten; the name keeps its date (the ingest reads the snapshot date from it).
    assert first.read_text() == "first" and second.read_text() == "second, corrected"
    assert second.name == NAME and second.parent.parent == received
    archived = sorted(p.relative_to(inbox / "received") for p in (inbox / "received").rglob("*.csv"))
    assert len(archived) == 2 and all(p.name == NAME for p in archived)


def test_a_changed_object_releases_the_claim(inbox, tmp_path):
    received = tmp_path / "received"
    (inbox / NAME).write_text("v1")
    (listed,) = sources.list_extracts(url_of(inbox))
    (inbox / NAME).write_text("version 2")  # rewritten between listing and claim
    assert sources.claim(listed, None, received) is None
    assert not any((received / ".claims").iterdir()) and not list(received.glob(".*.part"))
    assert (inbox / NAME).read_text() == "version 2"  # still in the inbox, claimed later
    assert poll(inbox, received, {})[0].read_text() == "version 2"


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(proc.stdout)


def _crash_after_claiming(extract, received: Path, owner: dict) -> Path:
    """What a claimer that died while copying leaves behind: its marker and part file."""
    claims = sources.Claims(received)
    assert claims.create(extract.key, 0, {"state": "claimed", "url": extract.url, "owner": owner})
    claims.part(extract.key, 0).write_bytes(b"half a cop")
    return claims.marker(extract.key, 0)


def test_a_claim_whose_process_died_is_taken_over(inbox, tmp_path):
    received = tmp_path / "received"
    (inbox / NAME).write_text("whole file")
    (extract,) = sources.list_extracts(url_of(inbox))
    _crash_after_claiming(extract, received, {"host": socket.gethostname(), "pid": _dead_pid()})
    path = sources.claim(extract, None, received)
    assert path == received / NAME and path.read_text() == "whole file"
    assert not list(received.glob(".*.part"))
    states = {p.name.split(".")[1]: json.loads(p.read_text())["state"] for p in (received / ".claims").iterdir()}
    assert states == {"0": "claimed", "1": "archived"}


def test_a_claim_of_another_host_is_left_alone(inbox, tmp_path, caplog):
    received = tmp_path / "received"
    (inbox / NAME).write_text("whole file")
    (extract,) = sources.list_extracts(url_of(inbox))
    marker = _crash_after_claiming(extract, received, {"host": "other-triggerer", "pid": 1})
    assert sources.claim(extract, None, received) is None  # that host may only be slow
    assert (inbox / NAME).is_file() and not (received / NAME).exists()  # not lost: still in the inbox
    os.utime(marker, (1_700_000_000, 1_700_000_000))
    with caplog.at_level("WARNING", logger="milestones.ingest.sources"):
        assert sources.claim(extract, None, received) is None
    assert f"delete {marker}" in caplog.text
    marker.unlink()  # what the operator does once that host is known to be gone
    assert sources.claim(extract, None, received).read_text() == "whole file"


def test_a_published_extract_whose_archive_move_crashed_is_only_archived(inbox, tmp_path):
    received = tmp_path / "received"
    (inbox / NAME).write_text("handed over")
    (extract,) = sources.list_extracts(url_of(inbox))
    claims = sources.Claims(received)
    claims.create(extract.key, 0, {"state": "published", "path": str(received / NAME)})
    assert sources.claim(extract, None, received) is None  # never announced twice
    assert not (inbox / NAME).exists() and (inbox / "received" / NAME).read_text() == "handed over"
    assert json.loads(claims.marker(extract.key, 0).read_text())["state"] == "archived"


def test_the_copy_is_streamed_in_chunks(inbox, tmp_path):
    received = tmp_path / "received"
    size = 5 * sources.CHUNK + 123
    with open(inbox / NAME, "wb") as fh:
        for i in range(6):
            fh.write(bytes([65 + i]) * min(sources.CHUNK, size - i * sources.CHUNK))
    digest = hashlib.sha256((inbox / NAME).read_bytes()).hexdigest()
    (extract,) = sources.list_extracts(url_of(inbox))
    tracemalloc.start()
    try:
        path = sources.claim(extract, None, received)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert peak < 3 * sources.CHUNK < size


def test_fetch_reads_file_urls_in_place(inbox, tmp_path):
    (inbox / NAME).write_text("a")
    assert sources.fetch(f"file://{inbox}/{NAME}", tmp_path / "data") == inbox / NAME
    with pytest.raises(sources.SourceError, match="no such file"):
        sources.fetch(f"file://{inbox}/customers_2026-11-23.csv", tmp_path / "data")


def test_a_relative_file_url_is_refused_clearly(tmp_path):
    with pytest.raises(sources.SourceError, match="absolute path: file:///data/inbox/"):
        sources.list_extracts("file://data/inbox/")


def test_the_extract_param_may_be_a_url(inbox, tmp_path):
    from milestones.airflow.tasks import locate_extract

    (inbox / NAME).write_text("a")
    assert locate_extract({"params": {"extract": f"file://{inbox}/{NAME}"}}) == str(inbox / NAME)
    assert locate_extract({"params": {"extract": str(inbox / NAME)}}) == str(inbox / NAME)


def test_trigger_serializes_and_yields_the_claimed_path(inbox, tmp_path):
    (inbox / NAME).write_text("customer_id\n")
    received = tmp_path / "received"
    trigger = ObjectStorageInboxTrigger(url=url_of(inbox), conn_id="aws_default", received=str(received),
                                        poke_interval=0.01)
    classpath, kwargs = trigger.serialize()
    assert classpath == "milestones.airflow.triggers.ObjectStorageInboxTrigger"
    assert ObjectStorageInboxTrigger(**kwargs).serialize() == (classpath, kwargs)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    payload = asyncio.run(asyncio.wait_for(first_event(), timeout=10))
    assert payload == {"path": str(received / NAME), "source": f"file://{inbox}/{NAME}"}


def test_trigger_keeps_polling_through_listing_errors(tmp_path, capsys):
    inbox = tmp_path / "later"
    trigger = ObjectStorageInboxTrigger(url=url_of(inbox), conn_id=None, received=str(tmp_path / "r"),
                                        poke_interval=0.01)

    async def first_event():
        async for event in trigger.run():
            return event.payload

    async def scenario():
        task = asyncio.create_task(first_event())
        await asyncio.sleep(0.3)
        assert not task.done()  # the missing prefix is logged, not fatal
        inbox.mkdir()
        (inbox / NAME).write_text("late")
        return await asyncio.wait_for(task, timeout=10)

    payload = asyncio.run(scenario())
    assert Path(payload["path"]).read_text() == "late"
    logged = capsys.readouterr().out  # Airflow's structlog writes trigger logs to stdout
    assert logged.count(f"cannot list the inbox {url_of(inbox)}: no such object") == 1
