"""The send ledger and decisions: ledger status|resolve, why, approve-run."""

from __future__ import annotations

import argparse
from pathlib import Path

from milestones.cli.common import (
    DATA_DIR_HELP,
    EXIT_OK,
    UserError,
    date_arg,
    emit,
    settings_of,
)

REASONS = {
    "": "sent (or due to be sent)",
    "deceased": "the CRM marks the customer deceased: never contacted",
    "sensitive": "the customer's current record makes this greeting hurtful: never sent",
    "implausible_age": "the customer's age on that day makes the event implausible (a wrong inference or data)",
    "unsubscribed": "the customer unsubscribed from all milestone emails",
    "opted_out_of_type": "the customer does not want this kind of email",
    "paused": "the customer paused milestone emails",
    "no_opt_in": "no marketing opt-in",
    "erased": "the customer's personal data was erased on request: never contacted again",
    "suppressed": "the address unsubscribed, bounced, reported spam or failed repeatedly",
    "sunset": "opened or clicked no email for sunset_months: no longer written to",
    "stale": "found too long after it happened (catch-up after an outage)",
    "quiet_day": "a quiet day: nothing is sent",
    "holdout": "in the holdout group, which receives nothing so that uplift can be measured",
    "frequency_cap": "already had a milestone email within the frequency cap",
    "lower_priority_same_day": "another event of the same day had priority: one email per customer",
    "unsubscribed_address": "another record with this address unsubscribed: the inbox's owner asked to stop",
    "same_inbox_same_day": "another email went to this address that day: one milestone email per inbox and day",
    "couple_shared_email": "greeted together with the partner in one email to their shared address",
    "cancelled": "not sent: the customer's choices changed between rendering and sending",
    "expired": "not sent: too late to hand over (more than the event's max_age_days after its day)",
    "template_not_approved": "the template's current content is not approved",
}


def explain(reason: str | None) -> str:
    """The sentence for a reason; a specific one (``sensitive: marital_status widowed``) keeps its detail."""
    reason = reason or ""
    if reason in REASONS:
        return REASONS[reason]
    head, _, detail = reason.partition(":")
    return f"{REASONS[head]} ({detail.strip()})" if head in REASONS and detail else reason


def cmd_ledger(args: argparse.Namespace) -> int:
    """Operator view of the send ledger: counts, unknown emails, and resolving them."""
    from milestones.deliver.ledger import SENDING, UNKNOWN, Ledger

    settings = settings_of(args)
    ledger = Ledger(settings.ledger_database_url)
    if args.action == "resolve":
        if not args.key or not args.state or not args.note:
            raise UserError("resolve needs KEY, --as accepted|pending|failed and --note")
        if not ledger.resolve(args.key, args.state, args.note):
            raise UserError(f"no unknown email with key {args.key!r}")
        emit({"key": args.key, "state": args.state, "note": args.note})
        return EXIT_OK
    doubt = ledger.in_doubt()
    # In doubt: "sending" (claimed, no answer recorded: in flight now, or its worker died)
    # and "unknown". Neither is ever resent by itself; only "unknown" is resolved by hand.
    emit({"states": ledger.counts(), "in_doubt_total": doubt[SENDING]["total"] + doubt[UNKNOWN]["total"],
           "sending": doubt[SENDING]["keys"], "sending_total": doubt[SENDING]["total"],
           "unknown": doubt[UNKNOWN]["keys"], "unknown_total": doubt[UNKNOWN]["total"]})
    return EXIT_OK


def cmd_why(args: argparse.Namespace) -> int:
    """Every decision the pipeline took for one customer, with its reason and the email's fate."""
    from milestones.core import storage
    from milestones.measure.feedback import Feedback

    settings = settings_of(args)
    root = storage.root(settings) / "decisions"
    days = [root / str(args.as_of)] if args.as_of else sorted(root.glob("*") if root.is_dir() else [],
                                                               key=lambda d: d.name)
    mine = sorted((row for d in days if (d / "decisions.parquet").is_file()
                   for row in storage.parquet_records(d / "decisions.parquet", "customer_id", args.customer_id)),
                  key=lambda row: str(row["event_date"]))
    from milestones.render import history

    feedback = Feedback(settings.ledger_database_url)
    approved_as = history.by_ledger_version(settings.templates_dir)
    out = []
    for row in mine:
        # A couple's (or a shared inbox's) row points at the one email that went to the address.
        shared = row.get("shared_key") or None
        email = feedback.ledger.get(shared or row["key"])
        entry = {"date": str(row["event_date"])[:10], "event": row["event_type"], "decision": row["decision"],
                 "reason": row["reason"] or None, "key": row["key"],
                 "email_state": email["state"] if email else None}
        if email and email.get("template_version"):
            # Which template version the customer got, and whose approval it was.
            known = approved_as.get(email["template_version"])
            entry["template_version"] = email["template_version"]
            entry["template_approved"] = {"by": known.by, "at": known.at, "note": known.note} if known else None
        if shared:
            entry["shared_email"] = shared
        if row.get("partner_id"):
            entry["together_with"] = row["partner_id"]
        if email and email["state"] in ("cancelled", "expired"):
            entry["email_reason"] = email["last_error"]
        out.append(entry)
        fate = f", email {entry['email_state']}" if entry["email_state"] else ""
        if shared:
            fate = f"; the email {shared}" + (f" ({email['customer_id']}'s, {email['state']})" if email else "")
        if row.get("partner_id"):
            fate += f" (one email greeting this customer and {row['partner_id']})"
        if entry.get("email_reason"):
            fate += f" ({explain(entry['email_reason'])})"
        if entry.get("template_version"):
            known = entry["template_approved"]
            fate += f", template version {entry['template_version']}" + (
                f" (approved by {known['by']} at {known['at']})" if known else "")
        said = ("decided to send, stopped at hand-over" if entry.get("email_reason") and not row["reason"]
                else explain(row["reason"]))
        print(f"{entry['date']} {entry['event']}: {row['decision']}: {said}{fate}")
    webhook = [e["event"] for e in feedback.events_for(customer_id=args.customer_id)]
    if not out:
        print(f"no events detected for {args.customer_id}")
    choices = feedback.preferences.history(args.customer_id)
    for change in choices:
        print(f"{change['at']:%Y-%m-%d %H:%M} UTC {change['field']}: {change['old'] or '-'} -> "
              f"{change['new'] or '-'} (via {change['source']})")
    emit({"customer_id": args.customer_id, "decisions": out, "webhook_events": webhook,
           "choices": [{k: str(v) if k == "at" else v for k, v in c.items() if k != "id"} for c in choices]})
    return EXIT_OK


def cmd_approve_run(args: argparse.Namespace) -> int:
    """Let a run the circuit breaker held send anyway (recorded with who and when)."""
    import datetime as dt

    from milestones.core import storage
    from milestones.pipeline import approval_path

    settings = settings_of(args)
    record = {"date": str(args.date), "approved_by": args.by,
              "approved_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    storage.write_json(record, approval_path(args.date, settings))
    emit(record)
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
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
    p.add_argument("--as-of", type=date_arg, help="only this date (default: every date)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("approve-run", cmd_approve_run, "let a run held by the circuit breaker send")
    p.add_argument("date", type=date_arg, help="the run's date (YYYY-MM-DD)")
    p.add_argument("--by", required=True, help="who approves")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

