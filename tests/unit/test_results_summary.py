"""The marketers' results page: answers in words, the same numbers as `milestones uplift`, precomputed;
A/B decisions with their test stated."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from statsmodels.stats.proportion import proportions_ztest

from milestones.core.config import load_settings
from milestones.measure import abtest, summary, uplift
from tests.staff import staff_app

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    spec = importlib.util.spec_from_file_location("benchmarks_report", ROOT / "benchmarks" / "report.py")
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench
    spec.loader.exec_module(bench)
    work = tmp_path_factory.mktemp("results")
    bench.generate(work, 1500, days=20)
    return work


@pytest.fixture
def settings(generated, monkeypatch):
    monkeypatch.setenv("MILESTONES_DATA_DIR", str(generated / "data"))
    monkeypatch.setenv("MILESTONES_TEMPLATES_DIR", str(generated / "templates"))
    return load_settings()


def test_sentences_answer_first_in_words():
    row = {"group": "birthday", "contacted": 9000, "holdout": 1000, "lift": 0.012, "lift_ci_low": 0.004,
           "lift_ci_high": 0.020, "verdict": "significant"}
    assert summary.sentence(row, "Birthday emails", "purchase", 14) == (
        "significant", "Birthday emails raise purchases within 14 days by 1.2 points (95% interval 0.4 to 2.0): "
                       "significant")
    few = {**row, "lift": -0.68, "lift_ci_low": -0.9, "lift_ci_high": 0.1,
           "verdict": "too few customers: about 1,200 more held-out customers needed to see a lift of 1.0 points"}
    kind, words = summary.sentence(few, "Birthday emails", "purchase", 14)
    assert kind == "too-few" and words.endswith("too few held-out customers: about 1,200 more needed")
    none = {"group": "birthday", "contacted": 10, "holdout": 0, "lift": None, "verdict": "too few customers: ..."}
    assert summary.sentence(none, "Birthday emails", "purchase", 14)[1].endswith("too few held-out customers (none so far)")
    # One held-out customer who bought: never "not significant".
    one = uplift.Comparison("birthday", 300, 1, 96, 1).row()
    assert one["verdict"].startswith("too few customers")


def test_page_has_the_numbers_of_milestones_uplift(settings):
    written = summary.write(settings)
    stored = summary.read(settings)
    for by in uplift.BY:
        cli = json.loads(json.dumps(uplift.compute(settings, by=by)))
        assert [r["group"] for r in stored["uplift"][by]] == [r["group"] for r in cli]
        for ours, theirs in zip(stored["uplift"][by], cli, strict=True):
            # Counts and verdicts exactly; sums of values to rounding (Arrow adds them in threads).
            assert {k: v for k, v in ours.items() if not isinstance(v, float)} == {
                k: v for k, v in theirs.items() if not isinstance(v, float)}, (by, ours["group"])
            floats = [k for k, v in theirs.items() if isinstance(v, float)]
            assert [ours[k] for k in floats] == pytest.approx([theirs[k] for k in floats], rel=1e-12, abs=1e-12)
    assert [a["group"] for a in stored["answers"]][-1] == "all" and written["answers"]
    page = TestClient(staff_app()).get("/report/").text
    head = page.split('<ul class="answers"', 1)[1].split("</ul>", 1)[0]
    for answer in stored["answers"]:
        assert answer["text"].replace("'", "&#x27;") in head
    assert "contacted_conversions" not in page and "lift_ci_low" not in page  # readable headers
    assert "Held-out customers" in page and "95% interval (points)" in page
    birthday = next(r for r in stored["uplift"]["event_type"] if r["group"] == "birthday")
    assert f"{100 * birthday['lift']:.1f}" in page
    # The downloads are the stored files.
    client = TestClient(staff_app())
    assert client.get("/report/uplift.csv").text.startswith("group,contacted,holdout")
    assert client.get("/report/report.csv").text.startswith("date,event_type,locale,variant")


def test_refresh_recomputes_only_when_inputs_change(settings):
    import sqlite3

    first = summary.refresh(settings)
    assert first.get("summary") != "unchanged" or summary.read(settings)["inputs"]
    assert summary.refresh(settings)["summary"] == "unchanged"
    con = sqlite3.connect(Path(settings.data_dir) / "ledger.sqlite")
    con.execute("UPDATE emails SET updated_at = '2027-01-01 00:00:00.000000' WHERE rowid = 1")
    con.commit()
    con.close()
    assert summary.refresh(settings)["summary"] != "unchanged"


def _attributed(rates: dict[str, tuple[int, float]]) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    parts = []
    for variant, (n, rate) in rates.items():
        converted = np.zeros(n, bool)
        converted[rng.choice(n, int(round(n * rate)), replace=False)] = True
        parts.append(pd.DataFrame({"event_type": "birthday", "variant": variant, "group": "contacted",
                                   "converted": converted}))
    return pd.concat(parts, ignore_index=True)


def test_ab_winner_and_loser_with_the_test_stated():
    rows = abtest.decide(_attributed({"": (5000, 0.10), "short": (5000, 0.12), "loud": (5000, 0.08),
                                      "tiny": (300, 0.11)}))
    by = {r["variant"]: r for r in rows}
    assert by["short"]["decision"] == "wins" and by["loud"]["decision"] == "loses"
    assert by["tiny"]["decision"] == "no winner yet" and "more customers of this variant needed" in by["tiny"]["text"]
    ref = proportions_ztest([600, 500], [5000, 5000])[1]
    assert by["short"]["p_value"] == pytest.approx(ref, rel=1e-9)
    assert "two-proportion z-test" in by["short"]["test"] and "p < 0.05" in by["short"]["test"]
    assert abtest.decide(_attributed({"": (100, 0.1)})) == []  # no variants, no A/B test


def test_only_an_approver_sees_promote(settings, monkeypatch):
    from milestones.measure import results_page

    stored = summary.read(settings) or summary.write(settings) and summary.read(settings)
    stored = {**stored, "ab": abtest.decide(_attributed({"": (5000, 0.10), "short": (5000, 0.12)}))}
    assert 'action="../templates/birthday/promote"' in results_page.render(stored, approver=True)
    viewer = results_page.render(stored, approver=False)
    assert "promote" not in viewer and "wins: converts better than the base" in viewer


@pytest.mark.parametrize("days", [1, 3, 40])
def test_over_time_axes_span_the_data_only(days):
    import re

    from milestones.measure import charts

    index = pd.date_range("2026-11-22", periods=days)
    frame = pd.DataFrame({"detected": range(days), "contacted": range(days), "holdout": range(days)}, index=index)
    svg = charts.trend_chart(frame, ["detected", "contacted", "holdout"], "Events per day", "events")
    ticks = [re.sub(r"<[^>]+>|\s+", " ", t).strip()
             for t in re.findall(r'<g id="xtick_\d+">.*?<text[^>]*>(.*?)</text>', svg, re.S)]
    assert ticks and not [t for t in ticks if re.search(r"20(2[0-5]|2[7-9])", t)], ticks  # no empty years
    if days <= 3:
        assert ticks == [str(d.date()) for d in index]  # one labelled bar group per day
