"""Delivery on its own: `deliver --as-of D [--at ISO-TIME]`, and the `--at` argument type."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from milestones.cli.common import DATA_DIR_HELP, EXIT_OK, date_arg, emit, settings_of

AT_HELP = ("treat this moment as now (ISO 8601, e.g. 2026-11-22T08:00:00Z; no zone = UTC): "
           "for replays and tests; recorded in the summary")


def at_arg(value: str) -> dt.datetime:
    """An ISO 8601 moment; without a zone it is UTC."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time (2026-11-22T08:00:00Z): {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def cmd_deliver(args: argparse.Namespace) -> int:
    """Hand over the rendered emails of a date that are due now (or at --at), each at most once,
    after checking each again against the customer's choices and its event's age."""
    from milestones import pipeline

    settings = settings_of(args)
    now = args.at or dt.datetime.now(dt.UTC)
    delivered = pipeline.deliver_stage(args.as_of, settings, due_before=now, at=args.at)
    record = pipeline.record_delivery(args.as_of, settings, delivered)
    emit({**delivered, "as_of": str(args.as_of), "at": now.isoformat(),
          "run_record": {k: record.get(k) for k in ("emails_sent", "failed", "unknown", "cancelled", "expired")}})
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("deliver", cmd_deliver, "hand over a date's rendered emails that are due (after `run --no-deliver`)")
    p.add_argument("--as-of", required=True, type=date_arg, help="the date whose rendered emails to deliver")
    p.add_argument("--at", type=at_arg, help=AT_HELP)
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
