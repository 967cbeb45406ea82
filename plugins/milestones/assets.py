"""The Airflow assets that wire the three DAGs together.

``INBOX`` is watched by :class:`milestones.triggers.InboxTrigger`: an extract
landing starts ``crm_extract_ingest`` without waiting for a cron.  The ingest
DAG publishes ``SNAPSHOT`` (extra: snapshot path and date), which schedules
``milestone_detection``; that publishes ``MESSAGES`` for ``outreach_delivery``.
"""

from __future__ import annotations

from airflow.sdk import Asset, AssetWatcher

from milestones.config import load_settings
from milestones.triggers import InboxTrigger

_settings = load_settings()
_data = _settings.data_dir.resolve()

INBOX = Asset(
    name="milestones_crm_inbox",
    uri=f"file://{_settings.inbox.resolve()}",
    group="milestones",
    watchers=[
        AssetWatcher(
            name="crm_inbox_watcher",
            trigger=InboxTrigger(inbox=str(_settings.inbox.resolve()), received=str(_data / "received")),
        )
    ],
)
SNAPSHOT = Asset(name="milestones_validated_snapshot", uri=f"file://{_data}/snapshots", group="milestones")
MESSAGES = Asset(name="milestones_rendered_messages", uri=f"file://{_data}/messages", group="milestones")
