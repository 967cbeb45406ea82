"""The detection DAG finds each customer's events on their own local date at the run's time.

A run at 01:00 UTC on 22 November is still the afternoon of the 21st in Honolulu and
already the 22nd in Helsinki and Auckland: each customer gets the birthday of their own
day. A manual re-run of one date (the ``date`` param) re-does that calendar day for all.
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from milestones import pipeline
from milestones.core import storage

DAY = "2026-11-22"
PEOPLE = [  # id, zone, date of birth
    ("HNL-21", "Pacific/Honolulu", "1990-11-21"),
    ("HNL-22", "Pacific/Honolulu", "1990-11-22"),
    ("HEL-21", "Europe/Helsinki", "1990-11-21"),
    ("HEL-22", "Europe/Helsinki", "1990-11-22"),
    ("AKL-22", "Pacific/Auckland", "1990-11-22"),
    ("AKL-23", "Pacific/Auckland", "1990-11-23"),
]


@pytest.fixture(scope="module")
def detection(airflow_db, tmp_path_factory):
    import os

    from airflow.dag_processing.dagbag import DagBag

    from milestones.core.config import load_settings

    data = tmp_path_factory.mktemp("clock") / "data"
    extract = data.parent / f"customers_{DAY}.csv"
    with extract.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["customer_id", "first_name", "email", "customer_since", "marketing_opt_in",
                         "timezone", "date_of_birth", "locale"])
        for cid, zone, born in PEOPLE:
            writer.writerow([cid, "Ann", f"{cid.lower()}@example.org", "2015-06-01", "true", zone, born, "en"])
    old = os.environ.get("MILESTONES_DATA_DIR")
    os.environ["MILESTONES_DATA_DIR"] = str(data)
    try:
        pipeline.validate_stage(extract, load_settings())
        dag = DagBag(dag_folder=str(Path(__file__).resolve().parents[2] / "dags")).dags["milestone_detection"]

        def birthdays(**kwargs) -> dict[str, str]:
            run = dag.test(**kwargs)
            assert run.state == "success"
            events = storage.read_parquet(storage.stage_dir(data, "events", DAY) / "events.parquet")
            return {c: str(d)[:10] for c, d in zip(events["customer_id"], events["event_date"], strict=True)}

        clock = birthdays(logical_date=dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC))
        rerun = birthdays(logical_date=dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC), run_conf={"date": DAY})
        yield clock, rerun
    finally:
        if old is None:
            os.environ.pop("MILESTONES_DATA_DIR", None)
        else:
            os.environ["MILESTONES_DATA_DIR"] = old


def test_each_customer_has_their_own_date_at_the_runs_time(detection):
    clock, _ = detection
    assert clock == {"HNL-21": "2026-11-21", "HEL-22": "2026-11-22", "AKL-22": "2026-11-22"}


def test_a_rerun_of_a_date_is_that_calendar_day_everywhere(detection):
    _, rerun = detection
    assert rerun == {"HNL-22": "2026-11-22", "HEL-22": "2026-11-22", "AKL-22": "2026-11-22"}


@pytest.mark.parametrize("params, instant, expected", [
    ({}, dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)),
    ({}, dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC), dt.datetime(2026, 11, 23, 23, 0, tzinfo=dt.UTC)),
    ({}, dt.datetime(2026, 11, 24, 0, 0, tzinfo=dt.UTC), None),   # two days later: an old extract
    ({}, dt.datetime(2026, 11, 20, 23, 0, tzinfo=dt.UTC), None),
    ({"date": DAY}, dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC), None),
])
def test_run_instant(params, instant, expected):
    from types import SimpleNamespace

    from milestones.airflow.tasks import run_instant

    assert run_instant({"params": params, "logical_date": instant}, DAY) == expected
    # Asset-triggered runs have no logical date: the time they were triggered counts.
    assert run_instant({"params": params, "dag_run": SimpleNamespace(run_after=instant)}, DAY) == expected
