"""Results for marketing: report, outcomes load, uplift."""

from __future__ import annotations

import argparse
from pathlib import Path

from milestones.cli.common import (
    DATA_DIR_HELP,
    EXIT_OK,
    date_arg,
    emit,
    local_file,
    settings_of,
    source_arg,
)


def cmd_report(args: argparse.Namespace) -> int:
    """Results by date, event type, locale and variant, as CSV (and the HTML page beside it)."""
    from milestones.core import storage
    from milestones.measure import report

    result = report.results(settings_of(args), since=args.since, until=args.until)
    pages = ((args.out, report.to_csv(result["rows"])),
             (args.out.with_suffix(".html"), report.to_html(result, csv_name=args.out.name)))
    for path, text in pages:  # each whole or not at all (a full disk leaves no half page)
        storage.replace_from_temp(path, lambda tmp, text=text: tmp.write_text(text, encoding="utf-8", newline=""))
    totals = {c: sum(r[c] for r in result["rows"]) for c in report.COUNTS}
    emit({"out": str(args.out), "html": str(args.out.with_suffix(".html")), "rows": len(result["rows"]), **totals,
          "skipped": result["skipped"],
           "uplift": {k: result["uplift"]["event_type"][-1][k] for k in ("lift", "lift_ci_low", "lift_ci_high",
                                                                          "p_value", "verdict")}})
    return EXIT_OK


def cmd_outcomes(args: argparse.Namespace) -> int:
    """Validate and store an outcomes extract (purchases, logins, ...)."""
    from milestones.measure import outcomes

    emit(outcomes.load(local_file(args.file, settings_of(args)), settings_of(args), as_of=args.as_of))
    return EXIT_OK


def cmd_uplift(args: argparse.Namespace) -> int:
    """Contacted vs held out: conversion rates, lift with its 95% interval, p-value, verdict."""
    from milestones.core import csvsafe, storage
    from milestones.measure import uplift

    rows = uplift.compute(settings_of(args), by=args.by, since=args.since, until=args.until)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # Whole or not at all, like `report --out`: a full disk keeps the previous file.
    storage.replace_from_temp(args.out, lambda tmp: csvsafe.write_rows(rows, uplift.COLUMNS, tmp))
    emit({"out": str(args.out), "by": args.by, "groups": len(rows) - 1, "all": rows[-1]})
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
    p = add("report", cmd_report, "results for marketing: CSV (and an HTML page beside it)")
    p.add_argument("--out", type=Path, default=Path("results.csv"),
                   help="CSV file to write (default results.csv; the HTML page goes beside it)")
    p.add_argument("--since", type=date_arg, help="first event date (default: all)")
    p.add_argument("--until", type=date_arg, help="last event date (default: all)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("outcomes", cmd_outcomes, "load an outcomes extract (outcomes_YYYY-MM-DD.csv|parquet)")
    p.add_argument("action", choices=["load"], help="load: validate the extract and store its outcomes")
    p.add_argument("file", type=source_arg, help="outcomes extract: a path or a URL")
    p.add_argument("--as-of", type=date_arg, help="extract date if the file name has none")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

    p = add("uplift", cmd_uplift, "uplift of the emails: contacted vs held-out conversion, per group and overall")
    p.add_argument("--by", choices=["event_type", "locale", "variant"], help="one row per value of this")
    p.add_argument("--since", type=date_arg, help="first event date (default: all)")
    p.add_argument("--until", type=date_arg, help="last event date (default: all)")
    p.add_argument("--out", type=Path, default=Path("uplift.csv"), help="CSV file to write (default uplift.csv)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

