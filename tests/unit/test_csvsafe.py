import csv
import io

import pandas as pd
import pytest

from milestones.core.csvsafe import safe_cell, safe_frame, write_rows

pytestmark = pytest.mark.unit

HOSTILE = ['=HYPERLINK("http://x","y")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_like_text_is_quoted(value):
    assert safe_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Ann", "", "a=b", "C000001", 5, -3, 1.5, None])
def test_plain_values_pass_unchanged(value):
    assert safe_cell(value) == value


def test_write_rows_round_trips_and_neutralises():
    rows = [{"id": v, "n": i} for i, v in enumerate(HOSTILE + ["plain"])]
    text = write_rows(rows, ["id", "n"])
    back = list(csv.DictReader(io.StringIO(text)))
    assert [r["id"] for r in back] == ["'" + v for v in HOSTILE] + ["plain"]
    assert [r["n"] for r in back] == [str(i) for i in range(len(HOSTILE) + 1)]


def test_safe_frame_touches_only_risky_text():
    frame = pd.DataFrame({"id": ["=1+1", "C1", None], "n": [-1, 2, 3]})
    out = safe_frame(frame)
    assert out["id"].tolist()[:2] == ["'=1+1", "C1"]
    assert pd.isna(out["id"].iloc[2])
    assert out["n"].tolist() == [-1, 2, 3]
    assert frame["id"].iloc[0] == "=1+1"  # the input is not modified
