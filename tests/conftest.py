"""Shared test set-up.

Layers are marked by directory: tests/unit -> ``unit``, tests/dag -> ``dag``,
tests/e2e -> ``e2e`` (``pytest tests/unit`` runs a layer).  Airflow gets a throw-away
AIRFLOW_HOME (SQLite) before anything imports it.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "plugins" / "milestones" / "samples"

_airflow_home = Path(tempfile.mkdtemp(prefix="milestones-airflow-"))
os.environ.setdefault("AIRFLOW_HOME", str(_airflow_home))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(ROOT / "dags"))
os.environ.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(ROOT / "plugins"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
os.environ.setdefault("MILESTONES_DATA_DIR", str(_airflow_home / "data"))
# Never reach a real SendGrid from tests: no connection unless a test sets one.
os.environ.pop("AIRFLOW_CONN_SENDGRID_DEFAULT", None)

_LAYERS = {"unit": "unit", "dag": "dag", "e2e": "e2e"}


def pytest_configure(config):
    config.addinivalue_line("markers", "needs(*tools): the test needs tools scripts/test-deps.sh installs "
                                       "(tests/tools.py); it runs last and fails naming the set-up command")


def pytest_collection_modifyitems(config, items):
    for item in items:
        layer = Path(str(item.fspath)).relative_to(ROOT / "tests").parts[0]
        if layer in _LAYERS:
            item.add_marker(getattr(pytest.mark, _LAYERS[layer]))
    # Tests that need installed tools run after all others: under -x, a missing tool stops nothing else.
    items.sort(key=lambda item: item.get_closest_marker("needs") is not None)


def pytest_runtest_setup(item):
    from tests.tools import message, missing

    needed = [name for mark in item.iter_markers("needs") for name in mark.args]
    absent = missing(*needed) if needed else []
    if absent:
        pytest.fail(message(absent), pytrace=False)


@pytest.fixture
def sample_current() -> Path:
    return SAMPLES / "customers_2026-11-22.csv"


@pytest.fixture
def sample_previous() -> Path:
    return SAMPLES / "customers_2026-11-21.csv"


@pytest.fixture
def own_templates(tmp_path):
    """A private copy of the templates a test may edit."""
    import shutil

    target = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", target)
    return target


@pytest.fixture
def settings(tmp_path):
    """Settings with a fresh data directory per test."""
    from milestones.core.config import load_settings

    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata DB (SQLite in the throw-away AIRFLOW_HOME), once per session."""
    import subprocess
    import sys

    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
    return Path(os.environ["AIRFLOW_HOME"])


@pytest.fixture
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


@pytest.fixture(scope="session")
def postgres_server_url():
    """A PostgreSQL server for the whole session: the one ``$MILESTONES_TEST_POSTGRES`` names
    (scripts/mutation.py starts one for all its mutants' sessions), else one started here on
    first use and stopped at the end (tests/pg.py; one per xdist worker)."""
    from tests.pg import SHARED_SERVER, postgres_cluster
    from tests.tools import message, missing

    if os.environ.get(SHARED_SERVER):
        yield os.environ[SHARED_SERVER]
        return
    if missing("postgresql"):
        pytest.fail(message(["postgresql"]), pytrace=False)
    with postgres_cluster() as server:
        yield server.url


@pytest.fixture
def postgres_url(postgres_server_url):
    """A fresh, empty database of the session's PostgreSQL server (dropped after the test).
    A test using it says ``pytest.mark.needs("postgresql")``: without the binaries it fails
    naming ``make test-deps``."""
    from tests.pg import fresh_database

    with fresh_database(postgres_server_url) as url:
        yield url


@pytest.fixture
def server_zone():
    """``server_zone("America/New_York")`` runs the rest of the test as on a server whose local
    time zone is that one (``TZ`` and :func:`time.tzset`); the zone is put back afterwards."""
    import time

    before = os.environ.get("TZ")

    def use(zone: str) -> None:
        os.environ["TZ"] = zone
        time.tzset()

    yield use
    if before is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = before
    time.tzset()
