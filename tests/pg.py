"""A real PostgreSQL server for tests: initdb + pg_ctl on 127.0.0.1, a free port, torn down after.

Debian's `postgresql` package provides the binaries (scripts/test-deps.sh installs it).
PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user.

Fast tests share one server for a whole run and take a fresh database of it each
(:func:`fresh_database`, the ``postgres_url`` fixture of tests/conftest.py): the server named by
``$MILESTONES_TEST_POSTGRES`` (a superuser's SQLAlchemy URL; scripts/mutation.py starts one
around a mutation run, whose every mutant is a pytest session of its own), else one started
once per pytest session (per xdist worker).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

#: A running server's superuser URL that fast tests use instead of starting their own.
SHARED_SERVER = "MILESTONES_TEST_POSTGRES"


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [shutil.which(name) or ""]
    if not found[-1]:
        raise RuntimeError(f"{name} not found: install PostgreSQL (scripts/test-deps.sh)")
    return found[-1]


@contextmanager
def postgres_server():
    """Yield a SQLAlchemy URL of a fresh, empty PostgreSQL server."""
    with postgres_cluster() as server:
        yield server.url


@dataclass(frozen=True)
class Server:
    url: str  #: SQLAlchemy URL of the superuser's database
    port: int
    socket_dir: Path  #: for psql over the Unix socket (trusted, as in the postgres image)


@contextmanager
def postgres_cluster(user: str = "postgres", password: str | None = None, database: str | None = None):
    """A fresh server on a free port; with ``password``, TCP logins need it (scram-sha-256).

    ``user`` is the superuser and ``database`` (default: ``user``) its database, as the
    postgres image's POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB make them.
    """
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(tempfile.mkdtemp(prefix="milestones-pg-"))
    data = root / "data"
    as_root = os.geteuid() == 0
    prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    auth = ["-A", "trust"]
    if password is not None:
        (root / "pw").write_text(password + "\n")
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={root / 'pw'}"]
    if as_root:
        for path in (root, *root.iterdir()):
            shutil.chown(path, "postgres", "postgres")
    subprocess.run([*prefix, _bin("initdb"), "-D", str(data), *auth, "-U", user, "--no-sync"], **run)
    subprocess.run([*prefix, _bin("pg_ctl"), "-D", str(data), "-w", "-l", str(root / "log"),
                    "-o", f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off", "start"], **run)
    database = database or user
    if database != "postgres":
        subprocess.run([_bin("createdb"), "-h", str(root), "-p", str(port), "-U", user, database], **run)
    secret = f":{quote(password, safe='')}" if password is not None else ""
    try:
        yield Server(f"postgresql+psycopg://{user}{secret}@127.0.0.1:{port}/{database}", port, root)
    finally:
        subprocess.run([*prefix, _bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the server of ``server_url`` (a superuser's URL): its URL,
    the database dropped afterwards with whatever connections are still open to it."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    name = f"test_{uuid.uuid4().hex}"
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def clean_database_url(request, tmp_path: Path, tables: str) -> str:
    """For a fixture parametrised ``sqlite``/``postgresql``: a fresh SQLite file, or the
    module's PostgreSQL server (fixture ``pg_server``) with ``tables`` dropped, a clean
    slate per test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    import sqlalchemy as sa

    url = request.getfixturevalue("pg_server")
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE IF EXISTS {tables} CASCADE"))
    engine.dispose()
    return url
