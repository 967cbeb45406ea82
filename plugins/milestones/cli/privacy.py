"""Privacy commands: suppressions list|remove|log, erase, subject-export, retention apply."""

from __future__ import annotations

import argparse
from pathlib import Path

from milestones.cli.common import DATA_DIR_HELP, EXIT_OK, UserError, emit, settings_of


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


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("suppressions", cmd_suppressions, "list suppressed addresses, lift one (with who and why), "
            "or show the suppression log")
    p.add_argument("action", choices=["list", "remove", "log"])
    p.add_argument("email", nargs="?", help="the address (remove; log: only this address)")
    p.add_argument("--reason", help="list: only this reason (bounce, spamreport, soft_failures, ...)")
    p.add_argument("--limit", type=int, help="list: at most this many")
    p.add_argument("--by", help="remove: who lifts it")
    p.add_argument("--note", help="remove: why (kept in the suppression log)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
