"""The two ways an input file is refused, shared by every reader of the ingest stage.

:class:`ExtractError`: the file as a whole cannot be read or accepted (missing, not a regular
file, not UTF-8, a bad header, ...). :class:`GateFailed`: it was read and validated, and the
validation gate stopped it (too many invalid rows, too few rows). Both end a command with exit
code 3 and stop a DAG run before anything downstream runs.
"""

from __future__ import annotations

from typing import Any


class ExtractError(Exception):
    """The file as a whole cannot be accepted (the validation gate fails closed)."""


class GateFailed(Exception):
    """The validation gate stopped the file: nothing downstream may run on it."""

    def __init__(self, message: str, summary: dict[str, Any]):
        super().__init__(message)
        self.summary = summary
