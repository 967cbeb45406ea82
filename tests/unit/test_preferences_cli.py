"""milestones preferences import / export: the CRM's side of customers' choices."""

from __future__ import annotations

import csv
import json

from milestones.cli import main
from milestones.core.config import load_settings
from milestones.decide.preferences import Change, Preferences


def test_import_then_export(tmp_path, capsys):
    data = tmp_path / "data"
    store = Preferences(load_settings(data_dir=data).ledger_database_url)
    store.apply("C1", Change(unsubscribed=True), "one_click", email="c1@example.fi")
    crm = tmp_path / "crm.csv"
    crm.write_text("customer_id,unsubscribed,opted_out_types,paused_until,email_language\n"
                   "C1,false,,,\n"                     # the CRM cannot undo the customer's unsubscribe
                   "C2,true,birthday graduation,,\n"
                   "C3,,,,klingon\n"                    # line 4: a language we do not write in
                   "=1+2,,,2027-01-31,fi\n"             # line 5: an id a spreadsheet would evaluate
                   "C6,maybe,,,\n", encoding="utf-8")  # line 6
    # All or nothing: bad rows refuse the file (exit 3), naming lines and columns, never values.
    assert main(["preferences", "import", str(crm), "--data-dir", str(data)]) == 3
    out, err = capsys.readouterr()
    assert out == "" and err == (
        "milestones: error: crm.csv: 3 bad row(s), nothing applied: line 4: email_language: not valid; "
        "line 5: customer_id: starts like a spreadsheet formula (=, +, -, @); line 6: unsubscribed: not valid\n")
    assert not store.get("C2").exists
    crm.write_text("customer_id,unsubscribed,opted_out_types,paused_until,email_language\n"
                   "C1,false,,,\n"
                   "C2,true,birthday graduation,,\n"
                   "C3,,,,fi\n"
                   "C5,,,2027-01-31,fi\n", encoding="utf-8")
    assert main(["preferences", "import", str(crm), "--data-dir", str(data)]) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert (summary["applied"], summary["refused"], summary["error_count"]) == (3, 1, 1)
    assert summary["errors"] == ["line 2: only the customer can undo an unsubscribe"]
    assert store.get("C1").unsubscribed
    assert store.get("C2").opted_out == frozenset({"birthday", "graduation"})
    assert {h["source"] for h in store.history("C2")} == {"crm_import"}

    out = tmp_path / "export.csv"
    assert main(["preferences", "export", "--out", str(out), "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["customers"] == 4
    with open(out, encoding="utf-8", newline="") as fh:
        rows = {r["customer_id"]: r for r in csv.DictReader(fh)}
    assert rows["C1"]["unsubscribed"] == "true" and rows["C1"]["updated_by"] == "one_click"
    assert rows["C2"]["opted_out_types"] == "birthday graduation"
    assert rows["C5"]["paused_until"] == "2027-01-31"
    assert main(["preferences", "export", "--since", "2999-01-01", "--out", str(out),
                 "--data-dir", str(data)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["customers"] == 0
    assert main(["preferences", "export", "--out", str(tmp_path / "x.txt"), "--data-dir", str(data)]) == 2
