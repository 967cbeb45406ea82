"""The ingest DAG with an object-storage inbox: wiring, and what parsing costs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STORE_MODULES = ("s3fs", "aiobotocore", "boto3", "botocore", "moto")

PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
loaded = sorted({m.split('.')[0] for m in sys.modules} & set(sys.argv[2].split(',')))
out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dag_ids),
       "loaded": loaded}
if "crm_extract_ingest" in bag.dag_ids:
    from milestones.airflow.assets import INBOX
    (asset,) = bag.dags["crm_extract_ingest"].timetable.asset_condition.objects
    trigger = INBOX.watchers[0].trigger
    out.update(uri=INBOX.uri, scheduled_on=asset.name, trigger=trigger.serialize())
print(json.dumps(out))
"""


def parse(dag_folder: Path, **env: str) -> dict:
    done = subprocess.run([sys.executable, "-c", PARSE, str(dag_folder), ",".join(STORE_MODULES)],
                          capture_output=True, text=True, check=True, env={**os.environ, **env})
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_inbox_url_makes_the_watcher_claim_from_object_storage(tmp_path):
    out = parse(ROOT / "dags", MILESTONES_INBOX_URL="s3://crm-exports/inbox/",
                MILESTONES_INBOX_CONN_ID="crm_s3", MILESTONES_DATA_DIR=str(tmp_path))
    assert out["errors"] == {}
    assert {"crm_extract_ingest", "milestone_detection", "outreach_delivery"} <= set(out["dags"])
    assert out["uri"] == "s3://crm-exports/inbox" and out["scheduled_on"] == "milestones_crm_inbox"
    assert out["trigger"] == ["milestones.airflow.triggers.ObjectStorageInboxTrigger",
                              {"url": "s3://crm-exports/inbox/", "conn_id": "crm_s3",
                               "received": str(tmp_path.resolve() / "received"), "poke_interval": 5.0}]
    # The s3 filesystem (s3fs, aiobotocore) loads in the triggerer only, never at parse time;
    # Airflow's own check of an s3:// asset uri imports boto3 for the ingest DAG.
    assert not {"s3fs", "aiobotocore", "moto"} & set(out["loaded"])


def test_only_the_ingest_dag_pays_for_an_s3_inbox(tmp_path):
    folder = tmp_path / "dags"
    folder.mkdir()
    for name in ("milestone_detection.py", "outreach_delivery.py"):
        (folder / name).write_text((ROOT / "dags" / name).read_text())
    out = parse(folder, MILESTONES_INBOX_URL="s3://crm-exports/inbox/", MILESTONES_DATA_DIR=str(tmp_path))
    assert out["errors"] == {} and out["dags"] == ["milestone_detection", "outreach_delivery"]
    assert out["loaded"] == []


def test_the_local_inbox_loads_no_object_store_client(tmp_path):
    out = parse(ROOT / "dags", MILESTONES_INBOX_URL="", MILESTONES_DATA_DIR=str(tmp_path))
    assert out["loaded"] == [] and out["trigger"][0] == "milestones.airflow.triggers.InboxTrigger"
    assert out["uri"] == f"file://{(tmp_path / 'inbox').resolve()}"
