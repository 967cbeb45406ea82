"""The GX suite runner: one configuration per expectation per run changes no result."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest

from milestones.ingest import gx_suite
from milestones.ingest.validation import validate_frame
from tests.unit.test_validation import AS_OF, BAD, GOOD

pytestmark = pytest.mark.unit


def _hostile() -> pd.DataFrame:
    rows = [{**GOOD, **change, "customer_id": change.get("customer_id", f"BAD{i}")}
            for i, (change, _) in enumerate(BAD)]
    rows += [{**GOOD, "customer_id": f"OK{i}", "email": f"ok{i}@example.com"} for i in range(5)]
    rows += [{**GOOD, "customer_id": "DUP"}, {**GOOD, "customer_id": "DUP", "first_name": "Other"}]
    return pd.DataFrame(rows).astype("string")


def _validated(frame: pd.DataFrame):
    # Two chunks: the merged results of several runs are compared too.
    result = validate_frame(frame, as_of=AS_OF, extract_name="customers_2026-11-22.csv",
                            max_invalid_share=1.0, chunk_rows=20)
    quarantine = result.quarantine[["row_number", "reasons"]].to_dict("records")
    return quarantine, [r.to_json_dict() for r in result.gx_results], result.summary()


def test_results_equal_gx_own_configuration_property(monkeypatch):
    frame = _hostile()
    once = _validated(frame)
    # GX's property and graph building unchanged: a new configuration on every look-up and a
    # new metric graph for every chunk.
    monkeypatch.setattr(gx_suite, "_one_configuration_each", lambda *_: contextlib.nullcontext())
    assert _validated(frame) == once
    assert once[2]["quarantined"] == len(BAD) + 2


def test_one_configuration_per_expectation_only_inside_a_run():
    from milestones.ingest import gx_import

    gx = gx_import.load()
    gx_suite._configuration_once()
    expectation = gx.expectations.ExpectColumnValuesToBeNull(column="_x", meta={"reason": "r"})
    assert expectation.configuration is not expectation.configuration  # outside a run: GX's own
    with gx_suite._one_configuration_each({}, 0):
        first = expectation.configuration
        assert expectation.configuration is first
        other = gx.expectations.ExpectColumnValuesToBeNull(column="_y")
        assert other.configuration is not first and other.configuration.kwargs["column"] == "_y"
    assert expectation.configuration is not first
    assert expectation.configuration.to_json_dict() == first.to_json_dict()


def test_the_metric_graphs_are_built_once_per_batch_and_only_inside_a_run(monkeypatch):
    import datetime as dt

    gx_suite.suite_for.cache_clear()  # a suite with no graphs yet
    built = []
    real = gx_suite._gx_graphs
    monkeypatch.setattr(gx_suite, "_gx_graphs", lambda validator, **kw: built.append(1) or real(validator, **kw))
    frame = _hostile()
    assert len(frame) > 30  # four chunks of 10 rows
    result = validate_frame(frame, as_of=AS_OF - dt.timedelta(days=3), extract_name="customers.csv",
                            max_invalid_share=1.0, chunk_rows=10)
    assert result.rows == len(frame) and result.quarantined > 0
    fresh = gx_suite.suite_for(AS_OF - dt.timedelta(days=3))
    assert len(built) == len(fresh._suites)  # once per batch, for the first of four chunks
    # Outside a run (no suite's store on this thread): GX's own, every time.
    from milestones.ingest import gx_import

    gx = gx_import.load()
    context_frame = pd.DataFrame({"a": [1, None]})
    batch = fresh._definition.get_batch(batch_parameters={"dataframe": context_frame})
    plain = gx.ExpectationSuite(name="plain")
    plain.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column="a"))
    before = len(built)
    batch.validate(plain)
    batch.validate(plain)
    assert len(built) == before + 2


def test_one_suite_per_snapshot_date_and_one_gx_context_per_process():
    import datetime as dt

    day = gx_suite.suite_for(AS_OF)
    assert gx_suite.suite_for(AS_OF) is day
    other = gx_suite.suite_for(AS_OF - dt.timedelta(days=1))
    assert other is not day and other._definition is day._definition
    # The rules differ by date: a birth date on the later day is in the future only for the earlier one.
    assert other._suites != day._suites
