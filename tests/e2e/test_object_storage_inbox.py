"""The object-storage inbox against a real S3 stand-in: a moto server on 127.0.0.1.

The Airflow connection ``aws_default`` comes from ``AIRFLOW_CONN_AWS_DEFAULT`` (JSON,
dummy keys, ``endpoint_url`` pointing at the server); boto's instance-metadata lookup
is switched off, so nothing leaves the machine.  The last test runs ``airflow standalone``
whose triggerer watches the bucket.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

from milestones.airflow.triggers import ObjectStorageInboxTrigger
from milestones.ingest import sources
from tests.e2e.test_airflow_standalone import SAMPLES, _wait, standalone  # noqa: F401 (fixture)

MILESTONES = str(Path(sys.executable).with_name("milestones"))
BUCKET = "crm-exports"
NAME = "customers_2026-11-22.csv"
ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@pytest.fixture(scope="module")
def s3():
    """A moto S3 server on a free port of 127.0.0.1; the connection env var points at it."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in [*ENV, "AIRFLOW_CONN_AWS_DEFAULT"]}
    os.environ.update(ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto keeps its buckets in the process, not the server: start from an empty store
    # whatever S3 test of this session ran before.
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))
    endpoint = f"http://{host}:{port}"
    os.environ["AIRFLOW_CONN_AWS_DEFAULT"] = json.dumps({
        "conn_type": "aws", "login": "testing", "password": "testing",
        "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    })
    fs = sources.storage_path(f"s3://{BUCKET}/", "aws_default").fs
    fs.mkdir(BUCKET)
    try:
        yield fs
    finally:
        server.stop()
        from airflow.sdk.io import store

        store._STORE_CACHE.clear()  # the next server would have another port
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def prefix(s3, request) -> str:
    """A fresh prefix in the bucket per test."""
    return f"{BUCKET}/{request.node.name[:40]}"


def first_event(trigger, timeout: float):
    async def run():
        async for event in trigger.run():
            return event.payload

    return asyncio.run(asyncio.wait_for(run(), timeout=timeout))


def test_trigger_yields_the_claimed_local_path_exactly_once(s3, prefix, tmp_path, sample_current):
    s3.put(str(sample_current), f"{prefix}/inbox/{NAME}")
    s3.pipe(f"{prefix}/inbox/readme.txt", b"not an extract")
    received = tmp_path / "data" / "received"
    trigger = ObjectStorageInboxTrigger(url=f"s3://{prefix}/inbox/", conn_id="aws_default",
                                        received=str(received), poke_interval=0.05)
    payload = first_event(trigger, timeout=30)
    assert payload == {"path": str(received / NAME), "source": f"s3://{prefix}/inbox/{NAME}"}
    assert Path(payload["path"]).read_bytes() == sample_current.read_bytes()
    # Moved out of the watched prefix; the other object is left alone.
    s3.invalidate_cache()
    assert sorted(s3.ls(f"{prefix}/inbox/")) == [f"{prefix}/inbox/readme.txt", f"{prefix}/inbox/received"]
    assert s3.cat(f"{prefix}/inbox/received/{NAME}") == sample_current.read_bytes()
    # A second watcher (the triggerer re-creates it after each event) finds nothing more.
    again = ObjectStorageInboxTrigger(**trigger.serialize()[1])
    with pytest.raises(TimeoutError):
        first_event(again, timeout=1.0)
    assert sorted(p.name for p in received.iterdir()) == [".claims", NAME]


def test_an_empty_prefix_is_an_empty_inbox_and_a_missing_bucket_an_error(s3, prefix):
    assert sources.list_extracts(f"s3://{prefix}/not-yet-used/", "aws_default") == []
    with pytest.raises(sources.SourceError, match=r"^s3://no-such-bucket/inbox/: no such bucket$"):
        sources.list_extracts("s3://no-such-bucket/inbox/", "aws_default")


RACER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from milestones.ingest import sources
    url, received, start = sys.argv[1], Path(sys.argv[2]), float(sys.argv[3])
    while time.time() < start:
        time.sleep(0.005)
    settled, claimed, idle = {}, [], 0
    while idle < 6:
        got = sources.claim_next(url, "aws_default", received, settled)
        if got:
            claimed.append(str(got[0]))
        idle = 0 if got or any(True for _ in sources.list_extracts(url, "aws_default")) else idle + 1
        time.sleep(0.02)
    print(json.dumps(claimed))
""")


def test_two_triggerers_racing_hand_every_extract_over_once(s3, prefix, tmp_path):
    days = [f"2026-11-{d:02d}" for d in range(10, 22)]
    for day in days:
        s3.pipe(f"{prefix}/inbox/customers_{day}.csv", f"customer_id\nC-{day}\n".encode())
    received = tmp_path / "shared-data" / "received"
    start = time.time() + 3  # both start polling at the same moment
    racers = [subprocess.Popen([sys.executable, "-c", RACER, f"s3://{prefix}/inbox/", str(received), str(start)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy())
              for _ in range(2)]
    outs = [r.communicate(timeout=120) for r in racers]
    assert all(r.returncode == 0 for r in racers), [o[1][-2000:] for o in outs]
    claimed = [path for out, _ in outs for path in json.loads(out.strip().splitlines()[-1])]
    assert sorted(claimed) == sorted(str(received / f"customers_{d}.csv") for d in days)  # each once
    for day in days:
        assert (received / f"customers_{day}.csv").read_text() == f"customer_id\nC-{day}\n"
    s3.invalidate_cache()
    assert s3.ls(f"{prefix}/inbox/") == [f"{prefix}/inbox/received"]
    assert len(s3.ls(f"{prefix}/inbox/received/")) == len(days)
    assert not list(received.glob(".*.part"))


def test_a_large_extract_is_streamed(s3, prefix, tmp_path):
    size = 3 * sources.CHUNK + 4567
    # A multipart upload (5 MiB parts), as big exports arrive: its ETag is not an MD5.
    with s3.open(f"{prefix}/inbox/{NAME}", "wb", block_size=5 * 2**20) as fh:
        for i in range(4):
            fh.write(bytes([48 + i]) * min(sources.CHUNK, size - i * sources.CHUNK))
    digest = hashlib.sha256(s3.cat(f"{prefix}/inbox/{NAME}")).hexdigest()
    (extract,) = sources.list_extracts(f"s3://{prefix}/inbox/", "aws_default")
    assert extract.size == size and re.search(r"^[0-9a-f]{32}-[0-9]+@", extract.version)
    path = sources.claim(extract, "aws_default", tmp_path / "received")
    assert path.stat().st_size == size and hashlib.sha256(path.read_bytes()).hexdigest() == digest


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MILESTONES, *args], capture_output=True, text=True, timeout=300,
                          env=os.environ.copy())


def test_cli_validates_an_s3_url(s3, prefix, tmp_path, sample_current):
    s3.put(str(sample_current), f"{prefix}/{NAME}")
    done = _cli("validate", f"s3://{prefix}/{NAME}", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 322 and summary["quarantined"] == 12 and summary["snapshot_date"] == "2026-11-22"
    local = Path(summary["extract"])
    assert local.name == NAME and local.is_relative_to(tmp_path / "data" / "received")
    assert local.read_bytes() == sample_current.read_bytes()
    s3.invalidate_cache()
    assert s3.exists(f"{prefix}/{NAME}")  # fetching reads, it does not take the object away


def test_cli_runs_an_s3_extract(s3, prefix, tmp_path, sample_current, sample_previous):
    s3.put(str(sample_current), f"{prefix}/{NAME}")
    s3.put(str(sample_previous), f"{prefix}/{sample_previous.name}")
    done = _cli("run", "--extract", f"s3://{prefix}/{NAME}", "--previous", f"s3://{prefix}/{sample_previous.name}",
                "--as-of", "2026-11-22", "--at", "2026-11-22T06:00:00Z", "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 322 and summary["emails_sent"] > 0 and "marriage" in summary["events"]


def test_the_extract_param_may_be_an_s3_url(s3, prefix, tmp_path, monkeypatch):
    from milestones.airflow.tasks import locate_extract

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    s3.pipe(f"{prefix}/{NAME}", b"customer_id\nC1\n")
    local = Path(locate_extract({"params": {"extract": f"s3://{prefix}/{NAME}"}}))
    assert local.name == NAME and local.read_bytes() == b"customer_id\nC1\n"
    assert local.is_relative_to(tmp_path / "data" / "received")
    # The same version again is not downloaded again.
    assert locate_extract({"params": {"extract": f"s3://{prefix}/{NAME}"}}) == str(local)


@pytest.mark.parametrize("where, message", [
    (f"s3://{BUCKET}/nowhere/{NAME}", "no such object"),
    (f"s3://no-such-bucket/{NAME}", "no such bucket"),
])
def test_cli_missing_object_or_bucket_is_one_line(s3, tmp_path, where, message):
    done = _cli("validate", where, "--data-dir", str(tmp_path / "data"))
    assert done.returncode == 3  # missing, as a missing local file: the gate's code, not usage
    assert done.stderr.strip() == f"milestones: error: {where}: {message}", done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_airflow_runs_the_chain_from_an_s3_inbox(s3, prefix, request, monkeypatch):
    """``airflow standalone`` whose triggerer watches s3://: upload two extracts, get the day rendered."""
    monkeypatch.setenv("MILESTONES_INBOX_URL", f"s3://{prefix}/inbox/")
    monkeypatch.setenv("MILESTONES_INBOX_CONN_ID", "aws_default")
    airflow = request.getfixturevalue("standalone")  # started after the env above is set
    data, log = airflow["data"], airflow["log"]
    # The object waits in the bucket until the triggerer has started the watcher.
    s3.put(str(SAMPLES / "customers_2026-11-21.csv"), f"{prefix}/inbox/customers_2026-11-21.csv")
    _wait(lambda: (data / "snapshots" / "2026-11-21" / "snapshot.parquet").is_file(), 600,
          "the first extract to be claimed from s3 and validated", log)
    s3.put(str(SAMPLES / "customers_2026-11-22.csv"), f"{prefix}/inbox/customers_2026-11-22.csv")
    _wait(lambda: (data / "runs" / "2026-11-22.json").is_file(), 600,
          "detection and rendering of 2026-11-22 (asset-triggered)", log)
    assert sorted(p.name for p in (data / "received").iterdir()) == [
        ".claims", "customers_2026-11-21.csv", "customers_2026-11-22.csv"]
    s3.invalidate_cache()
    assert s3.ls(f"{prefix}/inbox/") == [f"{prefix}/inbox/received"]
    assert len(s3.ls(f"{prefix}/inbox/received/")) == 2
