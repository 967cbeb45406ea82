"""The multi-machine set-up, checked statically (no Docker engine here).

docker-compose.yaml must satisfy the Compose specification's JSON schema (as
vendored by check-jsonschema), have every service the README's deployment
section names, a healthcheck on each long-running service, and every variable
it interpolates documented in .env.example.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SERVICES = {"postgres", "redis", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor",
            "airflow-worker", "airflow-triggerer", "airflow-init", "milestones-web"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yaml").read_text())


def test_matches_the_compose_specification(compose):
    import check_jsonschema
    import jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    schema = json.loads(schema_path.read_text())
    # The schema declares its own draft (2020-12): use the validator it asks for.
    errors = sorted(jsonschema.validators.validator_for(schema)(schema).iter_errors(compose), key=str)
    assert not errors, [e.message for e in errors[:5]]


def test_services_and_healthchecks(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name, spec in services.items():
        if name != "airflow-init":
            assert "healthcheck" in spec, f"{name} has no healthcheck"
    assert services["airflow-worker"]["command"] == "celery worker"
    # The public app: `milestones serve` on the shared ledger, health-checked on /healthz.
    web = services["milestones-web"]
    assert web["command"][0] == "serve" and web["entrypoint"][-1] == "milestones"
    assert "/healthz" in json.dumps(web["healthcheck"]) and web["ports"] == ["8000:8000"]
    common = compose["x-airflow-common"]["environment"]
    assert common["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    # Two databases: Airflow's metadata and the milestones ledger.
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres/airflow")
    assert common["MILESTONES_LEDGER_URL"].endswith("@postgres/milestones")
    assert common["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg_async://")
    # The postgres image runs every .sh and .sql of its init folder: only the script is
    # mounted there (the distributed e2e test runs it against a real server).
    init = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in v]
    assert init == ["./docker/postgres-init.sh:/docker-entrypoint-initdb.d/postgres-init.sh:ro"]
    assert "CREATE DATABASE milestones" in (ROOT / "docker" / "postgres-init.sh").read_text()


def test_image_bakes_in_the_locked_dependencies(compose):
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "uv sync --frozen" in dockerfile and "COPY pyproject.toml uv.lock" in dockerfile
    for name, spec in compose["services"].items():
        command = json.dumps(spec.get("command", ""))
        assert "pip install" not in command, f"{name} installs packages at start-up"


def test_every_interpolated_variable_is_in_env_example():
    text = (ROOT / "docker-compose.yaml").read_text()
    used = set(re.findall(r"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)", text))
    documented = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
                  if line and not line.startswith("#")}
    assert used <= documented, used - documented


def test_the_operator_guide_names_what_the_compose_file_has(compose):
    guide = (ROOT / "docs" / "guides" / "operator.md").read_text()
    section = guide.split("## Deploying with Docker Compose", 1)[1].split("\n## Sending", 1)[0]
    assert re.findall(r"`(airflow-[a-z-]+|postgres|redis)`", section)  # the guide does name them
    for service in re.findall(r"`(airflow-[a-z-]+|postgres|redis)`", section):
        assert service in compose["services"], service
    for var in re.findall(r"`([A-Z][A-Z0-9_]{3,})`", section):
        assert var in (ROOT / ".env.example").read_text() or var in json.dumps(compose), var


def test_the_schema_check_can_fail(compose):
    """A misspelt key is caught: the check above is not a yes-man."""
    import check_jsonschema
    import jsonschema

    schema_path = Path(check_jsonschema.__file__).parent / "builtin_schemas" / "vendor" / "compose-spec.json"
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    schema = json.loads(schema_path.read_text())
    assert list(jsonschema.validators.validator_for(schema)(schema).iter_errors(broken))
