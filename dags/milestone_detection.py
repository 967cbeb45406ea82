"""
### milestone_detection

Turns a validated snapshot into rendered emails.

* **Trigger**: the `milestones_validated_snapshot` asset (published by
  `crm_extract_ingest`). Manual runs re-do one date with the `date` param.
* **Does**: detects life events falling on each customer's own local date at the
  run's logical time (asset-triggered: when it was triggered; the `date` param re-does
  that calendar day for everyone), changes against the previous snapshot too, applies the contact
  policy (every decision recorded with its reason), renders the templates.
* **Publishes**: `milestones_rendered_messages`; `outreach_delivery` sends them when due.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import Param, dag, task

from milestones.airflow.assets import MESSAGES, SNAPSHOT

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 2, "retry_delay": timedelta(minutes=2)}


@dag(
    dag_id="milestone_detection",
    schedule=[SNAPSHOT],
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "detection"],
    doc_md=__doc__,
    params={
        "date": Param(None, type=["null", "string"], format="date", description="re-run one snapshot date"),
        "days": Param(None, type=["null", "integer"], minimum=1, maximum=31,
                      description="catch-up window in days (default: setting catch_up_days)"),
    },
)
def milestone_detection():
    # detect finds its snapshot (the triggering asset event, else the date param) itself:
    # one worker process less between an extract landing and its emails.
    @task
    def detect(**context) -> dict:
        from milestones.airflow import tasks

        return tasks.detect(tasks.snapshot_for_run(context), context)

    @task
    def decide(run: dict) -> dict:
        from milestones.airflow import tasks

        return tasks.decide(run)

    @task(outlets=[MESSAGES])
    def render(run: dict, detected: dict, decided: dict, **context) -> dict:
        from milestones.airflow import tasks

        return tasks.render(run, detected, decided, context)

    detected = detect()  # carries the snapshot and date on to the next stages
    decided = decide(detected)
    render(detected, detected, decided)


milestone_detection()
