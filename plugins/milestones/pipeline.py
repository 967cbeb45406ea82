"""The stages, as functions over files: what the DAG tasks and the CLI both call.

Each stage reads the files of the stage before it from the data directory,
writes its own, and returns a small JSON-able dict (paths and counts) fit for
XCom.  Any stage can be re-run alone for a date; its output is replaced whole.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import Counter
from pathlib import Path
from typing import Any

from milestones.core import storage
from milestones.core.config import Settings
from milestones.ingest.errors import ExtractError, GateFailed  # noqa: F401 - GateFailed re-exported
from milestones.ingest.extract import snapshot_date_from_name

log = logging.getLogger(__name__)


def _day(value: dt.date | str) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def snapshot_day(extract: Path | str, as_of: dt.date | str | None = None) -> dt.date:
    """The snapshot date: from the file name, else ``as_of``."""
    named = snapshot_date_from_name(extract)
    if named:
        return named
    if as_of is None:
        raise ExtractError(f"{Path(extract).name}: no date in the file name (customers_YYYY-MM-DD.csv); give --as-of")
    return _day(as_of)


# --- stage 1: validation -------------------------------------------------------------------

def validate_stage(extract: Path | str, settings: Settings, *, previous: Path | str | None = None,
                   as_of: dt.date | str | None = None, profile: str | None = None) -> dict[str, Any]:
    """Validate ``extract``; publish its valid rows as the snapshot of its date.

    ``profile`` names the extract profile (else the file name's prefix rule, else
    the ``extract_profile`` setting: :func:`milestones.ingest.profiles.select`).

    Raises :class:`GateFailed` (after writing the quarantine and summary, so the
    evidence is kept) when the file as a whole must not be used.
    """
    from milestones.ingest.profiles import select
    from milestones.ingest.validation import validate_extract

    extract = Path(extract)
    day = snapshot_day(extract, as_of)
    chosen = select(extract, settings, profile)
    previous_rows = _row_count(storage.locate(previous), settings) if previous is not None else None
    out = storage.stage_dir(storage.root(settings), "snapshots", day)
    # Valid and quarantined rows stream to Parquet chunk by chunk; the snapshot
    # file only appears when the gate passes.
    with storage.local_dir(out) as local_out:
        result = validate_extract(
            extract, as_of=day, previous_rows=previous_rows, out_dir=local_out,
            max_invalid_share=settings.max_invalid_share, max_row_drop_share=settings.max_row_drop_share,
            chunk_rows=settings.validation_chunk_rows, profile=chosen,
            follow_symlinks=settings.follow_symlinks,
        )
    if not result.gate_passed:
        storage.remove(out / "snapshot.parquet")
    from milestones.ingest.validation import write_data_docs

    docs_root = storage.root(settings) / "docs"
    with storage.local_dir(docs_root, fetch=True) as local_docs:
        docs = write_data_docs(result.gx_results, local_docs, extract.name, profile=chosen.name,
                               unreadable={k: v for k, v in result.reasons.items() if "(profile " in k})
    docs = docs_root / docs.relative_to(local_docs).as_posix()
    summary = {"extract": str(extract), "snapshot_date": str(day), **result.summary(),
               "quarantine": str(out / "quarantine.parquet"), "data_docs": str(docs)}
    if not result.gate_passed:
        storage.write_json(summary, out / "validation.json")
        raise GateFailed(result.gate_message, summary)
    summary["snapshot"] = str(out / "snapshot.parquet")
    storage.write_json(summary, out / "validation.json")
    return summary


def _row_count(path: Path, settings: Settings) -> int:
    """Rows of a previous extract as delivered (quarantined rows included)."""
    summary = path.with_name("validation.json")
    if path.name == "snapshot.parquet" and summary.is_file():
        return int(storage.read_json(summary)["rows"])
    if path.suffix == ".parquet":
        return storage.parquet_rows(path)
    from milestones.ingest.profiles import select
    from milestones.ingest.stream import stream_mapped

    # Its ids alone: the count without holding the file.
    return stream_mapped(path, select(path, settings), chunk_rows=settings.validation_chunk_rows).rows


def previous_snapshot_for(previous: Path | str | None, day: dt.date, settings: Settings) -> Path | None:
    """A validated previous snapshot: given explicitly (validated now if raw), else the latest older one."""
    if previous is None:
        return storage.latest_snapshot_before(storage.root(settings), day)
    previous = storage.locate(previous)
    if previous.name == "snapshot.parquet":
        return previous
    prev_day = snapshot_date_from_name(previous)
    if prev_day is None or prev_day >= day:
        raise ExtractError(f"{previous.name}: previous extract must be named customers_YYYY-MM-DD and older than {day}")
    try:
        return storage.locate(validate_stage(previous, settings)["snapshot"])
    except GateFailed as exc:
        raise ExtractError(f"previous extract rejected by the gate: {exc}") from None


# --- stage 2: detection --------------------------------------------------------------------

def detect_stage(as_of: dt.date | str, settings: Settings, *, snapshot: Path | str | None = None,
                 previous: Path | str | None = None, days: int | None = None,
                 instant: dt.datetime | None = None) -> dict[str, Any]:
    """Detect the events falling on ``as_of`` (or in the ``days`` ending on it)."""
    from milestones.detect.events import columns_compared, columns_read, detect_events, load_rules

    day = _day(as_of)
    data = storage.root(settings)
    snapshot = storage.locate(snapshot) if snapshot else storage.latest_snapshot_before(data, day + dt.timedelta(days=1))
    if snapshot is None or not snapshot.is_file():
        raise FileNotFoundError(f"no validated snapshot on or before {day} under {data}")
    rules = load_rules()
    columns = columns_read(rules)
    current = storage.read_parquet(snapshot, columns=columns)
    snap_day = snapshot.parent.name
    prev_path = storage.locate(previous) if previous else storage.latest_snapshot_before(data, snap_day)
    # Yesterday's snapshot is only compared on the change columns: half its bytes never read.
    prev = storage.read_parquet(prev_path, columns=columns_compared(rules)) if prev_path else None
    days = days or settings.catch_up_days
    events = detect_events(current, prev, as_of=None if instant else day, instant=instant, days=days,
                           leap_day_rule=settings.leap_day_rule, default_timezone=settings.default_timezone,
                           rules=rules)
    out = storage.stage_dir(storage.root(settings), "events", day) / "events.parquet"
    storage.write_parquet(events, out)
    return {"events": str(out), "snapshot": str(snapshot), "previous": str(prev_path) if prev_path else None,
            "as_of": str(day), "by_type": dict(Counter(events["event_type"])),
            "stale": int(events["stale"].sum())}


# --- stage 3: policy -----------------------------------------------------------------------

def policy_for(day: dt.date, settings: Settings, event_keys) -> Any:
    """The contact policy of ``day``: settings, suppressions and recent sends from the ledger."""
    from milestones.decide.policy import Policy
    from milestones.decide.preferences import Preferences
    from milestones.measure.feedback import Feedback

    feedback = Feedback(settings.ledger_database_url)
    since = str(day - dt.timedelta(days=settings.frequency_cap_days - 1))
    keys = set(event_keys)
    # Today's own events are not "recent contact": a re-run must find them already sent.
    recent = {cid for cid, key in feedback.ledger.contacted_since(since) if key not in keys}
    quiet = {dt.date.fromisoformat(d.strip()) for d in settings.quiet_dates.split(",") if d.strip()}
    from milestones.core.pseudonym import load_key
    from milestones.decide.erased import erased_hashes
    from milestones.deliver.ledger import emails
    from milestones.measure.lifecycle import sunset

    erased = erased_hashes(feedback.engine)
    return Policy(
        sunset=sunset(feedback.engine, emails, day, settings.sunset_months),
        erased=erased, erased_key=load_key(settings.data_dir) if erased else b"",
        priority=tuple(t.strip() for t in settings.priority.split(",") if t.strip()),
        holdout_share=settings.holdout_share, holdout_salt=settings.holdout_salt,
        quiet_dates=frozenset(quiet), suppressed=frozenset(feedback.suppressed()),
        recently_contacted=frozenset(recent),
        preferences=Preferences(settings.ledger_database_url).policy_view(day),
    )


def decide_stage(as_of: dt.date | str, settings: Settings, *, snapshot: Path | str) -> dict[str, Any]:
    from milestones.decide.policy import decide

    day = _day(as_of)
    events = storage.read_parquet(storage.stage_dir(storage.root(settings), "events", day) / "events.parquet")
    decisions = decide(events, storage.read_parquet(snapshot), policy_for(day, settings, events["key"]),
                       as_of=day)
    sends = Counter(decisions.loc[decisions["decision"] == "send", "event_type"])
    tripped = circuit_breaker(day, settings, sends)
    if tripped and not run_approved(day, settings):
        held = (decisions["decision"] == "send") & decisions["event_type"].isin(tripped)
        decisions.loc[held, "decision"] = "skip"
        decisions.loc[held, "reason"] = "circuit_breaker"
    out = storage.stage_dir(storage.root(settings), "decisions", day) / "decisions.parquet"
    storage.write_parquet(decisions, out)
    skipped = Counter(decisions.loc[decisions["decision"] == "skip", "reason"])
    return {"decisions": str(out), "send": int((decisions["decision"] == "send").sum()),
            "skipped": dict(skipped), "sends_by_type": dict(sends), "circuit_breaker": tripped,
            "approved": bool(tripped) and run_approved(day, settings)}


def circuit_breaker(day: dt.date, settings: Settings, sends: Counter) -> dict[str, dict[str, Any]]:
    """Event types that would send far more than usual: {type: why}. Empty when all is normal.

    "Usual" is the median of the same type's sends over the earlier run records.
    """
    import statistics

    history: dict[str, list[int]] = {}
    runs = storage.root(settings) / "runs"
    for path in sorted(runs.glob("*.json") if runs.is_dir() else [], key=lambda p: p.name):
        if path.stem >= str(day):
            continue
        record = storage.read_json(path)
        for event_type in sends:
            history.setdefault(event_type, []).append(int(record.get("sends_by_type", {}).get(event_type, 0)))
    tripped = {}
    for event_type, count in sends.items():
        past = history.get(event_type, [])
        if len(past) < settings.breaker_min_history or count <= settings.breaker_min_sends:
            continue
        median = statistics.median(past)
        if count > settings.breaker_multiple * max(median, 1):
            tripped[event_type] = {"would_send": count, "trailing_median": median,
                                   "multiple": settings.breaker_multiple}
    return tripped


def approval_path(day: dt.date | str, settings: Settings) -> Path:
    return storage.root(settings) / "approvals" / f"{day}.json"


def run_approved(day: dt.date | str, settings: Settings) -> bool:
    return approval_path(day, settings).is_file()


# --- stage 4: rendering --------------------------------------------------------------------

def send_at_for(day: dt.date, zone: str, hour: int, now: dt.datetime) -> int:
    """Epoch seconds of ``hour``:00 on ``day`` in ``zone``; never in the past."""
    local = dt.datetime.combine(day, dt.time(hour), tzinfo=zoneinfo.ZoneInfo(zone))
    return int(max(local, now).timestamp())


def customer_day(event: dict[str, Any], day: dt.date) -> dt.date:
    """The customer's own "today" when the event was found: its date plus the days it was late.

    With an instant (the detection DAG's clock) that is each customer's local date at
    that instant, which may be the day before or after ``day`` in far zones; with
    ``--as-of`` it is ``day`` for everyone.
    """
    late = event.get("days_late")
    if late is None or event.get("event_date") is None:
        return day
    return (dt.date.fromisoformat(str(event["event_date"])[:10]) + dt.timedelta(days=int(late)))


def render_stage(as_of: dt.date | str, settings: Settings, *, snapshot: Path | str,
                 now: dt.datetime | None = None) -> dict[str, Any]:
    """Render every ``send`` decision; a failure skips that email with its reason.

    An event type whose template is not approved in the catalog is not rendered
    (``not_approved``: emails held back and why); a customer whose language has
    no translation gets the default locale, counted in ``missing_translations``.
    """

    from milestones.core import links
    from milestones.core.brand import brand_of
    from milestones.decide.preferences import Preferences
    from milestones.render import variants
    from milestones.render.catalog import approval_gate
    from milestones.render.rendering import Renderer, RenderError, email_context

    day = _day(as_of)
    now = now or dt.datetime.now(dt.UTC)
    decisions = storage.read_parquet(storage.stage_dir(storage.root(settings), "decisions", day) / "decisions.parquet")
    renderer = Renderer(settings.templates_dir, settings.default_locale, assets_url=settings.assets_base,
                        brand=brand_of(settings))
    gate, keys = approval_gate(settings.templates_dir), links.load_keys(settings.data_dir)
    chosen_language = Preferences(settings.ledger_database_url).languages()  # wins over the extract's locale
    rows, failures, not_approved, missing = [], [], {}, Counter()
    sends = decisions[decisions["decision"] == "send"]
    # The A/B variant of each email (salted hash of the customer; "base" without variants).
    arms = variants.assigner(settings)(sends) if len(sends) else []
    # The customers written to, as plain dicts keyed by id: one conversion, not a pandas
    # row lookup per email (that was most of this stage at 100,000 customers).
    # Only the fields an email uses (email_context's and the address, language and zone).
    people = storage.read_parquet(snapshot, columns=["customer_id", *CUSTOMER_FIELDS])
    partners = set(sends["partner_id"].dropna()) if "partner_id" in sends.columns else set()
    people = people[people["customer_id"].isin(set(sends["customer_id"]) | partners)].set_index(
        "customer_id").to_dict("index")
    for event, arm in zip(sends.to_dict("records"), arms, strict=True):
        blocked = gate(event["event_type"], arm)
        if blocked:
            label = event["event_type"] if arm == variants.BASE else f"{event['event_type']}/{arm}"
            held = not_approved.setdefault(label, {"emails": 0, "reason": blocked})
            held["emails"] += 1
            continue
        customer = people[event["customer_id"]]
        if event.get("partner_id") in people:  # a couple: one email greeting both
            customer = {**customer, "partner": people[event["partner_id"]]}
        locale = chosen_language.get(event["customer_id"]) or customer.get("locale") or settings.default_locale
        zone = customer.get("timezone") or settings.default_timezone
        token = links.sign(keys, str(event["customer_id"]), str(customer["email"]), locale, issued=now)
        unsubscribe = f"{settings.unsubscribe_base}/{token}"
        try:
            r = renderer.render(event["event_type"], locale, email_context(
                customer, event, unsubscribe_url=unsubscribe, locale=locale,
                preferences_url=f"{settings.preferences_base}/{token}",
                view_url=f"{settings.view_base}/{links.sign_view(keys, event['key'], day, issued=now)}"), variant=arm)
        except RenderError as exc:
            failures.append({"key": event["key"], "customer_id": event["customer_id"], "reason": str(exc)})
            continue
        if r.missing_translation:
            missing[f"{r.template}: {r.requested_locale} -> {r.locale}"] += 1
        rows.append((
            event["key"], event["customer_id"], event["event_type"], str(event["event_date"])[:10],
            customer["email"], r.locale, zone, r.template, r.version, r.subject, r.html, r.text, unsubscribe,
            send_at_for(customer_day(event, day), zone, settings.send_hour, now), arm,
            event.get("partner_id") or "",  # a couple's email: the other customer it greets
        ))
    out = storage.stage_dir(storage.root(settings), "messages", day) / "messages.parquet"
    storage.write_parquet(message_frame(rows), out)
    return {"messages": str(out), "rendered": len(rows), "render_failed": failures,
            "not_approved": not_approved, "missing_translations": dict(sorted(missing.items()))}


#: The customer fields an email is made of (the rest of the record never reaches rendering).
CUSTOMER_FIELDS = ("first_name", "last_name", "customer_since", "email", "locale", "timezone")
#: The columns of the messages file, in order.
MESSAGE_COLUMNS = ("key", "customer_id", "event_type", "event_date", "email", "locale", "timezone", "template",
                   "template_version", "subject", "html", "text", "unsubscribe_url", "send_at", "variant",
                   "partner_id")


def message_frame(rows: list[tuple]) -> Any:
    """The messages file's frame from row tuples in :data:`MESSAGE_COLUMNS` order.

    Built column by column in Arrow: pandas' own row-by-row conversion of the
    bodies (several KB each) took about 15% of the render stage.
    """
    import pyarrow as pa

    columns = list(zip(*rows, strict=True)) if rows else [()] * len(MESSAGE_COLUMNS)
    return pa.table({name: pa.array(values, pa.int64()) if name == "send_at" else large_strings(values)
                     for name, values in zip(MESSAGE_COLUMNS, columns, strict=True)}).to_pandas()


def large_strings(values) -> Any:
    """Python strings as an Arrow ``large_string`` array, encoded and joined here, then wrapped.

    ``pa.array`` grows its buffer string by string: three to five times slower for the
    bodies of a 100,000-customer day (40,000 of about 7 KB, none of them pure ASCII).
    """
    import itertools

    import pyarrow as pa

    try:
        encoded = [value.encode("utf-8") for value in values]
    except (AttributeError, UnicodeEncodeError):  # not all text, or a lone surrogate: Arrow's own rules
        return pa.array(values, pa.large_string())
    offsets = pa.array([0, *itertools.accumulate(map(len, encoded))], pa.int64())
    return pa.LargeStringArray.from_buffers(len(encoded), offsets.buffers()[1], pa.py_buffer(b"".join(encoded)))


# --- stage 5: delivery ---------------------------------------------------------------------

def make_transport(settings: Settings):
    """SendGrid when the ``sendgrid_default`` connection exists, else the file outbox."""
    from milestones.core.brand import brand_of
    from milestones.deliver.delivery import OutboxTransport, sendgrid_connection

    conn = sendgrid_connection()
    sender = {"message_domain": brand_of(settings).sending_domain, "unsubscribe_mailto": settings.unsubscribe_mailto}
    if conn:
        from milestones.deliver.sendgrid_transport import SendGridTransport

        return SendGridTransport(conn["api_key"], conn["host"], from_email=settings.from_email,
                                 from_name=settings.from_name, sandbox=settings.sandbox_mode,
                                 timeout=settings.send_timeout, asm_group_id=settings.asm_group_id or None,
                                 categories=tuple(c.strip() for c in settings.categories.split(",") if c.strip()),
                                 max_attempts=settings.send_max_attempts, ca_bundle=settings.send_ca_bundle or None,
                                 **sender)
    return OutboxTransport(Path(settings.data_dir) / "outbox", from_email=settings.from_email,
                           from_name=settings.from_name, **sender)


def shards_for(as_of: dt.date | str, settings: Settings) -> list[dict[str, Any]]:
    """Row ranges of the day's messages file, ``delivery_shard_size`` each: one mapped task per shard."""
    day = _day(as_of)
    path = storage.stage_dir(storage.root(settings), "messages", day) / "messages.parquet"
    if not path.is_file():
        return []
    rows = storage.parquet_rows(path)
    size = max(1, settings.delivery_shard_size)
    return [{"date": str(day), "start": i, "stop": min(i + size, rows)} for i in range(0, rows, size)]


def deliver_stage(as_of: dt.date | str, settings: Settings, *, due_before: dt.datetime | None = None,
                  transport=None, start: int | None = None, stop: int | None = None,
                  at: dt.datetime | None = None) -> dict[str, Any]:
    """Send the rendered messages of ``as_of`` (rows ``start:stop``) that are due, each at most once.

    ``at`` treats that moment as now (a replay). SendGrid always gets only what is due within
    :data:`~milestones.deliver.recheck.SENDGRID_LEAD`; the outbox, without ``due_before``,
    everything rendered (``milestones run``)."""
    import pyarrow.compute as pc

    from milestones.deliver.delivery import deliver, recover
    from milestones.deliver.ledger import Ledger
    from milestones.deliver.recheck import due_horizon
    from milestones.measure.handover import send_check

    day = _day(as_of)
    path = storage.stage_dir(storage.root(settings), "messages", day) / "messages.parquet"
    # In Arrow, not pandas: its rows become dicts about twice as fast (a second of this
    # stage at 100,000 customers).
    messages = storage.read_table([path])
    rows = range(messages.num_rows)[start:stop]
    messages = messages.slice(rows.start, len(rows))
    transport = transport or make_transport(settings)
    if due_before is None and transport.name == "sendgrid":
        due_before = at or dt.datetime.now(dt.UTC)
    if due_before is not None:
        # SendGrid holds an email until its send_at, where it can no longer be stopped: it
        # gets it 15 minutes ahead at most. The outbox only takes what is due now.
        horizon = due_horizon(transport.name)
        messages = messages.filter(pc.less_equal(messages["send_at"], int((due_before + horizon).timestamp())))
    if transport.name == "sendgrid" and not settings.dry_run:
        from milestones.render.placeholders import check_real_send

        # No broken images or dead unsubscribe links.
        # Only the columns it reads: the text parts and the rest need not become Python objects.
        check_real_send(settings, messages.select(["unsubscribe_url", "html"]).to_pandas(), day=str(day))
    records = messages.to_pylist()
    if settings.dry_run:
        return {"transport": transport.name, "dry_run": True, "would_send": len(records)}
    ledger = Ledger(settings.ledger_database_url)
    # A worker that died mid-send left at most send_concurrency rows "sending": the outbox
    # settles them from its files; for SendGrid they are in doubt and become "unknown" for
    # an operator (or the event webhook) to resolve, never resent blindly.
    recovered = recover(records, transport, ledger)
    ledger.mark_stale_unknown()
    counts = deliver(records, transport, ledger, concurrency=settings.send_concurrency,
                     check=send_check(settings, at))  # choices read again, age at hand-over
    if recovered:
        counts["recovered_after_crash"] = recovered
    return {"transport": transport.name, "dry_run": False, **dict(counts)}


# --- the whole chain -----------------------------------------------------------------------

def run(extract: Path | str, as_of: dt.date | str, settings: Settings, *,
        previous: Path | str | None = None, days: int | None = None, at: dt.datetime | None = None,
        deliver: bool = True) -> dict[str, Any]:
    """Validate, detect, decide, render and (unless not ``deliver``) deliver one extract for ``as_of``;
    ``at`` treats that moment as now (replays, tests: send times, expiry)."""
    day = _day(as_of)
    snap_day = snapshot_day(extract, day)
    prev_snapshot = previous_snapshot_for(previous, snap_day, settings)
    validated = validate_stage(extract, settings, previous=prev_snapshot, as_of=day)
    detected = detect_stage(day, settings, snapshot=validated["snapshot"], previous=prev_snapshot, days=days)
    decided = decide_stage(day, settings, snapshot=validated["snapshot"])
    rendered = render_stage(day, settings, snapshot=validated["snapshot"], now=at)
    delivered = (deliver_stage(day, settings, at=at) if deliver
                 else {"transport": "not delivered (--no-deliver)", "rendered": rendered["rendered"]})
    return summarise(day, validated, detected, decided, rendered, delivered, settings, at=at)


def summarise(day, validated, detected, decided, rendered, delivered, settings, at=None) -> dict[str, Any]:
    skipped = Counter(decided["skipped"])
    if rendered["render_failed"]:
        skipped["render_error"] += len(rendered["render_failed"])
    for held in rendered.get("not_approved", {}).values():
        skipped["template_not_approved"] += held["emails"]
    for held in ("already_sent", "already_failed", "in_doubt", "already_cancelled", "already_expired"):  # earlier runs' emails, by what the ledger holds
        if delivered.get(held):
            skipped[held] += delivered[held]
    summary = {
        "as_of": str(day),
        **({"circuit_breaker": "held sends of " + ", ".join(
            f"{t} ({w['would_send']} > {w['multiple']} x median {w['trailing_median']})"
            for t, w in decided["circuit_breaker"].items())
            + f": approve with `milestones approve-run {day} --by NAME` and re-run"}
           if decided.get("circuit_breaker") and not decided.get("approved") else {}),
        "rows": validated["rows"],
        "valid": validated["valid"],
        "quarantined": validated["quarantined"],
        "events": dict(sorted(detected["by_type"].items())),
        "emails_sent": delivered.get("sent", 0),
        "skipped": dict(sorted(skipped.items())),
        "failed": delivered.get("failed", 0),
        "unknown": delivered.get("unknown", 0),
        # Stopped at hand-over: choices changed after rendering, or too late (deliver.recheck).
        "cancelled": delivered.get("cancelled", 0),
        "expired": delivered.get("expired", 0),
        **({"at": at.isoformat()} if at else {}),
        "transport": delivered["transport"],
        "dry_run": delivered.get("dry_run", False),
        "data_docs": validated.get("data_docs"),
        "profile": validated.get("profile", "contract"),
        "sends_by_type": decided.get("sends_by_type", {}),
    }
    if rendered["render_failed"]:
        summary["render_errors"] = dict(Counter(f["reason"] for f in rendered["render_failed"]))
    if rendered.get("not_approved"):
        summary["templates_not_approved"] = {k: v["reason"] for k, v in sorted(rendered["not_approved"].items())}
    if rendered.get("missing_translations"):
        summary["missing_translations"] = rendered["missing_translations"]
    storage.write_json({**summary, "render_failed": rendered["render_failed"],
                        "validation": validated}, run_record_path(settings, day))
    return summary


def run_record_path(settings: Settings, day: dt.date | str) -> Path:
    return storage.root(settings) / "runs" / f"{day}.json"


def record_delivery(day: dt.date | str, settings: Settings, delivered: dict[str, Any]) -> dict[str, Any]:
    """Refresh the delivery counts of ``day``'s run record from the ledger (DAG path).

    Counts are recomputed, not added: shards delivering in parallel, retries and
    re-runs all leave the record matching the ledger. A file lock keeps two
    shards on one machine from interleaving their read and write, and with a
    PostgreSQL ledger a transaction-scoped advisory lock does so across machines
    (the record may be in object storage, which has no locks).
    """
    import fcntl
    import zlib

    import sqlalchemy as sa

    from milestones.deliver.ledger import Ledger, emails

    path = run_record_path(settings, day)
    lock_file = Path(settings.data_dir) / "runs" / f"{day}.lock"
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(settings.ledger_database_url)
    with open(lock_file, "w") as lock, ledger.engine.begin() as conn:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(f"run-record {day}".encode()))))
        states = dict(conn.execute(sa.select(emails.c.state, sa.func.count())
                                   .where(emails.c.event_date == str(day)).group_by(emails.c.state)).all())
        record = storage.read_json(path) if path.is_file() else {"as_of": str(day)}
        record.update(emails_sent=states.get("accepted", 0), failed=states.get("failed", 0),
                      unknown=states.get("unknown", 0), cancelled=states.get("cancelled", 0),
                      expired=states.get("expired", 0),
                      transport=delivered.get("transport", record.get("transport")))
        storage.write_json(record, path)
    return record
