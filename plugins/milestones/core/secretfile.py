"""A secret kept in the data directory: ``<data_dir>/secrets/<name>``, made once, mode 0600.

The link secret and the privacy key fall back to such a file when neither the environment
nor an Airflow connection holds one. The file is created exclusively (``O_EXCL``): when two
processes start at once, the second reads what the first wrote, so every process of one data
directory gets the same secret.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def read_or_create(data_dir: Path | str, name: str) -> str:
    """The secret in ``<data_dir>/secrets/<name>``: 32 random bytes, URL-safe, made on first use."""
    path = Path(data_dir) / "secrets" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip()
