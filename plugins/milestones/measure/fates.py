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


def _read(paths: list[Path], columns: dict[str, object]):
    """The ``columns`` of every file in ``paths`` as one Arrow table; a column a file lacks is null."""
    import pyarrow as pa

    from milestones.core import storage

    schema = pa.schema([(name, kind) for name, kind in columns.items()])
    if not paths:
        return schema.empty_table()
    return storage.read_table(paths, columns=list(columns), schema=schema)


def _query(engine, sql: str) -> list[tuple]:
    """Rows of ``sql`` as plain tuples from the database driver's cursor (no per-row result objects)."""
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(sql)
        return cursor.fetchall()
    finally:
        raw.close()


def ledger_facts(ledger_url: str, since: dt.date | None, until: dt.date | None):
    """Accepted emails by key, with the webhook's delivered/opened/clicked/unsubscribed flags (Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from milestones.measure.feedback import Feedback

    engine = Feedback(ledger_url).engine
    # Dates only (dt.date renders as YYYY-MM-DD), so the bounds are safe to write into the SQL.
    low, high = str(since or "0000-00-00"), str(until or "9999-99-99")
    rows = _query(engine, "SELECT key, CASE WHEN delivered_at IS NULL THEN 0 ELSE 1 END, "
                          "CASE WHEN opened_at IS NULL THEN 0 ELSE 1 END, CASE WHEN clicked_at IS NULL THEN 0 ELSE 1 END "
                          f"FROM emails WHERE state = 'accepted' AND event_date BETWEEN '{low}' AND '{high}'")
    gone = [k for (k,) in _query(engine, "SELECT DISTINCT key FROM webhook_events WHERE event IN ('unsubscribe', "
                                         "'group_unsubscribe') AND key IS NOT NULL")]
    columns = list(zip(*rows, strict=True)) if rows else [[], [], [], []]
    keys = pa.array(columns[0], pa.string())
    table = pa.table({"key": keys, **{flag: pa.array(col, pa.int8()).cast(pa.bool_())
                                      for flag, col in zip(FLAGS[:3], columns[1:], strict=True)}})
    return table.append_column("unsubscribed", pc.is_in(keys, value_set=pa.array(gone, pa.string())))


def latest_locales(data_dir: Path, until: dt.date | None):
    """Each customer's language (``fi`` for ``fi-FI``) in the latest snapshot up to ``until`` (Arrow)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from milestones.core import storage

    limit = (until or dt.date.max.replace(year=9998)) + dt.timedelta(days=1)
    path = storage.latest_snapshot_before(data_dir, limit)
    if path is None:
        return pa.table({"customer_id": pa.array([], pa.string()), "own_locale": pa.array([], pa.string())})
    people = storage.read_table([path], columns=["customer_id", "locale"])
    people = people.group_by("customer_id").aggregate([("locale", "min")])
    language = pc.utf8_lower(pc.list_element(pc.split_pattern(people.column("locale_min").cast(pa.string()), "-"), 0))
    return pa.table({"customer_id": people.column("customer_id").cast(pa.string()), "own_locale": language})


def build(data_dir: Path | str, ledger_url: str, *, since: dt.date | None = None,
          until: dt.date | None = None, variant_of=None) -> pd.DataFrame:
    """One row per decision in ``[since, until]``: key, customer, event type and date, reason,
    ``locale`` (the email's, else the customer's language), ``variant``, ``group`` and the
    email flags.

    ``variant_of(frame)`` gives the A/B variant of compared events whose message does
    not name one: held-out events (never rendered) get the one their customer would
    have received.
    """
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from milestones.core import storage

    data_dir = storage.locate(data_dir)
    decisions = _read(storage.day_files(data_dir, "decisions", "decisions.parquet", since, until),
                      {"key": pa.string(), "customer_id": pa.string(), "event_type": pa.string(),
                       "event_date": pa.timestamp("ns"), "decision": pa.string(), "reason": pa.string(),
                       "shared_key": pa.string()})
    # A couple's partner was contacted by the one email greeting both (decide.inbox): their fate is its.
    couple = pc.fill_null(pc.equal(decisions.column("reason"), "couple_shared_email"), False)
    decisions = decisions.append_column("email_key", pc.if_else(couple, decisions.column("shared_key"),
                                                                decisions.column("key")))
    messages = _read(storage.day_files(data_dir, "messages", "messages.parquet", since, None),
                     {"key": pa.string(), "locale": pa.string(), "variant": pa.string()})
    # One row per key (a key rendered twice keeps one locale and variant), then Arrow's hash joins.
    messages = messages.group_by("key").aggregate([("locale", "min"), ("variant", "min")]).rename_columns(
        ["email_key", "locale", "variant"])
    facts_of = ledger_facts(ledger_url, since, until)
    table = (decisions.join(messages, "email_key", join_type="left outer")
             .join(facts_of.rename_columns({"key": "email_key"}), "email_key", join_type="left outer")
             .join(latest_locales(data_dir, until), "customer_id", join_type="left outer"))
    contacted = pc.is_valid(table.column("delivered"))
    holdout = pc.fill_null(pc.equal(table.column("reason"), "holdout"), False)
    columns = {name: table.column(name) for name in ("key", "customer_id", "event_type", "event_date", "decision",
                                                     "reason", "variant")}
    columns["locale"] = pc.coalesce(table.column("locale"), table.column("own_locale"), pa.scalar("-"))
    columns |= {flag: pc.fill_null(table.column(flag), False) for flag in FLAGS}
    columns["group"] = pc.if_else(contacted, CONTACTED, pc.if_else(holdout, HOLDOUT, ""))
    columns["contacted"], columns["holdout"] = contacted, holdout
    facts = pa.table(columns).to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)
    contacted, holdout = facts["contacted"].to_numpy(), facts["holdout"].to_numpy()
    if variant_of is not None:
        missing = facts["variant"].isna().to_numpy() & (holdout | contacted)
        if missing.any():
            facts.loc[missing, "variant"] = variant_of(facts.loc[missing, ["customer_id", "event_type"]])
    facts["variant"] = facts["variant"].fillna("").astype("string")
    return facts
