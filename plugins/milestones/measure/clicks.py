"""Clicks per link: which link of which email the customers clicked (SendGrid's click events).

Each ``click`` event the webhook stored carries the URL clicked. A link is named by its
host and path, without the query (the UTM tags, which every tagged link of an email
shares) and with a customer's token replaced by ``…`` (preference, unsubscribe and view
links hold one each), so links of different customers add up and no token is shown.
Counted per event type and link: clicks, and emails with at least one click on it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from typing import Any
from urllib.parse import parse_qs, urlsplit

COLUMNS = ["event_type", "link", "utm_content", "clicks", "emails"]
#: Paths whose last segment is a customer's (or an email's) token.
_TOKEN_PATH = re.compile(r"^(.*/(?:u|preferences|v))/[A-Za-z0-9_-]{16,}$")


def link_label(url: str) -> str:
    """``https://bank.example/offers/birthday?utm_...`` -> ``bank.example/offers/birthday``."""
    parts = urlsplit(str(url or ""))
    if not parts.netloc:
        return "(no url)"
    path = _TOKEN_PATH.sub(r"\1/…", parts.path.rstrip("/")) if parts.path else ""
    return f"{parts.netloc.lower()}{path}"


def clicks(ledger_url: str, *, since: dt.date | None = None, until: dt.date | None = None) -> list[dict[str, Any]]:
    """Rows of :data:`COLUMNS`, most clicked first, from the click events stored in the ledger's database."""
    import sqlalchemy as sa

    from milestones.measure.feedback import Feedback, webhook_events

    engine = Feedback(ledger_url).engine
    query = sa.select(webhook_events.c.key, webhook_events.c.event_type, webhook_events.c.occurred_at,
                      webhook_events.c.payload).where(webhook_events.c.event == "click")
    counts: dict[tuple[str, str, str], list] = defaultdict(lambda: [0, set()])
    with engine.connect() as conn:
        for key, event_type, occurred, payload in conn.execute(query):
            day = occurred.date() if occurred is not None else None
            if (since and day and day < since) or (until and day and day > until):
                continue
            try:
                url = str(json.loads(payload).get("url") or "")
            except (ValueError, AttributeError):
                url = ""
            content = (parse_qs(urlsplit(url).query).get("utm_content") or [""])[0]
            slot = counts[(str(event_type or ""), link_label(url), content)]
            slot[0] += 1
            slot[1].add(key)
    rows = [{"event_type": e, "link": link, "utm_content": content, "clicks": n, "emails": len(keys)}
            for (e, link, content), (n, keys) in counts.items()]
    return sorted(rows, key=lambda r: (-r["clicks"], r["event_type"], r["link"]))
