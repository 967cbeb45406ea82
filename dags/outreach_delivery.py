"""
### outreach_delivery

Sends the rendered emails that are due, exactly once.

* **Schedule**: every 15 minutes (emails are due at the configured local hour in
  each customer's own time zone, so "due" moves around the clock).
* **Does**: for each recent date with rendered messages, claims each due email in
  the ledger and sends it through SendGrid (connection `sendgrid_default`) or, with
  no connection, the file outbox. Re-runs, retries and overlapping runs never
  send an email twice: the ledger's key decides.
* **Params**: `date` to deliver one date only; `due_before` (ISO timestamp) to
  override "now" when catching up.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import Param, dag, task

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 3, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="outreach_delivery",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,  # the ledger, not backfilled runs, decides what is still owed
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "delivery"],
    doc_md=__doc__,
    params={
        "date": Param(None, type=["null", "string"], format="date", description="deliver one date only"),
        "due_before": Param(None, type=["null", "string"], description="ISO timestamp used as 'now'"),
    },
)
def outreach_delivery():
    @task
    def due_dates(**context) -> list[str]:
        from milestones import tasks

        return tasks.days_to_deliver(context)

    @task
    def deliver(day: str, **context) -> dict:
        from milestones import tasks

        return tasks.deliver(day, context)

    deliver.expand(day=due_dates())


outreach_delivery()
