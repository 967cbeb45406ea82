"""Consent proof: a change on the preference page records the wording version the customer saw and a
keyed hash of the client address (never the address); one-click records its own wording; the
export can carry the proof."""

from __future__ import annotations

import csv
import re

from milestones.core import links, pseudonym
from milestones.decide.preferences import Preferences
from milestones.decide.preferences_export import export
from milestones.public import pages
from tests.e2e.test_public_app import one_click, request, world  # noqa: F401 (fixture)


def test_page_and_one_click_changes_carry_their_proof(world, tmp_path):  # noqa: F811 (fixture)
    settings, base = world
    keys = links.load_keys(settings.data_dir)
    token = links.sign(keys, "C1", "aino@example.fi", "fi")
    url = f"{base}/preferences/{token}"
    csrf = re.search(r'name="csrf" value="([^"]+)"', request(url)[1]).group(1)
    response, _ = request(url, "POST", f"action=unsubscribe&csrf={csrf}".encode(),
                          {"Content-Type": "application/x-www-form-urlencoded", "Origin": base,
                           "Sec-Fetch-Site": "same-origin"})
    assert response.status == 303
    assert one_click(f"{base}/u/{links.sign(keys, 'C2', 'mari@example.ee', 'et')}")[0].status == 200

    store = Preferences(settings.ledger_database_url)
    [page] = store.history("C1")
    key = pseudonym.load_key(settings.data_dir)
    assert (page["source"], page["wording"]) == ("page", pages.wording_version("fi"))
    assert page["wording"].startswith("page-fi-") and page["at"] is not None
    assert page["client_hash"] == pseudonym.keyed_hash(key, "client", "127.0.0.1")
    assert "127.0.0.1" not in str(page)
    [click] = store.history("C2")
    assert (click["source"], click["wording"], click["client_hash"]) == ("one_click", "list-unsubscribe", None)

    out = tmp_path / "prefs.csv"
    export(settings.ledger_database_url, out, with_consent=True)
    rows = {r["customer_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["C1"]["consent_wording"] == page["wording"] and rows["C1"]["consent_source"] == "page"
    assert rows["C1"]["consent_client_hash"] == page["client_hash"]
    assert rows["C2"]["consent_wording"] == "list-unsubscribe" and rows["C2"]["consent_client_hash"] == ""
    plain = tmp_path / "plain.csv"
    export(settings.ledger_database_url, plain)
    assert "consent_wording" not in plain.read_text(encoding="utf-8").splitlines()[0]
