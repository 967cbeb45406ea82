"""Stage commands: run, validate, detect, profile check, sample."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from milestones.cli.common import (
    DATA_DIR_HELP,
    EXIT_GATE,
    EXIT_OK,
    FOLLOW_HELP,
    PROFILE_HELP,
    UserError,
    date_arg,
    emit,
    existing,
    local_file,
    positive_arg,
    settings_of,
    source_arg,
)
from milestones.cli.delivery import AT_HELP, at_arg


def cmd_run(args: argparse.Namespace) -> int:
    from milestones import pipeline

    settings = settings_of(args)
    summary = pipeline.run(local_file(args.extract, settings), args.as_of, settings,
                           previous=local_file(args.previous, settings), days=args.days, at=args.at,
                           deliver=not args.no_deliver)
    emit(summary)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from milestones import pipeline

    settings = settings_of(args)
    summary = pipeline.validate_stage(local_file(args.extract, settings), settings,
                                      previous=local_file(args.previous, settings), as_of=args.as_of)
    emit(summary)
    return EXIT_OK


def cmd_detect(args: argparse.Namespace) -> int:
    from collections import Counter

    from milestones.core import storage
    from milestones.detect.events import detect_events
    from milestones.ingest.validation import validate_extract

    settings = settings_of(args)
    if args.out.suffix.lower() not in {".csv", ".parquet"}:
        raise UserError(f"--out must end in .csv or .parquet, not {args.out.name!r}")
    follow = settings.follow_symlinks
    current = validate_extract(existing(args.extract), as_of=args.as_of, follow_symlinks=follow)
    previous = validate_extract(existing(args.previous), follow_symlinks=follow).valid if args.previous else None
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
    emit({"as_of": str(args.as_of), "days": args.days, "rows": current.rows, "valid": len(current.valid),
           "quarantined": len(current.quarantine), "events": len(events),
           "by_type": dict(sorted(Counter(events["event_type"]).items())),
           "stale": int(events["stale"].sum()), "out": str(args.out)})
    return EXIT_OK


def cmd_profile(args: argparse.Namespace) -> int:
    """Check a profile against a file: the mapping of the first rows and the contract's verdict."""
    from milestones.ingest.profile_check import check
    from milestones.ingest.profiles import select

    settings = settings_of(args)
    summary = check(args.file, select(args.file, settings), rows=args.rows, as_of=args.as_of,
                    max_invalid_share=settings.max_invalid_share)
    emit(summary)
    return EXIT_OK if summary["gate_passed"] else EXIT_GATE


def cmd_sample(args: argparse.Namespace) -> int:
    from milestones.ingest.sample import write_samples

    if args.profile:
        from milestones.ingest.sample_exports import write_profile_samples

        prev, cur = write_profile_samples(Path(args.out), args.profile, n=args.customers, as_of=args.as_of,
                                          seed=args.seed, profiles_dir=settings_of(args).profiles_dir)
    else:
        prev, cur = write_samples(Path(args.out), n=args.customers, as_of=args.as_of, seed=args.seed)
    emit({"previous": str(prev), "current": str(cur), "customers": args.customers, "seed": args.seed,
           "profile": args.profile or "contract"})
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("run", cmd_run, "validate, detect, decide, render and deliver one extract for a date")
    p.add_argument("--extract", required=True, type=source_arg,
                   help="CRM extract (CSV or Parquet): a path or a URL such as s3://bucket/customers_D.csv")
    p.add_argument("--previous", type=source_arg, help="previous extract or validated snapshot (path or URL)")
    p.add_argument("--as-of", required=True, type=date_arg, help="date the events fall on (YYYY-MM-DD)")
    p.add_argument("--days", type=positive_arg, help="catch-up window in days, at least 1 (default: setting catch_up_days, 1)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)
    p.add_argument("--no-deliver", action="store_true",
                   help="stop after rendering; `milestones deliver --as-of D` hands the emails over when due")
    p.add_argument("--at", type=at_arg, help=AT_HELP)

    p = add("validate", cmd_validate, "validate an extract; exit 3 when the file gate fails")
    p.add_argument("extract", type=source_arg, help="a path or a URL (s3://bucket/customers_D.csv, file:///...)")
    p.add_argument("--previous", type=source_arg, help="previous extract or snapshot (row-drop gate)")
    p.add_argument("--as-of", type=date_arg, help="snapshot date if the file name has none")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)

    p = add("profile", cmd_profile, "check an extract profile against a file; writes nothing")
    p.add_argument("action", choices=["check"], help="check: read the file with the profile and show the mapping")
    p.add_argument("file", type=Path, help="a CRM export (CSV or Parquet)")
    p.add_argument("--profile", help=PROFILE_HELP)
    p.add_argument("--rows", type=int, default=3, help="rows whose mapping is shown (default 3)")
    p.add_argument("--as-of", type=date_arg, help="snapshot date if the file name has none")

    p = add("detect", cmd_detect, "detect the life events of an extract for a date; write them to a file")
    p.add_argument("--extract", required=True, type=Path, help="CRM extract (CSV or Parquet)")
    p.add_argument("--previous", type=Path, help="previous extract, for change events")
    p.add_argument("--as-of", required=True, type=date_arg, help="date the events fall on (YYYY-MM-DD)")
    p.add_argument("--days", type=positive_arg, default=1, help="catch-up window: the N days ending --as-of (at least 1)")
    p.add_argument("--out", required=True, type=Path, help="events file, .csv or .parquet")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)
    p.add_argument("--follow-symlinks", action="store_true", help=FOLLOW_HELP)

    p = add("sample", cmd_sample, "write the deterministic sample extracts (two snapshots)")
    p.add_argument("--out", default="samples", type=Path, help="directory to write to (default ./samples)")
    p.add_argument("--customers", type=positive_arg, default=300, help="customers per snapshot, at least 1 (default 300)")
    p.add_argument("--as-of", type=date_arg, default=dt.date(2026, 11, 22),
                   help="date of the later snapshot (default 2026-11-22)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42): same seed, same files")
    p.add_argument("--profile", help="write them as this profile's CRM exports them (salesforce, hubspot, ...)")

