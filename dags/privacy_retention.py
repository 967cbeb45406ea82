"""
### privacy_retention

Deletes data older than its retention period, every day.

* **Schedule**: daily.
* **Does**: what `milestones retention apply` does, counted back from the run's day: per
  class (`retain_extract_days`, `retain_messages_days`, `retain_decisions_days`,
  `retain_webhook_days`, `retain_runs_days`, `retain_docs_days`, `retain_outcomes_days`,
  `retain_exports_days`; 0 keeps forever) the older stage files, outbox emails, webhook rows,
  run records, Data Docs and exports go. The send ledger's keys stay (no email is ever sent
  twice), as do preferences, their history, suppressions and the newest snapshot.
* **Same as**: `milestones retention apply [--dry-run]`. Guide: docs/guides/privacy.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

DEFAULT_ARGS = {"owner": "data-protection", "retries": 2, "retry_delay": timedelta(minutes=10)}


@dag(
    dag_id="privacy_retention",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "privacy"],
    doc_md=__doc__,
)
def privacy_retention():
    @task
    def apply_retention(**context) -> dict:
        from milestones.airflow import privacy

        return privacy.apply_retention(context)

    apply_retention()


privacy_retention()
