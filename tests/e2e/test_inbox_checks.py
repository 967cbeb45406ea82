"""Every template x language x variant through tools this project did not write.

* SpamAssassin (Debian's package, local tests only, no Bayes): one process reads
  every email as an mbox; each score must be at most 1.0.
* caniemail's checker (``@jsx-email/doiuse-email``), one node process for every
  email: no feature the listed clients lack, except Outlook for Windows' and
  Gmail's mobile webmail's, whose fallbacks the README documents.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
from pathlib import Path

import pytest

from milestones.core.brand import load_brand
from milestones.deliver.delivery import build_mime
from milestones.render.catalog import load_catalog
from milestones.render.preview import cases
from milestones.render.rendering import Renderer
from tests.e2e.spam import SPAM_LIMIT, TRICKS, spam_scores

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates"
#: What customers see: the emails with a brand (the fictional example bank), and its sender.
BRAND = load_brand(TEMPLATES / "brands" / "example-bank.yaml", templates_dir=TEMPLATES)
SENDER = {"from_email": "hello@northstar-bank.example", "from_name": BRAND.name,
          "message_domain": BRAND.sending_domain, "unsubscribe_mailto": "unsubscribe@northstar-bank.example"}
VIEW = "https://email.northstar-bank.example/v/check-token"
PREFS = "https://milestones.example/preferences?t=check-token"

#: Clients that must show no unsupported feature at all (caniemail's names).
CLEAN_CLIENTS = ["gmail.desktop-webmail", "gmail.ios", "gmail.android", "apple-mail.macos", "apple-mail.ios",
                 "yahoo.desktop-webmail", "yahoo.ios", "yahoo.android", "outlook.macos", "outlook.outlook-com"]
#: Clients allowed what they lack, each with the fallback the README documents.
FALLBACKS = {
    # Media queries are ignored: the 600 px ghost table (<!--[if mso]>) keeps the desktop layout,
    # light colours only. Rounded corners are square.
    "outlook.windows": {"@media", "border-radius"},
    # Gmail's basic mobile webmail ignores media queries: the fluid tables still fit, light colours only;
    # and type selectors: the body margin reset (rendering.RESET_CSS) does not apply, Gmail's frame stays.
    "gmail.mobile-webmail": {"@media", "Type selector"},
}


def _emails() -> dict[str, dict]:
    """Every gallery case, and each template x locale once more for a customer with no name."""
    renderer = Renderer(TEMPLATES, brand=BRAND, assets_url="https://email.northstar-bank.example/assets")
    out: dict[str, dict] = {}
    for case in cases(load_catalog(TEMPLATES)):
        for label, first in (("", None), ("/no-name", "")):
            if label and not case.variant.startswith(("regular", "first-year")):
                continue
            context = {**case.context, "preferences_url": PREFS, "view_url": VIEW}
            if first is not None:
                context["customer"] = {**context["customer"], "first_name": first, "last_name": ""}
            r = renderer.render(case.event_type, case.locale, context)
            out[case.slug + label] = {
                "key": (case.slug + label).replace("/", "-"), "email": "customer@example.com", "customer_id": "C1",
                "event_type": case.event_type, "subject": r.subject, "html": r.html, "text": r.text,
                "unsubscribe_url": context["unsubscribe_url"],
            }
    return out


@pytest.fixture(scope="module")
def emails():
    return _emails()


@pytest.mark.needs("spamassassin")
def test_spamassassin_scores_every_email_at_most_one(emails):
    names = list(emails)
    raws = [build_mime(emails[name], **SENDER) for name in names]
    results = dict(zip(names, spam_scores(raws), strict=True))
    scores = [score for score, _ in results.values()]
    print(f"spamassassin: {len(scores)} emails, max {max(scores):.1f}, mean {statistics.mean(scores):.2f}")
    over = {name: result for name, result in results.items() if result[0] > SPAM_LIMIT}
    assert not over, over
    # Not reached by tricks: no hidden or tiny text, no image-only HTML.
    for name, (_, rules) in results.items():
        assert not TRICKS.search(rules), (name, rules)


@pytest.mark.needs("node", "doiuse-email")
def test_caniemail_finds_no_unsupported_feature(emails):
    assert shutil.which("node"), "node missing"
    clients = CLEAN_CLIENTS + list(FALLBACKS)
    payload = {"clients": clients, "emails": {name: e["html"] for name, e in emails.items()}}
    proc = subprocess.run(["node", str(Path(__file__).with_name("caniemail.js"))], input=json.dumps(payload),
                          capture_output=True, text=True, timeout=300, cwd=ROOT, check=True)
    result = json.loads(proc.stdout)
    assert set(result) == set(emails)
    per_client = {c: sorted({f for email in result.values() for f in email[c]}) for c in clients}
    print("caniemail unsupported per client:", json.dumps(per_client))
    for client in CLEAN_CLIENTS:
        assert per_client[client] == [], (client, per_client[client])
    for client, allowed in FALLBACKS.items():
        assert set(per_client[client]) <= allowed, (client, per_client[client])
