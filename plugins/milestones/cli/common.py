"""What every command shares: exit codes, argument types, settings, the one-line summary."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_USAGE, EXIT_GATE, EXIT_FAULT = 0, 2, 3, 4


class UserError(Exception):
    """A mistake the user can fix; shown as one line."""


def date_arg(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def positive_arg(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def settings_of(args: argparse.Namespace):
    from milestones.core.config import load_settings

    profile = getattr(args, "profile", None)
    # --profile NAME wins over the file-name prefix rules and the extract_profile setting.
    chosen = {"extract_profile": profile, "extract_profile_rules": ""} if profile else {}
    return load_settings(data_dir=getattr(args, "data_dir", None),
                         follow_symlinks=getattr(args, "follow_symlinks", None) or None, **chosen)


def source_arg(value: str) -> Path | str:
    """A local path, or an extract URL (s3://bucket/key, file:///path) kept as text."""
    from milestones.ingest.sources import is_url

    return value if is_url(value) else Path(value)


def local_file(extract: Path | str | None, settings) -> Path | None:
    """A local file for ``extract``: URLs are copied into data_dir/received/ first."""
    from milestones.ingest import sources
    from milestones.ingest.errors import ExtractError

    if extract is None:
        return None
    try:
        path = sources.local_file(extract, settings.data_dir, settings.inbox_conn_id)
    except sources.SourceMissing as exc:  # missing, like a local path: the gate's exit code
        raise ExtractError(str(exc)) from None
    except sources.SourceError as exc:
        raise UserError(str(exc)) from None
    return existing(path)


def existing(path: Path | None) -> Path | None:
    """``path`` if something is there (a broken link counts: the file gate names it), else the gate error."""
    from milestones.ingest.errors import ExtractError

    if path is not None and not (path.exists() or path.is_symlink()):
        raise ExtractError(f"{path}: no such file")
    return path


def emit(summary: dict[str, Any]) -> None:
    print(json.dumps(summary, sort_keys=True, default=str, ensure_ascii=False))


PROFILE_HELP = ("extract profile (profiles/NAME.yaml, or a path to one): contract, salesforce, hubspot; "
                "default: the file name's prefix rule, else the extract_profile setting")
DATA_DIR_HELP = "data directory (default ./data or MILESTONES_DATA_DIR)"
FOLLOW_HELP = "read an extract that is a symbolic link (refused by default)"


