"""
### privacy_erasure

Erases customers named in erasure request files dropped into the inbox.

* **Schedule**: every 15 minutes.
* **Reads**: `erasure_requests_*.csv` in the inbox (`inbox_dir`, and `inbox_url` when set),
  a CSV with a `customer_id` column.
* **Does**: for each file, what `milestones erase --file FILE` does: keyed hashes of the
  customers' ids and addresses are kept (they are never written to again, reason `erased`),
  their personal data is removed from every stage file, the outbox, the ledger database
  and object storage, and the erasure is logged (time, operator `dag:privacy_erasure:<run>`,
  count). The request file is deleted once done. An erasure a crash left half-done is
  completed first.
* **Same as**: `milestones erase --file FILE --by NAME`. Guide: docs/guides/privacy.md.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import dag, task

DEFAULT_ARGS = {"owner": "data-protection", "retries": 3, "retry_delay": timedelta(minutes=5)}


@dag(
    dag_id="privacy_erasure",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["milestones", "privacy"],
    doc_md=__doc__,
)
def privacy_erasure():
    @task
    def erase_requests(**context) -> dict:
        from milestones.airflow import privacy

        return privacy.erase_requests(context)

    erase_requests()


privacy_erasure()
