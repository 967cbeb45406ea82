"""
### preferences_export

Publishes customers' choices so data engineers can write them back into the CRM.

* **Schedule**: daily.
* **Does**: writes every customer's current choices from the preference center, one-click
  unsubscribes, SendGrid group unsubscribes and CRM imports (unsubscribed, opted-out email
  types, pause end, email language, when and how) to
  `data_dir/exports/preferences/preferences_<date>.csv` (formula-safe cells) and publishes
  it as the asset `milestones_preferences_export` (extra: `path`, `date`, `customers`).
* **Same as**: `milestones preferences export --out FILE.csv`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

from milestones.airflow.assets import PREFERENCES_EXPORT

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 3, "retry_delay": timedelta(minutes=5)}


@dag(
    dag_id="preferences_export",
    schedule="@daily",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "preferences"],
    doc_md=__doc__,
)
def preferences_export():
    @task(outlets=[PREFERENCES_EXPORT])
    def export(**context) -> dict:
        from milestones.airflow import tasks

        return tasks.export_preferences(context)

    export()


preferences_export()
