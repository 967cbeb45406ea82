"""Operator faults as one line: what broke, where, and what to do, never a traceback.

A full disk, a read-only data directory, a ledger locked by another process or
unreachable: none of these is a bug in the pipeline, and the person running it
needs one sentence, not forty lines of stack. :func:`describe` turns such an
exception into that sentence (or ``None`` for anything else, which stays a
traceback: a real bug must stay visible). Messages name paths, never data:
SQLAlchemy's own message would quote the SQL statement and its parameters.
"""

from __future__ import annotations

import errno

_OS_ADVICE = {
    errno.ENOSPC: "no space left on the device: free space (or move data_dir) and run again",
    errno.EDQUOT: "disk quota exceeded: free space and run again",
    errno.EROFS: "the file system is read-only: point data_dir (--data-dir) at a writable directory",
    errno.EACCES: "permission denied: the user running milestones must be able to read and write there",
    errno.EPERM: "operation not permitted: check the owner and permissions",
    errno.EFBIG: "file too large for this file system or the process's file size limit",
    errno.EIO: "input/output error on the device: check the disk",
}


def describe(exc: BaseException) -> str | None:
    """One line for an operator fault, or ``None`` when ``exc`` is not one."""
    if isinstance(exc, OSError):
        code = exc.errno
        if code is None:  # Arrow's IO errors carry the errno in their text only
            code = next((c for c in _OS_ADVICE if f"[Errno {c}]" in str(exc)), None)
        if code in _OS_ADVICE:
            where = f"{exc.filename}: " if exc.filename else ""
            return f"{where}{_OS_ADVICE[code]}"
    try:
        import sqlalchemy.exc as sa_exc
    except ImportError:  # pragma: no cover - SQLAlchemy is a dependency
        return None
    if isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
        cause = str(exc.orig).splitlines()[0] if exc.orig is not None else type(exc).__name__
        if "locked" in cause:
            return ("the ledger database is locked by another milestones process (a delivery still "
                    "running?): run again when it has finished")
        if "readonly" in cause or "read-only" in cause:
            return "the ledger database is read-only: make data_dir (or ledger_url) writable"
        if "disk" in cause and "full" in cause:
            return "the ledger database's disk is full: free space and run again"
        return f"the ledger database failed ({type(exc.orig).__name__}: {cause})"
    return None
