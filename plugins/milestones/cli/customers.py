"""What customers reach and choose: serve (the public app), preferences export|import."""

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


def cmd_serve(args: argparse.Namespace) -> int:
    """The public app: preference pages, one-click unsubscribe, the event webhook, email images."""
    import uvicorn

    from milestones.public import create_app

    uvicorn.run(create_app(settings_of(args)), host=args.host, port=args.port, log_level="warning",
                proxy_headers=True, server_header=False)
    return EXIT_OK


def cmd_preferences(args: argparse.Namespace) -> int:
    """Customers' choices as CSV for the CRM (formula-safe cells), or the CRM's choices into the store."""
    settings = settings_of(args)
    if args.action == "import":
        from milestones.decide.preferences_import import import_csv
        from milestones.detect.events import load_rules

        if not args.file:
            raise UserError("preferences import needs FILE.csv")
        emit(import_csv(settings.ledger_database_url, args.file, {r.event_type for r in load_rules()}))
        return EXIT_OK
    from milestones.core import storage
    from milestones.decide.preferences_export import export

    if not args.out or not args.out.lower().endswith(".csv"):
        raise UserError("preferences export needs --out FILE.csv")
    emit(export(settings.ledger_database_url, storage.locate(args.out, settings.data_conn_id), args.since,
                with_consent=args.with_consent))
    return EXIT_OK


def register(add) -> None:
    """Add this module's commands (``add(name, func, help)`` returns the subparser)."""
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
    p.add_argument("--since", type=date_arg, help="only customers whose choices changed on or after this date")
    p.add_argument("--out", help="export: CSV file to write (a path, or s3://... with data_conn_id's credentials)")
    p.add_argument("--with-consent", action="store_true",
                   help="export: add the consent proof of each customer's latest change (source, time, wording "
                        "version, keyed hash of the client address)")
    p.add_argument("--data-dir", type=Path, help=DATA_DIR_HELP)

