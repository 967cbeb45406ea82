"""
### outreach_delivery

Sends the rendered emails that are due, exactly once.

* **Schedule**: as soon as `milestone_detection` publishes
  `milestones_rendered_messages` (SendGrid takes `send_at` up to 72 hours ahead, so
  rendered emails are handed over at once), and every 15 minutes as the safety net
  (emails are due at the configured local hour in each customer's own time zone, so
  "due" moves around the clock for the outbox).
* **Does**: splits each recent date's rendered messages into shards of
  `delivery_shard_size` (dynamic task mapping, one retryable task per shard), claims each due email in
  the ledger and sends it through SendGrid (connection `sendgrid_default`) or, with
  no connection, the file outbox. Re-runs, retries and overlapping runs never
  send an email twice: the ledger's key decides.
* **Then**: `summarize_results` precomputes the results page for marketing (the answer in
  words per email, uplift per event type, language and A/B variant, A/B decisions, charts and
  the CSV downloads) when the ledger, decisions or outcomes changed; it runs whatever became of
  the shards, so a failed shard does not leave the page behind.
* **Params**: `date` to deliver one date only; `due_before` (ISO timestamp) to
  override "now" when catching up; `at` (ISO timestamp) the moment of hand-over for the
  re-check of choices and expiry (a replay of a past day; default: now).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from milestones.airflow.assets import MESSAGES

DEFAULT_ARGS = {"owner": "data-engineering", "retries": 3, "retry_delay": timedelta(minutes=1)}


@dag(
    dag_id="outreach_delivery",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("*/15 * * * *", timezone="UTC"),
                                 assets=[MESSAGES]),
    start_date=datetime(2026, 1, 1),
    catchup=False,  # the ledger, not backfilled runs, decides what is still owed
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "delivery"],
    doc_md=__doc__,
    params={
        "date": Param(None, type=["null", "string"], format="date", description="deliver one date only"),
        "due_before": Param(None, type=["null", "string"], description="ISO timestamp used as 'now'"),
        "at": Param(None, type=["null", "string"],
                    description="ISO timestamp of the hand-over for the re-check and expiry (replays; default: now)"),
    },
)
def outreach_delivery():
    @task
    def plan_shards(**context) -> list[dict]:
        from milestones.airflow import tasks

        return tasks.plan_shards(context)

    # One mapped task per shard (delivery_shard_size emails): each retries on its own,
    # and workers on several machines share the day.
    @task
    def deliver(shard: dict, **context) -> dict:
        from milestones.airflow import tasks

        return tasks.deliver(shard, context)

    @task(trigger_rule="all_done", retries=1)
    def summarize_results() -> dict:
        from milestones.airflow import tasks

        return tasks.summarize_results()

    deliver.expand(shard=plan_shards()) >> summarize_results()


outreach_delivery()
