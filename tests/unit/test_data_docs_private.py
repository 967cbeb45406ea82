"""Data Docs show counts, columns and rows, never a cell value (an invalid address is still personal data)."""

from __future__ import annotations

import datetime as dt

from milestones.ingest.validation import validate_frame, write_data_docs
from tests.unit.test_validation import GOOD, _frame


def test_data_docs_pages_and_stored_results_hold_no_cell_value(tmp_path):
    bad = [{**GOOD, "customer_id": "PRIV-1", "email": "two@@example.com"},
           {**GOOD, "customer_id": "PRIV-2", "date_of_birth": "1990-02-30", "first_name": "Ilmatar"},
           {**GOOD, "customer_id": "PRIV-3", "email": "Väinö.Sällinen@@example.fi"}]
    result = validate_frame(_frame([GOOD, *bad]), as_of=dt.date(2026, 11, 22),
                            extract_name="customers_2026-11-22.csv", max_invalid_share=1.0)
    assert result.quarantined == 3
    page = write_data_docs(result.gx_results, tmp_path, "customers_2026-11-22.csv")
    html = page.read_text(encoding="utf-8")
    assert "email" in html and "date_of_birth" in html  # the columns are shown
    for path in tmp_path.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="ignore")
            for value in ("two@@example.com", "1990-02-30", "PRIV-", "lline@@", "S\\u00e4llinen", "Sällinen"):
                assert value not in text, (path.name, value)


def test_a_second_build_in_the_process_compiles_no_template_and_shows_the_same_page(tmp_path, monkeypatch):
    import re

    import jinja2

    result = validate_frame(_frame([GOOD, {**GOOD, "customer_id": "PRIV-9", "email": "x@@example.com"}]),
                            as_of=dt.date(2026, 11, 22), extract_name="customers_2026-11-22.csv",
                            max_invalid_share=1.0)
    first = write_data_docs(result.gx_results, tmp_path / "a", "customers_2026-11-22.csv")
    compiled = []
    real = jinja2.Environment.compile
    monkeypatch.setattr(jinja2.Environment, "compile", lambda self, *a, **k: compiled.append(1) or real(self, *a, **k))
    second = write_data_docs(result.gx_results, tmp_path / "b", "customers_2026-11-22.csv")
    assert compiled == []  # every template came from the process's shared bytecode

    def text(page):  # the page without what differs per build (element ids, build times, paths)
        html = page.read_text(encoding="utf-8")
        html = re.sub(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "ID", html)
        html = re.sub(r"\d{8}T\d{6}\.\d{6}Z|\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?(\+00:00|Z)?", "TIME", html)
        return html.replace(str(tmp_path / "a"), "ROOT").replace(str(tmp_path / "b"), "ROOT")

    assert "email" in text(second) and text(second) == text(first)
