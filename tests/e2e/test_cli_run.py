"""``milestones run`` as a user runs it: a subprocess, JSON summary last, idempotent."""

from __future__ import annotations

import email
import email.policy
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.spam import SPAM_LIMIT, TRICKS, spam_scores

MILESTONES = str(Path(sys.executable).with_name("milestones"))


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([MILESTONES, *args], capture_output=True, text=True, timeout=300)


def test_run_twice_sends_once(tmp_path, sample_current, sample_previous):
    args = ("run", "--extract", str(sample_current), "--previous", str(sample_previous),
            "--as-of", "2026-11-22", "--at", "2026-11-22T06:00:00Z", "--data-dir", str(tmp_path))
    first = _run(*args)
    assert first.returncode == 0, first.stderr
    summary = json.loads(first.stdout.strip().splitlines()[-1])
    assert summary["rows"] == 322 and summary["quarantined"] == 12  # 7 bad rows, one person under 5 ids
    assert summary["transport"] == "outbox"
    assert set(summary["events"]) == {"birthday", "retirement", "marriage", "wedding_anniversary",
                                      "graduation", "new_child", "customer_anniversary"}
    emails = list((tmp_path / "outbox").glob("*.eml"))
    assert summary["emails_sent"] == len(emails) > 0
    assert summary["skipped"]["no_opt_in"] > 0 and summary["skipped"]["deceased"] > 0
    # The bundled sample shows every event in every language (what `make run` leaves in the outbox).
    pairs = set()
    for path in emails:
        mime = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        page = mime.get_body(("html",)).get_content()
        pairs.add((mime["X-Milestones-Event"], re.search(r'<html lang="([a-z]+)"', page).group(1)))
    assert pairs == {(e, lang) for e in summary["events"] for lang in ("en", "fi", "et", "zh")}, pairs
    # What was really sent (real and hostile names, every language) passes SpamAssassin too.
    scores = spam_scores([path.read_bytes() for path in emails])
    assert max(score for score, _ in scores) <= SPAM_LIMIT, sorted(scores)[-3:]
    assert not any(TRICKS.search(rules) for _, rules in scores)

    second = _run(*args)
    assert second.returncode == 0, second.stderr
    again = json.loads(second.stdout.strip().splitlines()[-1])
    assert again["emails_sent"] == 0
    assert again["skipped"]["already_sent"] == summary["emails_sent"]
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == len(emails)


def test_user_errors_are_one_line(tmp_path):
    missing = _run("run", "--extract", str(tmp_path / "customers_2026-11-22.csv"),
                   "--as-of", "2026-11-22", "--data-dir", str(tmp_path))
    assert missing.returncode == 3  # the file gate (README: missing or unreadable file)
    assert "Traceback" not in missing.stderr
    assert missing.stderr.strip().count("\n") == 0 and "no such file" in missing.stderr

    bad_date = _run("run", "--extract", "x.csv", "--as-of", "22.11.2026")
    assert bad_date.returncode == 2 and "not a date" in bad_date.stderr
