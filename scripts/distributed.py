"""The services of docker-compose.yaml as local processes, without Docker.

PostgreSQL and Redis from Debian's packages (scripts/test-deps.sh), then Airflow's
api-server, scheduler, dag-processor, triggerer and N Celery workers, each started with
exactly the environment the compose file gives that service: its ``environment`` (the
shared anchor included) over the ``env_file`` (here ``.env.example`` with generated
secrets), ``${VAR}`` interpolated as compose does.  What cannot be the same on one host
is moved, and only that:

* compose host names (``postgres``, ``redis``, ``airflow-apiserver``) become 127.0.0.1
  with free ports; ``/opt/milestones`` is this checkout, ``/data`` a temporary directory
  (or one per process with ``--data-url``: then nothing is shared but object storage);
* each process gets its own ``AIRFLOW_HOME`` (a container's ``/opt/airflow``) and, as on
  any shared host, its own ports: the API port, the worker and trigger log servers
  (8793/8794) and the scheduler's health check (8974);
* the SendGrid connection's host is a stand-in on 127.0.0.1.

``python scripts/distributed.py`` starts everything, drops the bundled extract into the
inbox, waits for every email to reach a stand-in SendGrid, prints the figures as JSON and
stops every process (also on Ctrl-C or failure).  ``tests/e2e/test_distributed.py`` runs
the same :class:`Cluster` and checks the outcome.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
_VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
if __name__ == "__main__" and Path(sys.prefix).resolve() != (ROOT / ".venv").resolve() and _VENV_PYTHON.exists():
    # `python scripts/distributed.py` with the system's python: run again in the project's venv
    # (Airflow, Celery and the project are installed there, not in the system's python).
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), *sys.argv])

import yaml  # noqa: E402 - after the re-exec into the project's environment

sys.path.insert(0, str(ROOT))
SAMPLE = ROOT / "plugins" / "milestones" / "samples" / "customers_2026-11-22.csv"
DAG_IDS = ("crm_extract_ingest", "milestone_detection", "outreach_delivery")
#: The compose services started as processes, and the airflow command each runs.
SERVICES = {
    "airflow-apiserver": ["api-server"],
    "airflow-scheduler": ["scheduler"],
    "airflow-dag-processor": ["dag-processor"],
    "airflow-triggerer": ["triggerer"],
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=VALUE`` lines as compose reads an env file (comments and blank lines skipped)."""
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


_VAR = re.compile(r"\$\{(\w+)(?::?-([^}]*))?\}|\$\$")


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}`` and ``$$``."""
    def sub(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1)) or (match.group(2) or "")
    return _VAR.sub(sub, str(value))


def service_env(compose: dict[str, Any], service: str, dotenv: dict[str, str]) -> dict[str, str]:
    """The environment compose gives ``service``: env_file, then its ``environment``."""
    spec = compose["services"][service]
    env = dict(dotenv) if spec.get("env_file") else {}
    env.update({k: interpolate(v, dotenv) for k, v in (spec.get("environment") or {}).items()})
    return env


def image_env() -> dict[str, str]:
    """The ``ENV`` of the Dockerfile (``KEY=VALUE`` pairs, backslash continuations)."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(pair.split("=", 1) for pair in line[4:].split()))
    return env


def generated_dotenv(stand_in: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """``.env.example`` with what a user fills in: secrets generated, SendGrid a stand-in."""
    from cryptography.fernet import Fernet

    env = read_dotenv(ROOT / ".env.example")
    env["AIRFLOW__CORE__FERNET_KEY"] = Fernet.generate_key().decode()
    env["AIRFLOW__API_AUTH__JWT_SECRET"] = os.urandom(24).hex()
    env["MILESTONES_LINK_SECRET"] = os.urandom(24).hex()  # one for every service
    env["MILESTONES_PUBLIC_URL"] = "https://news.acme.fi"  # links are not followed here
    # The run detects each customer's events on their local date when it is triggered (now),
    # and recent_sample's events fall on yesterday (UTC): a two-day catch-up window holds
    # yesterday for every zone whose local date is yesterday or today, whatever the hour
    # (the Americas at least, always; with one day, a run after ~08:00 UTC found nothing).
    # A caught-up email goes at the send hour of the customer's today: at midnight, every
    # email rendered is due at once, whatever the hour of the run.
    env["MILESTONES_CATCH_UP_DAYS"] = "2"
    env["MILESTONES_SEND_HOUR"] = "0"
    conn = json.loads(env["AIRFLOW_CONN_SENDGRID_DEFAULT"])
    conn.update(host=stand_in, password="SG.distributed-test-key")
    env["AIRFLOW_CONN_SENDGRID_DEFAULT"] = json.dumps(conn)
    env.update(extra or {})
    return env


class Cluster:
    """Everything of docker-compose.yaml on this host; a context manager that stops it all."""

    def __init__(self, workdir: Path, stand_in: str, *, workers: int = 2, concurrency: int = 2,
                 dotenv_extra: dict[str, str] | None = None, shared_data: bool = True,
                 process_env: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.compose = yaml.safe_load((ROOT / "docker-compose.yaml").read_text(encoding="utf-8"))
        self.dotenv = generated_dotenv(stand_in, dotenv_extra)
        self.workers = workers
        self.concurrency = concurrency
        self.shared_data = shared_data
        self.process_env = process_env or {}
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs: dict[str, Path] = {}
        self.homes: dict[str, Path] = {}
        self.data_dirs: dict[str, Path] = {}
        self.api_port = free_port()
        self.grace = 30.0  #: seconds between SIGTERM and SIGKILL at stop
        self._stack = contextlib.ExitStack()

    # --- infrastructure ----------------------------------------------------------------
    def _postgres(self) -> None:
        from tests.pg import postgres_cluster

        pg_env = service_env(self.compose, "postgres", self.dotenv)
        server = self._stack.enter_context(postgres_cluster(
            pg_env["POSTGRES_USER"], pg_env["POSTGRES_PASSWORD"], pg_env["POSTGRES_DB"]))
        self.pg_port = server.port
        # The init script as the postgres image runs it: over the Unix socket, with the
        # service's environment (it creates the milestones ledger database and user).
        for script in sorted(self._init_scripts()):
            subprocess.run(["sh", str(script)], check=True, capture_output=True, text=True, timeout=60,
                           env={**os.environ, **pg_env, "PGHOST": str(server.socket_dir),
                                "PGPORT": str(server.port)})

    def _init_scripts(self) -> list[Path]:
        mounts = self.compose["services"]["postgres"].get("volumes", [])
        found = []
        for mount in mounts:
            source, target = mount.split(":")[:2]
            if target.startswith("/docker-entrypoint-initdb.d/"):
                found.append(ROOT / source)
        return found

    def _redis(self) -> None:
        self.redis_port = free_port()
        redis_dir = self.workdir / "redis"
        redis_dir.mkdir(parents=True)
        self._spawn("redis", ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", str(redis_dir)], os.environ.copy())
        _wait_for(lambda: _connects(self.redis_port), 30, "redis", self.logs["redis"])

    # --- environment of one service ----------------------------------------------------
    def env_for(self, service: str, name: str) -> dict[str, str]:
        env = {**image_env(), **service_env(self.compose, service, self.dotenv)}
        env = {k: self._localise(v, name) for k, v in env.items()}
        home = self.homes.setdefault(name, self.workdir / "homes" / name)
        home.mkdir(parents=True, exist_ok=True)
        env.update({
            "AIRFLOW_HOME": str(home),
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            # One host, many services: every port a container would have to itself moves.
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.api_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT": str(free_port()),
            **self.process_env,
        })
        return env

    def _localise(self, value: str, name: str) -> str:
        value = value.replace("@postgres/", f"@127.0.0.1:{self.pg_port}/")
        value = value.replace("@redis:6379/", f"@127.0.0.1:{self.redis_port}/")
        value = value.replace("http://airflow-apiserver:8080/", f"http://127.0.0.1:{self.api_port}/")
        value = value.replace("/opt/milestones/", f"{ROOT}/").replace("/opt/milestones", str(ROOT))
        if value == "/data" or value.startswith("/data/"):
            value = str(self.data_dir(name)) + value[len("/data"):]
        return value

    def data_dir(self, name: str) -> Path:
        """The compose volume /data: one directory, or one per process when nothing is shared."""
        key = "shared" if self.shared_data else name
        path = self.data_dirs.setdefault(key, self.workdir / "data" / key)
        (path / "inbox").mkdir(parents=True, exist_ok=True)
        return path

    # --- processes ---------------------------------------------------------------------
    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        log = self.logs[name] = self.workdir / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            self.procs[name] = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT,
                                                start_new_session=True, cwd=self.workdir)

    def airflow(self, service: str, name: str, args: list[str]) -> None:
        self._spawn(name, [str(Path(sys.executable).with_name("airflow")), *args], self.env_for(service, name))

    def run_airflow(self, service: str, args: list[str], timeout: float = 300) -> str:
        """A one-off ``airflow`` command with ``service``'s environment (``docker compose run``)."""
        done = subprocess.run([str(Path(sys.executable).with_name("airflow")), *args], capture_output=True,
                              text=True, timeout=timeout, env=self.env_for(service, f"run-{service}"),
                              cwd=self.workdir)
        if done.returncode:
            raise RuntimeError(f"airflow {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        return done.stdout

    def __enter__(self) -> Cluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.started = time.monotonic()
        self._postgres()
        self._redis()
        # airflow-init: `airflow db migrate` with its environment.
        self.run_airflow("airflow-init", ["db", "migrate"], timeout=600)
        for service, args in SERVICES.items():
            self.airflow(service, service, args)
        for n in range(1, self.workers + 1):
            self.airflow("airflow-worker", f"airflow-worker-{n}",
                         ["celery", "worker", "--celery-hostname", f"worker{n}@%h",
                          "--concurrency", str(self.concurrency)])
        self.wait_ready()

    def wait_ready(self, timeout: float = 420) -> None:
        """API up, the DAGs parsed and unpaused, the inbox watcher running, every worker ready."""
        _wait_for(lambda: _http_ok(f"http://127.0.0.1:{self.api_port}/api/v2/version"), timeout,
                  "the api-server", self.logs["airflow-apiserver"], self)
        _wait_for(lambda: set(DAG_IDS) <= {r[0] for r in self.sql("select dag_id from dag")}, timeout,
                  "the dag-processor to parse the DAGs", self.logs["airflow-dag-processor"], self)
        self.run_airflow("airflow-scheduler", ["dags", "unpause", "--treat-dag-id-as-regex", "-y",
                                               "^(" + "|".join(DAG_IDS) + ")$"])
        _wait_for(lambda: self.sql("select count(*) from trigger where classpath like '%InboxTrigger' "
                                   "and triggerer_id is not null")[0][0] > 0, timeout,
                  "the triggerer to run the inbox watcher", self.logs["airflow-triggerer"], self)
        for n in range(1, self.workers + 1):
            name = f"airflow-worker-{n}"
            _wait_for(lambda name=name: " ready." in self.logs[name].read_text(errors="replace"), timeout,
                      f"{name} to be ready", self.logs[name], self)
        self.ready_after = time.monotonic() - self.started

    def sql(self, query: str, database: str = "airflow", params: dict | None = None) -> list[tuple]:
        import psycopg

        env = service_env(self.compose, "postgres", self.dotenv)
        user, password = (env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]) if database == "airflow" else (
            "milestones", self.dotenv["MILESTONES_DB_PASSWORD"])
        with psycopg.connect(host="127.0.0.1", port=self.pg_port, dbname=database, user=user,
                             password=password, connect_timeout=10) as conn:
            return conn.execute(query, params).fetchall()

    def check_alive(self) -> None:
        for name, proc in self.procs.items():
            if proc.poll() is not None:
                tail = self.logs[name].read_text(errors="replace")[-3000:]
                raise RuntimeError(f"{name} exited with {proc.returncode}:\n{tail}")

    def stop(self) -> None:
        """Stop every process group (TERM, then KILL), then PostgreSQL."""
        for proc in self.procs.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace
        for proc in self.procs.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the group: task processes too
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        deadline = time.monotonic() + 10  # SIGKILL is delivered asynchronously
        while self.leftovers() and time.monotonic() < deadline:
            time.sleep(0.1)
        self._stack.close()

    def leftovers(self) -> list[int]:
        """Processes of this cluster's process groups still running (zombies have ended)."""
        groups = {proc.pid for proc in self.procs.values()}
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[2]) in groups and fields[0] != "Z":  # fields: state, ppid, pgrp
                    alive.append(int(stat.parent.name))
        return alive

    # --- what happened -----------------------------------------------------------------
    def task_instances(self) -> list[tuple]:
        return self.sql("select dag_id, run_id, task_id, map_index, state, try_number from task_instance "
                        "where dag_id = any(%(d)s)", params={"d": list(DAG_IDS)})

    def tasks_by_worker(self) -> dict[str, set[tuple]]:
        """(dag_id, run_id, task_id, map_index) of every task log each worker wrote."""
        found: dict[str, set[tuple]] = {}
        for n in range(1, self.workers + 1):
            name = f"airflow-worker-{n}"
            ran = found[name] = set()
            for log in (self.homes[name] / "logs").rglob("attempt=*.log"):
                parts = dict(p.split("=", 1) for p in log.relative_to(self.homes[name] / "logs").parts[:-1]
                             if "=" in p)
                ran.add((parts["dag_id"], parts["run_id"], parts["task_id"], int(parts.get("map_index", -1))))
        return found

    def drop(self, extract: Path, inbox: Path) -> float:
        """Put ``extract`` into the inbox as an exporter does (write aside, then rename); its time."""
        part = inbox / f".{extract.name}.part"
        shutil.copy(extract, part)
        dropped = time.time()
        os.replace(part, inbox / extract.name)
        return dropped


def _connects(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def _http_ok(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False


def _wait_for(predicate, timeout: float, what: str, log: Path, cluster: Cluster | None = None,
              interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cluster is not None:
            cluster.check_alive()
        try:
            if predicate():
                return
        except Exception:  # noqa: BLE001 - not up yet (a table missing, a refused connection)
            pass
        time.sleep(interval)
    tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; log tail:\n{tail}")


def recent_sample(directory: Path) -> Path:
    """The deterministic sample extract dated yesterday (UTC), written into ``directory``.

    The bundled sample is dated 2026-11-22; a real run today would record its emails
    ``expired`` (handed over later than their events allow). Yesterday's events are due
    everywhere (the send hour has passed in every zone) and within every event's max_age_days;
    the run finds them with the two-day catch-up window :func:`generated_dotenv` sets.
    """
    from milestones.ingest.sample import write_samples

    yesterday = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    return write_samples(Path(directory), as_of=yesterday)[1]


def run_day(cluster: Cluster, server, expected_emails, extract: Path | None = None,
            timeout: float = 300, drop=None) -> dict[str, Any]:
    """Drop ``extract`` (default: :func:`recent_sample`; into the triggerer's inbox, or by
    ``drop(extract)`` returning the time it landed), wait until the stand-in accepted
    ``expected_emails()`` emails and every DAG run is finished; the figures."""
    if extract is None:
        extract = recent_sample(Path(tempfile.mkdtemp(prefix="milestones-sample-")))
    if drop is None:
        dropped = cluster.drop(extract, cluster.data_dir("airflow-triggerer") / "inbox")
    else:
        dropped = drop(extract)

    def finished() -> bool:
        want = expected_emails()
        if want is None or len(server.accepted) < want:
            return False
        runs = cluster.sql("select state from dag_run where dag_id = any(%(d)s)", params={"d": list(DAG_IDS)})
        return bool(runs) and all(state in ("success", "failed") for (state,) in runs)

    _wait_for(finished, timeout, "every email to be accepted and every DAG run to finish",
              cluster.logs["airflow-scheduler"], cluster)
    times = sorted(server.accepted_at.values())
    by_worker = cluster.tasks_by_worker()
    durations = cluster.sql("select task_id, extract(epoch from end_date - start_date) from task_instance "
                            "where state = 'success' and dag_id = any(%(d)s)", params={"d": list(DAG_IDS)})
    by_task: dict[str, list[float]] = {}
    for task, seconds in durations:
        by_task.setdefault(task, []).append(float(seconds))
    # When each task was queued, started and ended, in seconds after the drop: where the
    # time between an extract and its emails goes (queueing, process start, the work).
    timeline = cluster.sql(
        "select task_id, map_index, extract(epoch from queued_dttm) - %(t)s, "
        "extract(epoch from start_date) - %(t)s, extract(epoch from end_date) - %(t)s "
        "from task_instance where dag_id = any(%(d)s) order by start_date",
        params={"d": list(DAG_IDS), "t": dropped})
    return {
        "task_seconds": {t: round(max(v), 1) for t, v in sorted(by_task.items())},
        "emails": len(server.accepted),
        "first_email_s": round(times[0] - dropped, 1),
        "last_email_s": round(times[-1] - dropped, 1),
        "tasks_per_worker": {name: len(ran) for name, ran in by_worker.items()},
        "startup_s": round(cluster.ready_after, 1),
        "timeline": [[task if index < 0 else f"{task}[{index}]",
                      *(None if t is None else round(float(t), 1) for t in stamps)]
                     for task, index, *stamps in timeline],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the working directory (logs)")
    args = parser.parse_args(argv)
    from tests.servers.fault_server import FaultServer

    workdir = Path(tempfile.mkdtemp(prefix="milestones-distributed-"))
    try:
        with FaultServer() as server, Cluster(workdir, server.url, workers=args.workers) as cluster:
            figures = run_day(cluster, server, lambda: _messages_count(cluster))
            figures["max_accepted_per_email"] = max(server.accepted.values())
        print(json.dumps(figures))
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"logs in {workdir}/logs", file=sys.stderr)
    return 0


def _messages_count(cluster: Cluster) -> int | None:
    import pyarrow.parquet as pq

    found = list((cluster.data_dir("shared") / "messages").glob("*/messages.parquet"))
    return sum(pq.ParquetFile(p).metadata.num_rows for p in found) if found else None


if __name__ == "__main__":
    sys.exit(main())
