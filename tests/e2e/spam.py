"""SpamAssassin (Debian's package) over many emails in one process: local tests only, no Bayes."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

#: The issue's bound for every email's score.
SPAM_LIMIT = 1.0
#: Rules that would mean the score was reached by hiding text or by an image-only email.
TRICKS = re.compile(r"FONT_INVIS|LOW_CONTRAST|HTML_IMAGE_ONLY|HIDDEN")
_STATUS = re.compile(rb"X-Spam-Status: \w+, score=(-?[\d.]+) required=[\d.]+ tests=((?:[^\n]|\n\t)*)")


def spam_scores(messages: list[bytes]) -> list[tuple[float, str]]:
    """``(score, rules hit)`` for each RFC 5322 message, in order (one spamassassin run, as an mbox)."""
    assert shutil.which("spamassassin"), "spamassassin missing: scripts/test-deps.sh installs it"
    mbox = b"".join(b"From milestones@localhost Mon Nov 30 12:00:00 2026\n"
                    + re.sub(rb"(?m)^From ", b">From ", raw.replace(b"\r\n", b"\n")) + b"\n" for raw in messages)
    with tempfile.TemporaryDirectory() as tmp:
        prefs = Path(tmp) / "user_prefs"
        prefs.write_text("use_bayes 0\nbayes_auto_learn 0\n")
        proc = subprocess.run(["spamassassin", "--local", "--test-mode", "--mbox", "--prefspath", str(prefs)],
                              input=mbox, capture_output=True, timeout=600, check=True)
    found = _STATUS.findall(proc.stdout)
    assert len(found) == len(messages), (len(found), len(messages))
    return [(float(score), " ".join(rules.decode().split())) for score, rules in found]
