"""The ``milestones`` command: the same stage functions the DAGs call.

Every command prints a one-line JSON summary as its last line of output.  A
user error (bad path, bad date, a file the gate rejects) is one clear line on
stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_GATE, EXIT_FAULT = 0, 2, 3, 4


class UserError(Exception):
    """A mistake the user can fix; shown as one line."""


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _settings(args: argparse.Namespace):
    from milestones.core.config import load_settings

    profile = getattr(args, "profile", None)
    # --profile NAME wins over the file-name prefix rules and the extract_profile setting.
    chosen = {"extract_profile": profile, "extract_profile_rules": ""} if profile else {}
    return load_settings(data_dir=getattr(args, "data_dir", None),
                         follow_symlinks=getattr(args, "follow_symlinks", None) or None, **chosen)


def _source(value: str) -> Path | str:
    """A local path, or an extract URL (s3://bucket/key, file:///path) kept as text."""
    from milestones.ingest.sources import is_url

    return value if is_url(value) else Path(value)


def _local(extract: Path | str | None, settings) -> Path | None:
    """A local file for ``extract``: URLs are copied into data_dir/received/ first."""
    from milestones.ingest import sources
    from milestones.ingest.extract import ExtractError

    if extract is None:
        return None
    try:
        path = sources.local_file(extract, settings.data_dir, settings.inbox_conn_id)
    except sources.SourceMissing as exc:  # missing, like a local path: the gate's exit code
        raise ExtractError(str(exc)) from None
    except sources.SourceError as exc:
        raise UserError(str(exc)) from None
    return _existing(path)


def _existing(path: Path | None) -> Path | None:
    """``path`` if something is there (a broken link counts: the file gate names it), else the gate error."""
    from milestones.ingest.extract import ExtractError

    if path is not None and not (path.exists() or path.is_symlink()):
        raise ExtractError(f"{path}: no such file")
    return path


def _emit(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, sort_keys=True, default=str, ensure_ascii=False))


# --- commands ------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from milestones import pipeline

    settings = _settings(args)
    summary = pipeline.run(_local(args.extract, settings), args.as_of, settings,
                           previous=_local(args.previous, settings), days=args.days)
    _emit(summary)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from milestones import pipeline

    settings = _settings(args)
    summary = pipeline.validate_stage(_local(args.extract, settings), settings,
                                      previous=_local(args.previous, settings), as_of=args.as_of)
    _emit(summary)
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    from collections import Counter

    from milestones.core import storage
    from milestones.detect.events import detect_events
    from milestones.ingest.validation import validate_extract

    settings = _settings(args)
    if args.out.suffix.lower() not in {".csv", ".parquet"}:
        raise UserError(f"--out must end in .csv or .parquet, not {args.out.name!r}")
    follow = settings.follow_symlinks
    current = validate_extract(_existing(args.extract), as_of=args.as_of, follow_symlinks=follow)
    previous = validate_extract(_existing(args.previous), follow_symlinks=follow).valid if args.previous else None
    events = detect_events(current.valid, previous, as_of=args.as_of, days=args.days,
                           leap_day_rule=settings.leap_day_rule, default_timezone=settings.default_timezone)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if args.out.suffix.lower() == ".csv":
        from milestones.core.csvsafe import safe_frame

        # Ids and names come from the CRM: a cell like =HYPERLINK(...) stays text in a spreadsheet.
        table = safe_frame(events.assign(event_date=events["event_date"].dt.strftime("%Y-%m-%d")))
        storage.replace_from_temp(args.out, lambda tmp: table.to_csv(tmp, index=False))
    else:
        storage.write_parquet(events, args.out)
    _emit({"as_of": str(args.as_of), "days": args.days, "rows": current.rows, "valid": len(current.valid),
           "quarantined": len(current.quarantine), "events": len(events),
           "by_type": dict(sorted(Counter(events["event_type"]).items())),
           "stale": int(events["stale"].sum()), "out": str(args.out)})
    return EXIT_OK


def cmd_ledger(args: argparse.Namespace) -> int:
    """Operator view of the send ledger: counts, unknown emails, and resolving them."""
    from milestones.deliver.ledger import SENDING, UNKNOWN, Ledger

    settings = _settings(args)
    ledger = Ledger(settings.ledger_database_url)
    if args.action == "resolve":
        if not args.key or not args.state or not args.note:
            raise UserError("resolve needs KEY, --as accepted|pending|failed and --note")
        if not ledger.resolve(args.key, args.state, args.note):
            raise UserError(f"no unknown email with key {args.key!r}")
        _emit({"key": args.key, "state": args.state, "note": args.note})
        return EXIT_OK
    doubt = ledger.in_doubt()
    # In doubt: "sending" (claimed, no answer recorded: in flight now, or its worker died)
    # and "unknown". Neither is ever resent by itself; only "unknown" is resolved by hand.
    _emit({"states": ledger.counts(), "in_doubt_total": doubt[SENDING]["total"] + doubt[UNKNOWN]["total"],
           "sending": doubt[SENDING]["keys"], "sending_total": doubt[SENDING]["total"],
           "unknown": doubt[UNKNOWN]["keys"], "unknown_total": doubt[UNKNOWN]["total"]})
    return EXIT_OK


REASONS = {
    "": "sent (or due to be sent)",
    "deceased": "the CRM marks the customer deceased: never contacted",
    "unsubscribed": "the customer unsubscribed from all milestone emails",
    "opted_out_of_type": "the customer does not want this kind of email",
    "paused": "the customer paused milestone emails",
    "no_opt_in": "no marketing opt-in",
    "suppressed": "the address unsubscribed, bounced or reported spam",
    "stale": "found too long after it happened (catch-up after an outage)",
    "quiet_day": "a quiet day: nothing is sent",
    "holdout": "in the holdout group, which receives nothing so that uplift can be measured",
    "frequency_cap": "already had a milestone email within the frequency cap",
    "lower_priority_same_day": "another event of the same day had priority: one email per customer",
    "template_not_approved": "the template's current content is not approved",
}


def cmd_why(args: argparse.Namespace) -> int:
    """Every decision the pipeline took for one customer, with its reason and the email's fate."""
    from milestones.core import storage
    from milestones.measure.feedback import Feedback

    settings = _settings(args)
    root = storage.root(settings) / "decisions"
    days = [root / str(args.as_of)] if args.as_of else sorted(root.glob("*") if root.is_dir() else [],
                                                               key=lambda d: d.name)
    mine = sorted((row for d in days if (d / "decisions.parquet").is_file()
                   for row in storage.parquet_records(d / "decisions.parquet", "customer_id", args.customer_id)),
                  key=lambda row: str(row["event_date"]))
    feedback = Feedback(settings.ledger_database_url)
    out = []
    for row in mine:
        email = feedback.ledger.get(row["key"])
        entry = {"date": str(row["event_date"])[:10], "event": row["event_type"], "decision": row["decision"],
                 "reason": row["reason"] or None, "key": row["key"],
                 "email_state": email["state"] if email else None}
        out.append(entry)
        fate = f", email {entry['email_state']}" if entry["email_state"] else ""
        print(f"{entry['date']} {entry['event']}: {row['decision']}: "
              f"{REASONS.get(row['reason'], row['reason'])}{fate}")
    webhook = [e["event"] for e in feedback.events_for(customer_id=args.customer_id)]
    if not out:
        print(f"no events detected for {args.customer_id}")
    choices = feedback.preferences.history(args.customer_id)
    for change in choices:
        print(f"{change['at']:%Y-%m-%d %H:%M} UTC {change['field']}: {change['old'] or '-'} -> "
              f"{change['new'] or '-'} (via {change['source']})")
    _emit({"customer_id": args.customer_id, "decisions": out, "webhook_events": webhook,
           "choices": [{k: str(v) if k == "at" else v for k, v in c.items() if k != "id"} for c in choices]})
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """The public app: preference pages, one-click unsubscribe, the event webhook, email images."""
    import uvicorn

    from milestones.public import create_app

    uvicorn.run(create_app(_settings(args)), host=args.host, port=args.port, log_level="warning",
                proxy_headers=True, server_header=False)
    return EXIT_OK


def cmd_preferences(args: argparse.Namespace) -> int:
    """Customers' choices as CSV for the CRM (formula-safe cells), or the CRM's choices into the store."""
    settings = _settings(args)
    if args.action == "import":
        from milestones.decide.preferences_import import import_csv
        from milestones.detect.events import load_rules

        if not args.file:
            raise UserError("preferences import needs FILE.csv")
        _emit(import_csv(settings.ledger_database_url, args.file, {r.event_type for r in load_rules()}))
        return EXIT_OK
    from milestones.core import storage
    from milestones.decide.preferences_export import export

    if not args.out or not args.out.lower().endswith(".csv"):
        raise UserError("preferences export needs --out FILE.csv")
    _emit(export(settings.ledger_database_url, storage.locate(args.out, settings.data_conn_id), args.since))
    return EXIT_OK


def cmd_approve_run(args: argparse.Namespace) -> int:
    """Let a run the circuit breaker held send anyway (recorded with who and when)."""
    import datetime as dt

    from milestones.core import storage
    from milestones.pipeline import approval_path

    settings = _settings(args)
    record = {"date": str(args.date), "approved_by": args.by,
              "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    storage.write_json(record, approval_path(args.date, settings))
    _emit(record)
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Results by date, event type, locale and variant, as CSV (and the HTML page beside it)."""
    from milestones.core import storage
    from milestones.measure import report

    result = report.results(_settings(args), since=args.since, until=args.until)
    pages = ((args.out, report.to_csv(result["rows"])),
             (args.out.with_suffix(".html"), report.to_html(result, csv_name=args.out.name)))
    for path, text in pages:  # each whole or not at all (a full disk leaves no half page)
        storage.replace_from_temp(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8", newline=""))
    totals = {c: sum(r[c] for r in result["rows"]) for c in report.COUNTS}
    _emit({"out": str(args.out), "html": str(args.out.with_suffix(".html")), "rows": len(result["rows"]), **totals,
           "uplift": {k: result["uplift"]["event_type"][-1][k] for k in ("lift", "lift_ci_low", "lift_ci_high",
                                                                          "p_value", "verdict")}})
    return EXIT_OK


def cmd_outcomes(args: argparse.Namespace) -> int:
    """Validate and store an outcomes extract (purchases, logins, ...)."""
    from milestones.measure import outcomes

    _emit(outcomes.load(_local(args.file, _settings(args)), _settings(args), as_of=args.as_of))
    return EXIT_OK


def cmd_uplift(args: argparse.Namespace) -> int:
    """Contacted vs held out: conversion rates, lift with its 95% interval, p-value, verdict."""
    from milestones.core import csvsafe, storage
    from milestones.measure import uplift

    rows = uplift.compute(_settings(args), by=args.by, since=args.since, until=args.until)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all, like `report --out`: a full disk keeps the previous file.
    storage.replace_from_temp(args.out, lambda tmp: csvsafe.write_rows(rows, uplift.COLUMNS, tmp))
    _emit({"out": str(args.out), "by": args.by, "groups": len(rows) - 1, "all": rows[-1]})
    return EXIT_OK


def cmd_sample(args: argparse.Namespace) -> int:
    from milestones.ingest.sample import write_samples

    if args.profile:
        from milestones.ingest.sample_exports import write_profile_samples

        prev, cur = write_profile_samples(Path(args.out), args.profile, n=args.customers, as_of=args.as_of,
                                          seed=args.seed, profiles_dir=_settings(args).profiles_dir)
    else:
        prev, cur = write_samples(Path(args.out), n=args.customers, as_of=args.as_of, seed=args.seed)
    _emit({"previous": str(prev), "current": str(cur), "customers": args.customers, "seed": args.seed,
           "profile": args.profile or "contract"})
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    """Check a profile against a file: the mapping of the first rows and the contract's verdict."""
    from milestones.ingest.profile_check import check
    from milestones.ingest.profiles import select

    settings = _settings(args)
    summary = check(args.file, select(args.file, settings), rows=args.rows, as_of=args.as_of,
                    max_invalid_share=settings.max_invalid_share)
    _emit(summary)
    return EXIT_OK if summary["gate_passed"] else EXIT_GATE


def cmd_preview(args: argparse.Namespace) -> int:
    from milestones.render.preview import write_gallery

    settings = _settings(args)
    _emit(write_gallery(settings.templates_dir, args.out, settings.default_locale))
    return EXIT_OK


def cmd_proof(args: argparse.Namespace) -> int:
    """Send one proof through the configured transport; no ledger entry, no customer send."""
    from milestones import pipeline
    from milestones.core.logsafe import mask_email
    from milestones.render.catalog import CatalogError, load_catalog
    from milestones.render.preview import proof_message
    from milestones.render.rendering import RenderError

    settings = _settings(args)
    transport = pipeline.make_transport(settings)
    real = transport.name == "sendgrid"
    if real:  # a proof in a marketer's inbox deserves real images too
        from milestones.render.placeholders import PlaceholderLinks, check_real_send

        try:
            check_real_send(settings)
        except PlaceholderLinks as exc:
            raise UserError(str(exc)) from None
    try:
        message = proof_message(settings.templates_dir, args.template, args.locale, args.to,
                                variant=args.variant, default_locale=settings.default_locale,
                                assets_url=settings.assets_base if real else None,
                                link_base=settings.public_base if real else None)
        status = load_catalog(settings.templates_dir).status(args.template)
    except (CatalogError, RenderError) as exc:
        raise UserError(str(exc)) from None
    if message["missing_translation"]:
        print(f"milestones: note: {args.template} has no {args.locale!r} translation; "
              f"the proof uses the fallback locale {message['locale']!r}", file=sys.stderr)
    outcome = transport.send(message)
    _emit({"proof": message["key"], "to": mask_email(message["email"]), "transport": transport.name,
           "state": outcome.state, "error": outcome.error, "locale": message["locale"],
           "requested_locale": args.locale,
           "missing_translation": message["missing_translation"], "approved": status.approved,
           "subject": message["subject"]})
    return EXIT_OK if outcome.state == "accepted" else 1


def cmd_approve(args: argparse.Namespace) -> int:
    """Approve templates (or one A/B variant); refused, naming why, when one fails to render or lint."""
    from milestones.render.catalog import CatalogError, load_catalog
    from milestones.render.templatecheck import approve

    settings = _settings(args)
    try:
        catalog = load_catalog(settings.templates_dir)
        names = list(catalog.templates) if args.all else args.names
        if not names:
            raise UserError("approve: name a template (or --all)")
        if args.variant and len(names) != 1:
            raise UserError("approve: --variant needs exactly one template")
        approvals = {name: approve(settings.templates_dir, name, args.by, variant=args.variant,
                                   default_locale=settings.default_locale) for name in names}
    except CatalogError as exc:
        raise UserError(str(exc)) from None
    _emit({name + (f"/{args.variant}" if args.variant else ""): {"hash": a.hash, "by": a.by, "at": a.at}
           for name, a in approvals.items()})
    return EXIT_OK


PROFILE_HELP = ("extract profile (profiles/NAME.yaml, or a path to one): contract, salesforce, hubspot; "
                "default: the file name's prefix rule, else the extract_profile setting")
DATA_DIR_HELP = "data directory (default ./data or MILESTONES_DATA_DIR)"
FOLLOW_HELP = "read an extract that is a symbolic link (refused by default)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="milestones", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, func: Callable[[argparse.Namespace], int], help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    p = add("run", cmd_run, "validate, detect, decide, render and deliver one extract for a date")
    p.add_argument("--extract", required=True, type=_source,
                   help="CRM extract (CSV or Parquet): a path or a URL such as s3://bucket/customers_D.csv")
    p.add_argument("--previous", type=_source, help="previous extract or validated snapshot (path or URL)")
    p.add_argument("--as-of", required=True, type=_date, help="date the events fall on (YYYY-MM-DD)")
    p.add_argument("--days", type=_positive, help="catch-up window in days, at least 1 (default: setting catch_up_days, 1)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)

    p = add("validate", cmd_validate, "validate an extract; exit 3 when the file gate fails")
    p.add_argument("extract", type=_source, help="a path or a URL (s3://bucket/customers_D.csv, file:///...)")
    p.add_argument("--previous", type=_source, help="previous extract or snapshot (row-drop gate)")
    p.add_argument("--as-of", type=_date, help="snapshot date if the file name has none")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)

    p = add("profile", cmd_profile, "check an extract profile against a file; writes nothing")
    p.add_argument("action", choices=["check"], help="check: read the file with the profile and show the mapping")
    p.add_argument("file", type=Path, help="a CRM export (CSV or Parquet)")
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--rows", type=int, default=3, help="rows whose mapping is shown (default 3)")
    p.add_argument("--as-of", type=_date, help="snapshot date if the file name has none")

    p = add("detect", cmd_detect, "detect the life events of an extract for a date; write them to a file")
    p.add_argument("--extract", required=True, type=Path, help="CRM extract (CSV or Parquet)")
    p.add_argument("--previous", type=Path, help="previous extract, for change events")
    p.add_argument("--as-of", required=True, type=_date, help="date the events fall on (YYYY-MM-DD)")
    p.add_argument("--days", type=_positive, default=1, help="catch-up window: the N days ending --as-of (at least 1)")
    p.add_argument("--out", required=True, type=Path, help="events file, .csv or .parquet")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)

    p = add("ledger", cmd_ledger, "show the send ledger, or resolve an email left unknown")
    p.add_argument("action", choices=["status", "resolve"],
                   help="status: counts by state and the unknown keys; resolve: settle one unknown email")
    p.add_argument("key", nargs="?", help="email key (resolve)")
    p.add_argument("--as", dest="state", choices=["accepted", "pending", "failed"],
                   help="accepted: it went out; pending: send it again; failed: give up")
    p.add_argument("--note", help="why (kept in the ledger)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("why", cmd_why, "explain every decision taken for one customer")
    p.add_argument("customer_id", help="the CRM customer_id")
    p.add_argument("--as-of", type=_date, help="only this date (default: every date)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    for name in ("serve", "webhook"):  # "webhook": the name of the same server before it had pages
        p = add(name, cmd_serve, "serve the public app: preference pages, one-click unsubscribe, "
                "the SendGrid event webhook, email images")
        p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
        p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
        p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("preferences", cmd_preferences, "export customers' choices (unsubscribes, opt-outs, pauses, "
            "languages) as CSV for the CRM, or import the CRM's")
    p.add_argument("action", choices=["export", "import"], help="export: write the choices as CSV; import: read the CRM's")
    p.add_argument("file", nargs="?", type=Path, help="import: CSV with the export's columns (source crm_import)")
    p.add_argument("--since", type=_date, help="only customers whose choices changed on or after this date")
    p.add_argument("--out", help="export: CSV file to write (a path, or s3://... with data_conn_id's credentials)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("approve-run", cmd_approve_run, "let a run held by the circuit breaker send")
    p.add_argument("date", type=_date, help="the run's date (YYYY-MM-DD)")
    p.add_argument("--by", required=True, help="who approves")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("report", cmd_report, "results for marketing: CSV (and an HTML page beside it)")
    p.add_argument("--out", type=Path, default=Path("results.csv"),
                   help="CSV file to write (default results.csv; the HTML page goes beside it)")
    p.add_argument("--since", type=_date, help="first event date (default: all)")
    p.add_argument("--until", type=_date, help="last event date (default: all)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("outcomes", cmd_outcomes, "load an outcomes extract (outcomes_YYYY-MM-DD.csv|parquet)")
    p.add_argument("action", choices=["load"], help="load: validate the extract and store its outcomes")
    p.add_argument("file", type=_source, help="outcomes extract: a path or a URL")
    p.add_argument("--as-of", type=_date, help="extract date if the file name has none")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("uplift", cmd_uplift, "uplift of the emails: contacted vs held-out conversion, per group and overall")
    p.add_argument("--by", choices=["event_type", "locale", "variant"], help="one row per value of this")
    p.add_argument("--since", type=_date, help="first event date (default: all)")
    p.add_argument("--until", type=_date, help="last event date (default: all)")
    p.add_argument("--out", type=Path, default=Path("uplift.csv"), help="CSV file to write (default uplift.csv)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("sample", cmd_sample, "write the deterministic sample extracts (two snapshots)")
    p.add_argument("--out", default="samples", type=Path, help="directory to write to (default ./samples)")
    p.add_argument("--customers", type=_positive, default=300, help="customers per snapshot, at least 1 (default 300)")
    p.add_argument("--as-of", type=_date, default=dt.date(2026, 11, 22),
                   help="date of the later snapshot (default 2026-11-22)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42): same seed, same files")
    p.add_argument("--profile", help="write them as this profile's CRM exports them (salesforce, hubspot, ...)")

    p = add("preview", cmd_preview, "render every template x locale for sample customers into a static gallery")
    p.add_argument("--out", default=Path("gallery"), type=Path, help="gallery directory (default ./gallery)")

    p = add("proof", cmd_proof, "send one test email of a template (marked as a proof, never in the ledger)")
    p.add_argument("--template", required=True, help="template name from templates/catalog.yaml")
    p.add_argument("--locale", required=True, help="e.g. en, fi, et, zh-CN")
    p.add_argument("--to", required=True, help="address that receives the proof")
    p.add_argument("--variant", help="sample variant, e.g. regular or milestone-50 (default: the last)")
    p.add_argument("--data-dir", type=Path, help="data directory (the outbox lives there)")

    p = add("approve", cmd_approve, "record that PERSON approved the current content of templates")
    p.add_argument("names", nargs="*", metavar="NAME", help="template name(s) from templates/catalog.yaml")
    p.add_argument("--all", action="store_true", help="approve every template in the catalog")
    p.add_argument("--by", required=True, help="who approves (recorded with the content hash and time)")
    p.add_argument("--variant", help="approve this A/B variant of the template (default: the base template)")
    return parser


def main(argv: list[str] | None = None) -> int:
    from milestones.ingest.extract import ExtractError
    from milestones.pipeline import GateFailed

    if argv is None:  # the command itself, not a caller in a process that goes on
        import gc

        # The process ends after one command. One collection closes what is left (database
        # connections: SQLite checkpoints its WAL), then the interpreter's shutdown need not
        # walk the hundreds of thousands of objects Great Expectations built on import again
        # (about 0.6 s of CPU).
        atexit.register(lambda: (gc.collect(), gc.freeze()))
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    try:
        return args.func(args)
    except GateFailed as exc:
        print(f"milestones: validation gate failed: {exc}", file=sys.stderr)
        _emit(exc.summary)
        return EXIT_GATE
    except ExtractError as exc:
        print(f"milestones: error: {exc}", file=sys.stderr)
        return EXIT_GATE
    except (UserError, FileNotFoundError, ValueError) as exc:
        print(f"milestones: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - an operator fault is one line, not a traceback
        from milestones.core.faults import describe

        line = describe(exc)
        if line is None:
            raise
        print(f"milestones: error: {line}", file=sys.stderr)
        return EXIT_FAULT


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
