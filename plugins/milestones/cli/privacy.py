"""Privacy commands: suppressions list|remove|log, erase, subject-export, retention apply."""

from __future__ import annotations

import argparse
from pathlib import Path

from milestones.cli.common import DATA_DIR_HELP, EXIT_OK, UserError, date_arg, emit, settings_of


def cmd_suppressions(args: argparse.Namespace) -> int:
    """Suppressed addresses: list them, lift one (recorded with who and why), or their log."""
    from milestones.privacy import suppressions

    url = settings_of(args).ledger_database_url
    if args.action == "list":
        found = suppressions.listing(url, reason=args.reason, limit=args.limit)
        for row in found:
            print(f"{row['email']}  {row['reason']}  since {row['since']:%Y-%m-%d %H:%M}  "
                  f"event {row['event_id'] or '-'}")
        emit({"suppressed": len(found), "addresses": found})
        return EXIT_OK
    if args.action == "log":
        rows = suppressions.log_of(url, args.email)
        emit({"entries": len(rows), "log": rows})
        return EXIT_OK
    if not args.email or not args.by or not args.note:
        raise UserError("suppressions remove needs EMAIL, --by NAME and --note WHY")
    removed = suppressions.remove(url, args.email, by=args.by, note=args.note)
    if removed is None:
        raise UserError("that address is not suppressed")
    emit(removed)
    return EXIT_OK


def cmd_erase(args: argparse.Namespace) -> int:
    """Erase customers' personal data everywhere (and complete any erasure a crash left half-done)."""
    from milestones.privacy import erase

    settings = settings_of(args)
    ids = list(args.customer or [])
    if args.file:
        ids += erase.read_requests(args.file)
    if not ids and not args.resume:
        raise UserError("erase needs --customer ID, --file requests.csv or --resume")
    if not args.by:
        raise UserError("erase needs --by NAME (the operator, kept in the erasure log)")
    if not ids:
        done = erase.resume(settings)
        emit({"resumed": len(done), "customers": sum(d["customers"] for d in done)})
        return EXIT_OK
    emit(erase.erase(settings, ids, operator=args.by, source="file" if args.file else "cli"))
    return EXIT_OK


def cmd_subject_export(args: argparse.Namespace) -> int:
    """Everything held about one customer, as JSON (a data subject access request)."""
    from milestones.privacy import subject_export

    summary = subject_export.export(settings_of(args), args.customer, args.out)
    emit(summary)
    return EXIT_OK


def cmd_retention(args: argparse.Namespace) -> int:
    """Delete what is older than its retention period (``--dry-run``: only list it)."""
    from milestones.privacy import retention

    summary = retention.apply(settings_of(args), today=args.as_of, dry_run=args.dry_run)
    for kind, what in summary["removed"].items():
        verb = "would remove" if args.dry_run else "removed"
        for name in what.get("names", []):
            print(f"{verb} {kind}: {name}")
        for table, rows in what.get("rows", {}).items():
            print(f"{verb} {kind}: {rows} rows of {table}")
    emit({**summary, "removed": {k: {"files": v.get("files", 0), **({"rows": v["rows"]} if "rows" in v else {})}
                                 for k, v in summary["removed"].items()}})
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("suppressions", cmd_suppressions, "list suppressed addresses, lift one (with who and why), "
            "or show the suppression log")
    p.add_argument("action", choices=["list", "remove", "log"],
                   help="list: suppressed addresses; remove: lift one (--by, --note); log: what was added and lifted")
    p.add_argument("email", nargs="?", help="the address (remove; log: only this address)")
    p.add_argument("--reason", help="list: only this reason (bounce, spamreport, soft_failures, ...)")
    p.add_argument("--limit", type=int, help="list: at most this many")
    p.add_argument("--by", help="remove: who lifts it")
    p.add_argument("--note", help="remove: why (kept in the suppression log)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("erase", cmd_erase, "erase customers' personal data from every file and table (GDPR erasure); "
            "what exactly-once and statistics need stays, pseudonymised")
    p.add_argument("--customer", action="append", metavar="ID", help="a customer_id (repeatable)")
    p.add_argument("--file", type=Path, help="a CSV of requests with a customer_id column")
    p.add_argument("--by", help="who erases (kept in the erasure log)")
    p.add_argument("--resume", action="store_true", help="only complete erasures a crash left half-done")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("subject-export", cmd_subject_export, "export everything held about one customer as JSON "
            "(a data subject access request)")
    p.add_argument("--customer", required=True, metavar="ID", help="the customer_id")
    p.add_argument("--out", required=True, type=Path, help="the JSON file to write")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("retention", cmd_retention, "delete data older than its retention period (settings retain_*_days)")
    p.add_argument("action", choices=["apply"], help="apply: delete (or with --dry-run list) what is too old")
    p.add_argument("--dry-run", action="store_true", help="only list what would be removed")
    p.add_argument("--as-of", type=date_arg, help="count the periods back from this day (default: today)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
