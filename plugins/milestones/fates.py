"""What became of every detected event: one row per decision, joined over whole columns.

The results report and the uplift both start here. Decisions (every detected event,
sent or skipped, with its reason), the rendered messages (locale, A/B variant), the
ledger (emails accepted, and what the webhook reported on each: delivered, opened,
clicked) and unsubscribes are read as columns and joined by the email key: no
per-row loop, whatever the number of days and customers.

``group`` is ``contacted`` (the email was accepted), ``holdout`` (decision skipped for
the holdout) or empty (skipped for any other reason, or not sent yet): only the first
two are compared when measuring uplift.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

CONTACTED, HOLDOUT = "contacted", "holdout"
FLAGS = ("delivered", "opened", "clicked", "unsubscribed")
UNSUBSCRIBING = ("unsubscribe", "group_unsubscribe")


def _day_paths(data_dir: Path, stage: str, name: str, since: dt.date | None, until: dt.date | None) -> list[str]:
    out = []
    for path in sorted((data_dir / stage).glob(f"*/{name}")):
        day = path.parent.name
        if (since and day < str(since)) or (until and day > str(until)):
            continue
        out.append(str(path))
    return out


def _read(paths: list[str], columns: dict[str, object]) -> pd.DataFrame:
    """The ``columns`` of every file in ``paths`` as one frame; a column a file lacks is null."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.dataset as ds

    schema = pa.schema([(name, kind) for name, kind in columns.items()])
    if not paths:
        return schema.empty_table().to_pandas()
    table = ds.dataset(paths, format="parquet", schema=schema).to_table(columns=list(columns))
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def _query(engine, sql: str, params: dict, columns: list[str]) -> pd.DataFrame:
    """Rows of ``sql`` through the database driver's cursor (no per-row ORM objects)."""
    import pandas as pd
    import sqlalchemy as sa

    with engine.connect() as conn:
        result = conn.execute(sa.text(sql), params)
        rows = result.fetchall()
    return pd.DataFrame.from_records(rows, columns=columns)


def ledger_facts(ledger_url: str, since: dt.date | None, until: dt.date | None) -> pd.DataFrame:
    """Accepted emails by key, with the webhook's delivered/opened/clicked/unsubscribed flags."""
    from milestones.feedback import Feedback

    engine = Feedback(ledger_url).engine
    bounds = {"since": str(since or "0000-00-00"), "until": str(until or "9999-99-99")}
    sent = _query(engine, "SELECT key, delivered_at IS NOT NULL, opened_at IS NOT NULL, clicked_at IS NOT NULL "
                          "FROM emails WHERE state = 'accepted' AND event_date BETWEEN :since AND :until",
                  bounds, ["key", "delivered", "opened", "clicked"])
    gone = _query(engine, "SELECT DISTINCT key FROM webhook_events WHERE event IN ('unsubscribe', "
                          "'group_unsubscribe') AND key IS NOT NULL", {}, ["key"])
    sent["unsubscribed"] = sent["key"].isin(gone["key"])
    for flag in FLAGS:
        sent[flag] = sent[flag].astype(bool)
    return sent


def latest_locales(data_dir: Path, until: dt.date | None) -> pd.Series:
    """Each customer's language (``fi`` for ``fi-FI``) in the latest snapshot up to ``until``."""
    import pandas as pd

    from milestones import storage

    limit = (until or dt.date.max.replace(year=9998)) + dt.timedelta(days=1)
    path = storage.latest_snapshot_before(data_dir, limit)
    if path is None:
        return pd.Series(dtype="string")
    people = pd.read_parquet(path, columns=["customer_id", "locale"]).drop_duplicates("customer_id")
    return people.set_index("customer_id")["locale"].str.split("-").str[0].str.lower()


def build(data_dir: Path | str, ledger_url: str, *, since: dt.date | None = None,
          until: dt.date | None = None, variant_of=None) -> pd.DataFrame:
    """One row per decision in ``[since, until]``: key, customer, event type and date, reason,
    ``locale`` (the email's, else the customer's language), ``variant``, ``group`` and the
    email flags.

    ``variant_of(frame)`` gives the A/B variant of compared events whose message does
    not name one: held-out events (never rendered) get the one their customer would
    have received.
    """
    import numpy as np

    data_dir = Path(data_dir)
    decisions = _read(_day_paths(data_dir, "decisions", "decisions.parquet", since, until),
                      {"key": "string", "customer_id": "string", "event_type": "string",
                       "event_date": "timestamp[ns]", "decision": "string", "reason": "string"})
    messages = _read(_day_paths(data_dir, "messages", "messages.parquet", since, None),
                     {"key": "string", "locale": "string", "variant": "string"}).drop_duplicates("key")
    facts = decisions.merge(messages, on="key", how="left")
    own = facts["customer_id"].map(latest_locales(data_dir, until))
    facts["locale"] = facts["locale"].fillna(own).fillna("-").astype("string")
    sent = ledger_facts(ledger_url, since, until)
    facts = facts.merge(sent, on="key", how="left")
    contacted = facts["delivered"].notna().to_numpy()
    for flag in FLAGS:
        facts[flag] = facts[flag].fillna(False).astype(bool)
    holdout = (facts["reason"] == "holdout").fillna(False).to_numpy()
    facts["group"] = np.where(contacted, CONTACTED, np.where(holdout, HOLDOUT, ""))
    facts["contacted"] = contacted
    facts["holdout"] = holdout
    if variant_of is not None:
        missing = facts["variant"].isna().to_numpy() & (holdout | contacted)
        if missing.any():
            facts.loc[missing, "variant"] = variant_of(facts.loc[missing, ["customer_id", "event_type"]])
    facts["variant"] = facts["variant"].fillna("").astype("string")
    return facts
