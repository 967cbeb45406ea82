"""Life-event detection, vectorised, from rules declared in ``rules/events.yaml``.

Date events fall on the calendar day in each customer's own time zone; change
events come from comparing the current validated snapshot with the previous
one.  Every event carries a deterministic ``key`` so that re-runs, retries and
backfills never create a second event:

* annual events (birthday, anniversaries): customer, type, occurrence date
  (ISO ``YYYY-MM-DD``);
* one-off events (retirement, marriage, graduation, new child): customer, type,
  year, so a marriage seen both as a status change and as a wedding date in the
  same year is one marriage.

The key is 32 hex characters of SipHash-2-4 under two fixed keys (see
:func:`event_keys`), computed for whole columns at once.

Nothing here loops over customers: columns are compared whole with numpy, and
time zones are handled one zone at a time (a few hundred at most).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

RULES_FILE = Path(__file__).with_name("rules") / "events.yaml"
EVENT_COLUMNS = ["customer_id", "event_type", "event_date", "years", "milestone", "source", "key",
                 "days_late", "stale"]
KINDS = ("annual", "on_date", "change")


@dataclass(frozen=True)
class Trigger:
    kind: str
    column: str
    milestones: tuple[int, ...] = ()
    to: tuple[str, ...] = ()
    from_: tuple[str, ...] = ()
    increased: bool = False
    set: bool = False


@dataclass(frozen=True)
class EventRule:
    event_type: str
    max_age_days: int
    triggers: tuple[Trigger, ...] = field(default_factory=tuple)
    #: (column, values) of the current record that make this greeting hurtful (``never_when``).
    never_when: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: Plausible age in whole years on the event's day (``age_at_event``), None = unbounded.
    age_min: int | None = None
    age_max: int | None = None

    @property
    def annual(self) -> bool:
        return all(t.kind == "annual" for t in self.triggers)


def parse_rules(data: dict[str, Any], source: str = "rules") -> tuple[EventRule, ...]:
    """Turn the YAML mapping into rules, with a clear error for every mistake."""
    events = data.get("events")
    if not isinstance(events, dict) or not events:
        raise ValueError(f"{source}: expected a non-empty 'events' mapping")
    rules = []
    for name, spec in events.items():
        where = f"{source}: event {name!r}"
        if not isinstance(spec, dict) or not spec.get("triggers"):
            raise ValueError(f"{where}: needs 'triggers'")
        triggers = []
        for t in spec["triggers"]:
            kind = t.get("kind")
            if kind not in KINDS:
                raise ValueError(f"{where}: unknown trigger kind {kind!r} (use {', '.join(KINDS)})")
            if not t.get("column"):
                raise ValueError(f"{where}: a {kind} trigger needs 'column'")
            if kind == "change" and not (t.get("to") or t.get("from") or t.get("increased") or t.get("set")):
                raise ValueError(f"{where}: a change trigger needs one of to, from, increased, set")
            triggers.append(Trigger(kind=kind, column=t["column"],
                                    milestones=tuple(int(m) for m in t.get("milestones", ())),
                                    to=tuple(t.get("to", ())), from_=tuple(t.get("from", ())),
                                    increased=bool(t.get("increased")), set=bool(t.get("set"))))
        kinds = {t.kind for t in triggers}
        if "annual" in kinds and kinds != {"annual"}:
            raise ValueError(f"{where}: annual triggers cannot be mixed with one-off ones")
        never = spec.get("never_when") or {}
        if not isinstance(never, dict) or not all(isinstance(v, list) and v for v in never.values()):
            raise ValueError(f"{where}: never_when maps a column to a non-empty list of values")
        ages = spec.get("age_at_event") or {}
        if not isinstance(ages, dict) or set(ages) - {"min", "max"}:
            raise ValueError(f"{where}: age_at_event takes min and max (whole years)")
        low, high = ages.get("min"), ages.get("max")
        if low is not None and high is not None and int(low) > int(high):
            raise ValueError(f"{where}: age_at_event min {low} is above max {high}")
        rules.append(EventRule(str(name), int(spec.get("max_age_days", 3)), tuple(triggers),
                               never_when=tuple((str(c), tuple(str(v) for v in vals)) for c, vals in never.items()),
                               age_min=None if low is None else int(low), age_max=None if high is None else int(high)))
    return tuple(rules)


@lru_cache(maxsize=8)
def load_rules(path: Path | str = RULES_FILE) -> tuple[EventRule, ...]:
    from milestones.core.yamlload import safe_load

    with open(path, encoding="utf-8") as fh:
        return parse_rules(safe_load(fh) or {}, str(path))


def columns_read(rules: tuple[EventRule, ...]) -> list[str]:
    """The snapshot columns :func:`detect_events` reads for ``rules``: ids, zones, trigger columns.

    Detection loads only these from the snapshot files: names, addresses and
    e-mails, most of a snapshot's bytes, are never needed to find an event.
    """
    return ["customer_id", "timezone", *sorted({t.column for r in rules for t in r.triggers})]


def columns_compared(rules: tuple[EventRule, ...]) -> list[str]:
    """The columns of the *previous* snapshot :func:`detect_events` reads: ids and the columns
    of ``change`` triggers (dates and zones are read from today's snapshot only)."""
    return ["customer_id", *sorted({t.column for r in rules for t in r.triggers if t.kind == "change"})]


#: Two SipHash-2-4 keys (16 characters each): two independent 64-bit hashes make a
#: 128-bit key.  Changing them changes every event key, so existing ledgers would send
#: again: never edit them (tests pin a known key).
_KEY_SALTS = ("milestones:key:1", "milestones:key:2")


def event_keys(customer_id, event_type, occurrence) -> np.ndarray:
    """Stable idempotency keys, 32 hex characters each, for whole columns at once.

    The key hashes ``customer_id \x1f event_type \x1f occurrence`` (the occurrence is
    an ISO date for annual events, a year for one-off events) with SipHash-2-4 under
    two fixed keys (pandas' ``hash_array``, C code, no Python loop per event).  128
    bits: a collision among billions of events is vanishingly unlikely.  The joined
    text is unambiguous even if an id holds ``\x1f``: event types and occurrences
    never do, so the last two separators split it.
    """
    import numpy as np
    import pandas as pd

    raw = pd.Series(customer_id, dtype="string").reset_index(drop=True).str.cat(
        [pd.Series(event_type, dtype="string").reset_index(drop=True),
         pd.Series(occurrence, dtype="string").reset_index(drop=True)], sep="\x1f")
    values = raw.to_numpy(dtype=object)
    halves = [pd.util.hash_array(values, hash_key=k, categorize=False) for k in _KEY_SALTS]
    # Hex without a loop: 16 big-endian bytes -> 32 nibbles -> ASCII digits -> 'S32'.
    octets = np.stack(halves, axis=1).astype(">u8").view(np.uint8).reshape(len(values), 16)
    nibbles = np.empty((len(values), 32), dtype=np.uint8)
    nibbles[:, 0::2], nibbles[:, 1::2] = octets >> 4, octets & 0x0F
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[nibbles]
    return np.ascontiguousarray(digits).view("S32").ravel().astype("U32").astype(object)


def event_key(customer_id: str, event_type: str, occurrence: dt.date | str) -> str:
    """The key of one event (same as :func:`event_keys` gives for it)."""
    return str(event_keys([customer_id], [event_type], [str(occurrence)])[0])


def local_dates(snapshot: pd.DataFrame, *, as_of: dt.date | None = None,
                instant: dt.datetime | None = None, default_timezone: str = "UTC") -> np.ndarray:
    """Each customer's calendar date (datetime64[D]): ``as_of`` for all, or ``instant`` in their zone.

    With an instant, customers are grouped by time zone, so the conversion is one
    call per zone, not per customer.
    """
    import zoneinfo

    import numpy as np

    if instant is None:
        if as_of is None:
            raise ValueError("give as_of or instant")
        return np.full(len(snapshot), np.datetime64(as_of, "D"))
    if instant.tzinfo is None:
        raise ValueError("instant must be timezone-aware")
    zones = snapshot["timezone"].fillna(default_timezone).to_numpy(dtype=object)
    names, inverse = np.unique(zones, return_inverse=True)
    per_zone = np.array([np.datetime64(instant.astimezone(zoneinfo.ZoneInfo(z)).date(), "D")
                         for z in names])
    return per_zone[inverse]


def _month_day(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month*100+day) of datetime64[D] values, vectorised; NaT gives garbage, mask it."""
    import numpy as np

    years = days.astype("datetime64[Y]")
    months = days.astype("datetime64[M]")
    month = (months - years).astype(np.int64) + 1
    day = (days - months).astype(np.int64) + 1
    return years.astype(np.int64) + 1970, month * 100 + day, month


def _is_leap(year: np.ndarray) -> np.ndarray:
    return ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)


def _frame(pos, event_type, dates, years, milestone, source):
    """Events as row positions in the snapshot: ids are looked up once, at the end."""
    import pandas as pd

    return pd.DataFrame({"pos": pos, "event_type": event_type, "event_date": dates,
                         "years": years, "milestone": milestone, "source": source})


def _uniform(today: np.ndarray):
    """The single date when every customer shares it (an ``as_of`` run), else None."""
    return today[0] if len(today) and (today == today[0]).all() else None


def _annual(rule: EventRule, trig: Trigger, snap: pd.DataFrame, today: np.ndarray, days: int,
            leap_day_rule: str) -> list[pd.DataFrame]:
    import numpy as np

    src = snap[trig.column].to_numpy(dtype="datetime64[D]")
    has = ~np.isnat(src)
    if not has.any():
        return []
    src_year, src_md, _ = _month_day(src)
    leap_md = 301 if leap_day_rule == "mar1" else 228
    same_day = _uniform(today)
    out = []
    for back in range(days):
        # One date for everybody (as_of runs): compare against scalars, not a column.
        target = (same_day if same_day is not None else today) - np.timedelta64(back, "D")
        t_year, t_md, _ = _month_day(np.atleast_1d(target))
        if same_day is not None:
            t_year, t_md = t_year[0], t_md[0]
        hit = has & ((src_md == t_md) | ((src_md == 229) & ~_is_leap(t_year) & (t_md == leap_md)))
        years = t_year - src_year
        hit &= years > 0  # year 0 is the event itself, not an anniversary
        idx = np.flatnonzero(hit)
        if idx.size:
            yrs = years[idx]
            dates = target if same_day is not None else target[idx]
            out.append(_frame(idx, rule.event_type, dates, yrs,
                              np.where(np.isin(yrs, trig.milestones), yrs, 0), trig.column))
    return out


def _on_date(rule: EventRule, trig: Trigger, snap: pd.DataFrame, today: np.ndarray, days: int):
    import numpy as np

    src = snap[trig.column].to_numpy(dtype="datetime64[D]")
    hit = ~np.isnat(src) & (src <= today) & (src > today - np.timedelta64(days, "D"))
    idx = np.flatnonzero(hit)
    if not idx.size:
        return []
    return [_frame(idx, rule.event_type, src[idx], 0, 0, trig.column)]


def _change(rule: EventRule, trig: Trigger, cur: pd.DataFrame, prev: pd.DataFrame,
            today: np.ndarray, cur_pos: np.ndarray):
    """``cur`` and ``prev`` are aligned row by row (customers present in both);
    ``cur_pos`` maps their rows back to positions in the current snapshot."""
    import numpy as np
    import pandas as pd

    now, before = cur[trig.column], prev[trig.column]
    if trig.to and trig.from_:  # exactly these changes (student -> employed), nothing else
        hit = before.isin(trig.from_) & now.isin(trig.to) & ~before.isin(trig.to)
    elif trig.to:
        hit = now.isin(trig.to) & ~before.isin(trig.to)
    elif trig.from_:
        hit = before.isin(trig.from_) & ~now.isin(trig.from_) & now.notna()
    elif trig.increased:
        hit = pd.to_numeric(now).fillna(0) > pd.to_numeric(before).fillna(0)
    else:  # set
        hit = now.notna() & before.isna()
    idx = np.flatnonzero(hit.fillna(False).to_numpy(dtype=bool))
    if not idx.size:
        return []
    return [_frame(cur_pos[idx], rule.event_type, today[idx], 0, 0, "change")]


def _aligned(snapshot: pd.DataFrame, previous: pd.DataFrame, today: np.ndarray):
    """Rows of customers in both snapshots, in the same order (new customers drop out)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    # Arrow's hash lookup: ~4x faster than pandas.Index.get_indexer on 10M string ids
    # (no uniqueness pass, no object conversion). Ids are unique (validated).
    prev_pos = pc.index_in(pa.array(snapshot["customer_id"], type=pa.string(), from_pandas=True),
                           value_set=pa.array(previous["customer_id"], type=pa.string(), from_pandas=True))
    prev_pos = prev_pos.fill_null(-1).to_numpy(zero_copy_only=False)
    cur_pos = np.flatnonzero(prev_pos >= 0)
    cur = snapshot.take(cur_pos).reset_index(drop=True)
    prev = previous.take(prev_pos[cur_pos]).reset_index(drop=True)
    return cur, prev, today[cur_pos], cur_pos


def detect_events(
    snapshot: pd.DataFrame,
    previous: pd.DataFrame | None = None,
    *,
    as_of: dt.date | None = None,
    instant: dt.datetime | None = None,
    days: int = 1,
    leap_day_rule: str = "feb28",
    default_timezone: str = "UTC",
    rules: tuple[EventRule, ...] | None = None,
) -> pd.DataFrame:
    """All events whose day (in each customer's zone) falls in the ``days`` ending today.

    ``snapshot`` and ``previous`` are validated, typed snapshots
    (:func:`milestones.ingest.validation.normalise`).  One row per event; ``days_late``
    counts the days since it happened and ``stale`` marks events older than
    their type's ``max_age_days`` (detected, recorded, never sent).
    """
    import numpy as np
    import pandas as pd

    if days < 1:
        raise ValueError("days must be >= 1")
    if leap_day_rule not in {"feb28", "mar1"}:
        raise ValueError(f"leap_day_rule must be 'feb28' or 'mar1', not {leap_day_rule!r}")
    rules = rules if rules is not None else load_rules()
    snapshot = snapshot.reset_index(drop=True)
    today = local_dates(snapshot, as_of=as_of, instant=instant, default_timezone=default_timezone)
    have_previous = previous is not None and not previous.empty
    if have_previous:
        columns = columns_compared(rules)
        cur, prev, cur_today, cur_pos = _aligned(snapshot[columns], previous.reset_index(drop=True)[columns],
                                                 today)
    frames: list[pd.DataFrame] = []
    for rule in rules:
        for trig in rule.triggers:
            if trig.kind == "annual":
                frames += _annual(rule, trig, snapshot, today, days, leap_day_rule)
            elif trig.kind == "on_date":
                frames += _on_date(rule, trig, snapshot, today, days)
            elif have_previous:
                frames += _change(rule, trig, cur, prev, cur_today, cur_pos)
    if not frames:
        return _empty()
    events = pd.concat(frames, ignore_index=True)
    events["event_date"] = events["event_date"].astype("datetime64[s]")
    annual = events["event_type"].isin([r.event_type for r in rules if r.annual]).to_numpy()
    day = events["event_date"].to_numpy().astype("datetime64[D]")
    # Annual events are one per occurrence date, one-off events one per year.
    occurrence = np.where(annual, day.astype(str), day.astype("datetime64[Y]").astype(str))
    events = events.assign(_occ=occurrence).drop_duplicates(["pos", "event_type", "_occ"])
    pos = events["pos"].to_numpy()
    events.insert(0, "customer_id", snapshot["customer_id"].take(pos).to_numpy())
    events["key"] = event_keys(events["customer_id"], events["event_type"], events["_occ"])
    late = (today[pos] - events["event_date"].to_numpy().astype("datetime64[D]")).astype(np.int64)
    max_age = events["event_type"].map({r.event_type: r.max_age_days for r in rules}).to_numpy()
    events["days_late"] = late
    events["stale"] = late > max_age
    events["years"] = events["years"].astype("int64")
    events["milestone"] = events["milestone"].astype("int64")
    return events[EVENT_COLUMNS].sort_values(["customer_id", "event_type"]).reset_index(drop=True)


def _empty() -> pd.DataFrame:
    """No events, with the columns and types of :func:`detect_events`' answer (a fresh copy)."""
    return _empty_template().copy()


@lru_cache(maxsize=1)
def _empty_template() -> pd.DataFrame:
    # Building empty Arrow-backed string columns costs ~10 ms; a day without events (most
    # days of a catch-up window, most of a small CRM's days) copies this one instead.
    import pandas as pd

    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in [
        ("customer_id", "string"), ("event_type", "string"), ("event_date", "datetime64[s]"),
        ("years", "int64"), ("milestone", "int64"), ("source", "string"), ("key", "string"),
        ("days_late", "int64"), ("stale", "bool")]})
