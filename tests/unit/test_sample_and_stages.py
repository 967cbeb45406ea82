from __future__ import annotations

import datetime as dt

from milestones.ingest.sample import generate
from milestones.pipeline import send_at_for


def test_generator_is_deterministic():
    assert generate(120, seed=7) == generate(120, seed=7)
    assert generate(120, seed=7) != generate(120, seed=8)


def test_sample_has_the_edge_cases():
    previous, current = generate(300)
    langs = {r["locale"].split("-")[0] for r in current}
    assert langs == {"en", "fi", "et", "zh"}
    assert len({r["timezone"] for r in current}) >= 5
    names = {r["first_name"] for r in current}
    assert any("<" in n for n in names) and any("{{" in n for n in names) and any('"' in n for n in names)
    assert any(r["date_of_birth"].endswith("-02-29") for r in current)
    assert any(r["email"] == "not-an-email" for r in current)
    assert any(r["marketing_opt_in"] == "false" for r in current)
    assert any(r["deceased"] == "true" for r in current)
    # New customers appear only in the current snapshot (5, and one person typed under 5 ids), one left.
    assert len({r["customer_id"] for r in current} - {r["customer_id"] for r in previous}) == 10
    assert len({r["customer_id"] for r in previous} - {r["customer_id"] for r in current}) == 1


def test_send_at_is_local_hour_and_never_in_the_past():
    day = dt.date(2026, 11, 22)
    early = dt.datetime(2026, 11, 21, 0, 0, tzinfo=dt.UTC)
    shanghai = send_at_for(day, "Asia/Shanghai", 9, early)
    new_york = send_at_for(day, "America/New_York", 9, early)
    assert dt.datetime.fromtimestamp(shanghai, dt.UTC) == dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)
    assert dt.datetime.fromtimestamp(new_york, dt.UTC) == dt.datetime(2026, 11, 22, 14, 0, tzinfo=dt.UTC)
    late = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
    assert send_at_for(day, "Asia/Shanghai", 9, late) == int(late.timestamp())


def test_message_columns_reach_arrow_as_given_strings_and_all():
    import pyarrow as pa

    from milestones.pipeline import large_strings

    values = ["", "Zoë", "李雷 <p>", "a" * 70_000, "x\u00a0y"]
    fast = large_strings(values)
    fast.validate(full=True)
    assert fast.type == pa.large_string() and fast.to_pylist() == values
    assert large_strings([]).to_pylist() == []
    assert large_strings(["a", None]).to_pylist() == ["a", None]  # not all text: Arrow's own conversion
