"""The Airflow assets that wire the three DAGs together.

``INBOX`` is watched by :class:`milestones.airflow.triggers.InboxTrigger` (the local
``inbox_dir``), or by :class:`milestones.airflow.triggers.ObjectStorageInboxTrigger`
when ``inbox_url`` is set (its URL is then the asset's uri): an extract landing
starts ``crm_extract_ingest`` without waiting for a cron.  The ingest DAG
publishes ``SNAPSHOT`` (extra: snapshot path and date), which schedules
``milestone_detection``; that publishes ``MESSAGES`` for ``outreach_delivery``.

``INBOX`` is built on first use: Airflow checks an ``s3://`` asset uri with the
Amazon provider, which imports boto3 (about 0.4 s), and only the ingest DAG
needs the inbox, so the other DAG files never pay for it.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from milestones.airflow.triggers import InboxTrigger, ObjectStorageInboxTrigger
from milestones.core.config import load_settings

_settings = load_settings()
_data = _settings.data_dir.resolve()

# With data_url the stage files are in object storage and data_dir differs between machines:
# the assets name the bucket, the same for every process that parses the DAGs.
_stages = _settings.data_url.rstrip("/") if _settings.data_url else f"file://{_data}"
SNAPSHOT = Asset(name="milestones_validated_snapshot", uri=f"{_stages}/snapshots", group="milestones")
MESSAGES = Asset(name="milestones_rendered_messages", uri=f"{_stages}/messages", group="milestones")
#: Customers' choices as CSV for the CRM, published daily by ``preferences_export``.
PREFERENCES_EXPORT = Asset(name="milestones_preferences_export", uri=f"file://{_data}/exports/preferences",
                           group="milestones")


def _inbox() -> Asset:
    received = str(_data / "received")
    if _settings.inbox_url:
        uri = _settings.inbox_url
        trigger = ObjectStorageInboxTrigger(url=_settings.inbox_url, conn_id=_settings.inbox_conn_id or None,
                                            received=received)
    else:
        uri = f"file://{_settings.inbox.resolve()}"
        trigger = InboxTrigger(inbox=str(_settings.inbox.resolve()), received=received)
    return Asset(name="milestones_crm_inbox", uri=uri, group="milestones",
                 watchers=[AssetWatcher(name="crm_inbox_watcher", trigger=trigger)])


def __getattr__(name: str) -> Asset:
    if name == "INBOX":
        globals()["INBOX"] = inbox = _inbox()
        return inbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
