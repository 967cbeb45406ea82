"""The three DAGs end to end with ``dag.test()`` on the bundled sample data.

ingest (previous, then current extract) -> detection for 2026-11-22 -> delivery,
then the emails in the outbox are checked against the extract itself.
"""

from __future__ import annotations

import csv
import email
import email.policy
from pathlib import Path

import pytest

AS_OF = "2026-11-22"
FAR_FUTURE = "2100-01-01T00:00:00+00:00"
#: The hand-over of the replayed bundled day: that evening (none expired).
EVENING = "2026-11-22T23:00:00+00:00"


def _rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return {r["customer_id"]: r for r in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def chain(airflow_db, tmp_path_factory):
    """Run the whole chain once; tests below inspect what it produced."""
    import os

    from airflow.dag_processing.dagbag import DagBag

    from tests.conftest import SAMPLES

    data = tmp_path_factory.mktemp("chain") / "data"
    old = os.environ.get("MILESTONES_DATA_DIR")
    os.environ["MILESTONES_DATA_DIR"] = str(data)
    os.environ["MILESTONES_DELIVERY_SHARD_SIZE"] = "25"  # several mapped delivery tasks
    try:
        dags = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags
        states = {}
        for name in ("customers_2026-11-21.csv", "customers_2026-11-22.csv"):
            run = dags["crm_extract_ingest"].test(run_conf={"extract": str(SAMPLES / name)})
            states[f"ingest {name}"] = run.state
        states["detection"] = dags["milestone_detection"].test(run_conf={"date": AS_OF}).state
        conf = {"date": AS_OF, "due_before": FAR_FUTURE, "at": EVENING}
        delivery = dags["outreach_delivery"].test(run_conf=conf)
        states["delivery"] = delivery.state
        shards = sorted(ti.map_index for ti in delivery.get_task_instances() if ti.task_id == "deliver")
        first = sorted(p.name for p in (data / "outbox").glob("*.eml"))
        states["delivery again"] = dags["outreach_delivery"].test(run_conf=conf).state
        second = sorted(p.name for p in (data / "outbox").glob("*.eml"))
        yield {"data": data, "states": states, "first": first, "second": second, "shards": shards,
               "current": _rows(SAMPLES / "customers_2026-11-22.csv")}
    finally:
        os.environ.pop("MILESTONES_DELIVERY_SHARD_SIZE", None)
        if old is None:
            os.environ.pop("MILESTONES_DATA_DIR", None)
        else:
            os.environ["MILESTONES_DATA_DIR"] = old


def _emails(data: Path) -> list[email.message.EmailMessage]:
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in sorted((data / "outbox").glob("*.eml"))]


def _customer_of(data: Path, msg: email.message.EmailMessage) -> str:
    """Who an email was for, from the ledger (no header names the customer: issue 24)."""
    import sqlite3

    with sqlite3.connect(data / "ledger.sqlite") as db:
        return db.execute("SELECT customer_id FROM emails WHERE key = ?", (msg["X-Milestones-Key"],)).fetchone()[0]


def test_every_run_succeeds(chain):
    assert set(chain["states"].values()) == {"success"}, chain["states"]


def test_emails_match_the_ledger_and_are_sent_once(chain):
    from milestones.deliver.ledger import Ledger

    ledger = Ledger(f"sqlite:///{chain['data'] / 'ledger.sqlite'}")
    assert chain["first"], "the sample must produce emails"
    assert chain["second"] == chain["first"], "a second delivery run must send nothing new"
    accepted = {k for k, s in ledger.states().items() if s == "accepted"}
    assert {n.removesuffix(".eml") for n in chain["first"]} == accepted


def test_delivery_fans_out_in_shards(chain):
    import pyarrow.parquet as pq

    rows = pq.ParquetFile(chain["data"] / "messages" / AS_OF / "messages.parquet").metadata.num_rows
    assert rows > 25
    assert chain["shards"] == list(range(-(-rows // 25)))  # one mapped task per 25 emails


def test_outbox_format(chain):
    from milestones.core import links

    keys = links.load_keys(chain["data"])
    for msg in _emails(chain["data"]):
        assert msg.get_content_type() == "multipart/alternative"
        parts = {p.get_content_type(): p for p in msg.iter_parts()}
        assert set(parts) == {"text/plain", "text/html"}
        assert all(p.get_content_charset() == "utf-8" for p in parts.values())
        assert msg["X-Milestones-Event"] in {
            "birthday", "retirement", "marriage", "wedding_anniversary", "graduation",
            "new_child", "customer_anniversary"}
        assert msg["X-Milestones-Customer-Id"] is None  # no internal id in a header a recipient sees
        customer = _customer_of(chain["data"], msg)
        assert customer[0] in "CL"  # generated customers, and the real lives
        assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        # The one-click link is signed for this customer and this address (not the guessable key).
        token = msg["List-Unsubscribe"].strip("<>").rsplit("/u/", 1)[1]
        link = links.verify(keys, token)
        assert (link.customer_id, link.email) == (customer, msg["To"].addresses[0].addr_spec)
        assert msg["X-Milestones-Key"] not in msg["List-Unsubscribe"]
        assert "\n" not in msg["Subject"]


def test_nobody_is_contacted_against_policy(chain):
    current = chain["current"]
    contacted = {_customer_of(chain["data"], m) for m in _emails(chain["data"])}
    for cid in contacted:
        row = current[cid]
        assert row["marketing_opt_in"].lower() in {"true", "1", "yes"}, cid
        assert row["deceased"].lower() not in {"true", "1", "yes"}, cid
    quarantined = {"C000293", "C000294", "C000295", "C000296", "C000297", "C000298", "C000299"}
    assert not contacted & quarantined
    # One email per customer per day, whatever the number of events.
    assert len(contacted) == len(chain["first"])


def test_customer_data_arrives_as_text(chain):
    tricky = {cid: r["first_name"] for cid, r in chain["current"].items()
              if any(ch in r["first_name"] for ch in "<{\"")}
    seen = 0
    for msg in _emails(chain["data"]):
        name = tricky.get(_customer_of(chain["data"], msg))
        if name is None:
            continue
        seen += 1
        html = msg.get_body(("html",)).get_content()
        text = msg.get_body(("plain",)).get_content()
        assert "<script>" not in html
        if "<" in name:
            assert "&lt;" in html
        if "{{" in name:
            assert "{{ 7*7 }}" in text and "49" not in msg["Subject"]
        assert name in text  # the text part carries the name verbatim
    assert seen >= 3, "the sample's tricky names must reach the outbox"


def test_snapshot_published_as_asset_event(chain):
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        events = (session.query(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
                  .filter(AssetModel.name == "milestones_validated_snapshot").all())
        extras = [e.extra for e in events]
    dates = {e.get("snapshot_date") for e in extras}
    assert {"2026-11-21", AS_OF} <= dates
    assert all(Path(e["snapshot"]).is_file() for e in extras if e.get("snapshot_date") in dates)


def test_run_record_written(chain):
    import json

    record = json.loads((chain["data"] / "runs" / f"{AS_OF}.json").read_text())
    assert record["emails_sent"] == len(chain["first"])
    assert record["quarantined"] == 12  # 7 bad rows, one person under 5 ids
    assert record["skipped"]["deceased"] > 0 and record["skipped"]["no_opt_in"] > 0


def test_bad_file_stops_before_any_email(airflow_db, tmp_path, monkeypatch):
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("MILESTONES_DATA_DIR", str(tmp_path / "data"))
    bad = tmp_path / "customers_2026-11-23.csv"
    bad.write_bytes("customer_id,first_name,email,customer_since,marketing_opt_in\n"
                    "C1,Jos\u00e9,jose@example.com,2020-01-01,true\n".encode("latin-1"))
    dags = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags
    run = dags["crm_extract_ingest"].test(run_conf={"extract": str(bad)})
    assert run.state == "failed"
    # The gate fails at once: no retry waits on a file that stays bad.
    validate = next(ti for ti in run.get_task_instances() if ti.task_id == "validate")
    assert (validate.state, validate.try_number) == ("failed", 1)
    assert not (tmp_path / "data" / "snapshots" / "2026-11-23" / "snapshot.parquet").exists()
    assert not (tmp_path / "data" / "outbox").exists()
