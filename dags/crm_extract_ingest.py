"""
### crm_extract_ingest

Validates a CRM extract the moment it lands in the inbox and publishes the
validated snapshot.

* **Trigger**: event-driven. The `milestones_crm_inbox` asset is watched by
  `milestones.airflow.triggers.InboxTrigger`; a `customers_YYYY-MM-DD.csv|parquet` or
  `outcomes_YYYY-MM-DD.csv|parquet` file landing in the inbox starts a run (no cron).
  Manual runs take the `extract` param.
* **Routes by file name**: an outcomes extract goes to `load_outcomes` (validated the
  same way, stored under `outcomes/<date>/`, nothing published); a CRM extract to `validate`.
* **Does**: Great Expectations validation; bad rows go to
  `snapshots/<date>/quarantine.parquet` with their reasons; a bad file fails the
  run at once, not retried (the gate), and nothing downstream runs. Any other failure
  (a killed worker, a locked database) is retried.
* **Publishes**: `milestones_validated_snapshot` (extra: snapshot path and date),
  which schedules `milestone_detection`.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from milestones.airflow.assets import INBOX, SNAPSHOT

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="crm_extract_ingest",
    schedule=[INBOX],
    catchup=False,
    max_active_runs=1,  # snapshots must be published in the order they land
    default_args=DEFAULT_ARGS,
    tags=["milestones", "ingest"],
    doc_md=__doc__,
    params={"extract": Param(None, type=["null", "string"], description="extract path for a manual run")},
)
def crm_extract_ingest():
    @task
    def locate_extract(**context) -> str:
        from milestones.airflow import tasks

        return tasks.locate_extract(context)

    @task.branch
    def route(extract: str) -> str:
        from milestones.airflow import tasks

        return tasks.route(extract)

    # A gate failure is not transient and fails at once (AirflowFailException, see
    # milestones.airflow.tasks); a passing fault (a killed worker, a locked file) is retried.
    @task(outlets=[SNAPSHOT])
    def validate(extract: str, **context) -> dict:
        from milestones.airflow import tasks

        return tasks.validate(extract, context)

    @task
    def load_outcomes(extract: str) -> dict:
        from milestones.airflow import tasks

        return tasks.load_outcomes(extract)

    extract = locate_extract()
    route(extract) >> [validate(extract), load_outcomes(extract)]


crm_extract_ingest()
