"""docker-compose.yaml's distributed set-up, run for real without Docker.

``scripts/distributed.py`` starts PostgreSQL (with the compose file's init script), Redis,
Airflow's api-server, scheduler, dag-processor, triggerer and two Celery workers, each
with the environment compose gives that service (read from docker-compose.yaml and
.env.example). The bundled extract is dropped into the inbox; the emails go to a stand-in
SendGrid on 127.0.0.1. Slow (Airflow's start-up dominates), so one run checks everything.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import signal
import time
from pathlib import Path

from tests.e2e.test_object_storage_inbox import BUCKET, s3  # noqa: F401 (fixture)
from tests.e2e.test_object_storage_inbox import ENV as S3_ENV
from tests.servers.fault_server import FaultServer

ROOT = Path(__file__).resolve().parents[2]
#: Extract dropped to every email accepted, on this (shared, 2-core) machine.
LATENCY_GOAL_S = float(os.environ.get("MILESTONES_LATENCY_GOAL_S", "60"))
#: 1-minute load average per core above which the machine counts as overloaded.
OVERLOADED = 4.0


def _load_script():
    spec = importlib.util.spec_from_file_location("distributed", ROOT / "scripts" / "distributed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


distributed = _load_script()


def _rendered_keys(cluster) -> set[str] | None:
    import pandas as pd

    root = cluster.data_dir("airflow-worker-1")
    files = list((root / "messages").glob("*/messages.parquet"))
    return set().union(*(set(pd.read_parquet(f, columns=["key"])["key"]) for f in files)) if files else None


def _rendered_keys_in(fs, prefix: str) -> set[str] | None:
    import io

    import pandas as pd

    fs.invalidate_cache()
    files = fs.glob(f"{prefix}/messages/*/messages.parquet")
    return set().union(*(set(pd.read_parquet(io.BytesIO(fs.cat(f)), columns=["key"])["key"])
                         for f in files)) if files else None


def check_day(cluster, server, figures, rendered: set[str]) -> None:
    """What the distributed run must show, whatever the storage."""
    print(f"\ndistributed run: {figures}")
    # Every email accepted exactly once by the stand-in, and the ledger agrees.
    assert rendered and set(server.accepted) == rendered
    assert set(server.received.values()) == {1} and set(server.accepted.values()) == {1}
    ledger = dict(cluster.sql("select key, state from emails", database="milestones"))
    assert ledger == {key: "accepted" for key in rendered}
    # Every task succeeded and ran on a Celery worker; both workers took tasks.
    tis = cluster.task_instances()
    # A cron run of outreach_delivery with nothing due maps no deliver task, and the ingest's
    # branch skips load_outcomes for a customer extract: skipped, never run.
    skipped = {(d, t, m) for d, _, t, m, state, _ in tis if state == "skipped"}
    assert skipped <= {("outreach_delivery", "deliver", -1), ("crm_extract_ingest", "load_outcomes", -1)}, tis
    assert tis and {state for *_, state, _ in tis} <= {"success", "skipped"}, tis
    ran = cluster.tasks_by_worker()
    assert {(d, r, t, m) for d, r, t, m, state, _ in tis if state == "success"} == set().union(*ran.values())
    assert all(ran.values()), {name: len(tasks) for name, tasks in ran.items()}
    dags = {d for d, *_ in tis}
    assert dags == set(distributed.DAG_IDS), dags
    # The goal is judged on this machine as it usually is; when other jobs load it far beyond
    # its cores every process is several times slower, and only the hand-over is checked
    # (delivery on the rendered-messages asset, not on its 15-minute schedule).
    load = os.getloadavg()[0] / (os.cpu_count() or 1)
    bound = LATENCY_GOAL_S if load <= OVERLOADED else 3 * LATENCY_GOAL_S
    print(f"extract dropped to every email accepted: first {figures['first_email_s']} s, last "
          f"{figures['last_email_s']} s (goal {LATENCY_GOAL_S:.0f} s; load {load:.1f} per core; bound {bound:.0f} s)")
    assert figures["last_email_s"] < bound, figures


def test_compose_services_deliver_every_email_once(tmp_path):
    with FaultServer() as server:
        cluster = distributed.Cluster(tmp_path, server.url, workers=2,
                                      dotenv_extra={"MILESTONES_DELIVERY_SHARD_SIZE": "20"})
        try:
            with cluster:
                figures = distributed.run_day(cluster, server,
                                              lambda: len(_rendered_keys(cluster) or ()) or None)
                check_day(cluster, server, figures, _rendered_keys(cluster))
        finally:
            assert cluster.leftovers() == []


def test_two_workers_sharing_no_directory(tmp_path, s3):  # noqa: F811 (fixture)
    """data_url and inbox_url on a moto S3 server: every process has a data directory of its
    own, so the extract, the stage files and the run records only meet in the bucket."""
    data, inbox = f"{BUCKET}/distributed-data", f"{BUCKET}/distributed-inbox"
    aws = {k: os.environ[k] for k in (*S3_ENV, "AIRFLOW_CONN_AWS_DEFAULT")}
    with FaultServer() as server:
        cluster = distributed.Cluster(tmp_path, server.url, workers=2, shared_data=False, dotenv_extra={
            "MILESTONES_DELIVERY_SHARD_SIZE": "20", "MILESTONES_DATA_URL": f"s3://{data}/",
            "MILESTONES_INBOX_URL": f"s3://{inbox}/", **aws})

        def drop(extract: Path) -> float:
            s3.put(str(extract), f"{inbox}/{extract.name}")
            return time.time()

        try:
            with cluster:
                figures = distributed.run_day(cluster, server, lambda: len(_rendered_keys_in(s3, data) or ()) or None,
                                              drop=drop)
                check_day(cluster, server, figures, _rendered_keys_in(s3, data))
                # Nothing of the stages under any process's own directory: all in the bucket.
                for own in cluster.data_dirs.values():
                    assert not [p for p in own.rglob("*.parquet")], own
                s3.invalidate_cache()
                day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)  # distributed.recent_sample
                assert s3.exists(f"{data}/runs/{day}.json")
                assert s3.exists(f"{data}/snapshots/{day}/snapshot.parquet")
        finally:
            assert cluster.leftovers() == []


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"  # a zombie has ended (its parent just has not reaped it)


def test_cluster_stop_ends_every_process_group(tmp_path):
    """Teardown kills each service's whole process group (task processes too), even a
    process that ignores SIGTERM."""
    cluster = distributed.Cluster.__new__(distributed.Cluster)
    cluster.workdir, cluster.procs, cluster.logs, cluster.grace = tmp_path, {}, {}, 1.0
    cluster._stack = contextlib.ExitStack()
    child = tmp_path / "child.pid"
    cluster._spawn("stubborn", ["sh", "-c", f"trap '' TERM; sleep 300 & echo $! > {child}; wait"],
                   os.environ.copy())
    deadline = time.monotonic() + 10
    while not (child.exists() and child.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(child.read_text())
    assert _running(grandchild)
    cluster.stop()
    assert cluster.procs["stubborn"].returncode == -signal.SIGKILL
    assert not _running(grandchild)
    assert cluster.leftovers() == []
