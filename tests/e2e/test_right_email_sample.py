"""`make run`'s day shows every rule of "the right email, or none", each with its reason in `why`."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

DAY = "2026-11-22"
AT = dt.datetime(2026, 11, 22, 6, tzinfo=dt.UTC)


def test_the_bundled_day_shows_each_rule(tmp_path, capsys, sample_current, sample_previous):
    from milestones import pipeline
    from milestones.cli import main
    from milestones.core.config import load_settings
    from milestones.measure import fates

    settings = load_settings(data_dir=tmp_path / "data")
    summary = pipeline.run(sample_current, DAY, settings, previous=sample_previous, at=AT)
    skipped = summary["skipped"]
    for reason in ("sensitive: marital_status widowed", "sensitive: marital_status divorced", "implausible_age",
                   "same_inbox_same_day", "couple_shared_email"):
        assert skipped.get(reason, 0) >= 1, (reason, skipped)
    assert summary["expired"] == 0 and summary["cancelled"] == 0 and summary["at"] == AT.isoformat()
    validation = pipeline.storage.read_json(settings.data_dir / "snapshots" / DAY / "validation.json")
    assert validation["reasons"]["customer_id:ambiguous"] == 5

    def why(customer: str) -> str:
        capsys.readouterr()
        assert main(["why", customer, "--data-dir", str(settings.data_dir)]) == 0
        return capsys.readouterr().out.splitlines()[0]

    assert "hurtful" in why("L000001") and "marital_status widowed" in why("L000001")
    assert "implausible" in why("L000003")
    assert why("L000006") == "no events detected for L000006"  # student -> unemployed: no graduation
    assert "email accepted (one email greeting this customer and L000010)" in why("L000009")
    partner = why("L000010")
    assert "greeted together" in partner and "L000009's, accepted" in partner

    mails = {}
    for path in (settings.data_dir / "outbox").glob("*.eml"):
        mime = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        mails.setdefault(mime["To"].lower(), []).append(mime)
    assert len(mails["virtaset@example.com"]) == 1 and "Anna ja Mikko" in mails["virtaset@example.com"][0]["Subject"]
    assert "王芳和李明" in mails["wang.li@example.com"][0]["Subject"]
    assert len(mails["shared@example.com"]) == 1  # Shared@Example.com and shared@example.com: one inbox
    assert not {"charlotte.smith@example.com", "grace.taylor@example.com", "emma.jones@example.com"} & set(mails)
    assert all(len(v) == 1 for v in mails.values())  # one milestone email per inbox

    facts = fates.build(settings.data_dir, settings.ledger_database_url)
    couple = facts[facts["customer_id"].isin(["L000009", "L000010"])]
    assert list(couple["group"]) == ["contacted", "contacted"]  # both of the couple were written to

    # Replayed three weeks later without --at's moment in time: the birthdays have expired.
    late = load_settings(data_dir=tmp_path / "late")
    again = pipeline.run(sample_current, DAY, late, previous=sample_previous,
                         at=dt.datetime(2026, 12, 13, 12, tzinfo=dt.UTC))
    assert again["expired"] > 0 and again["emails_sent"] + again["expired"] == summary["emails_sent"]
    assert "expired" in why_in(late, "C000000", capsys)


def why_in(settings, customer: str, capsys) -> str:
    from milestones.cli import main

    capsys.readouterr()
    assert main(["why", customer, "--data-dir", str(settings.data_dir)]) == 0
    return capsys.readouterr().out
