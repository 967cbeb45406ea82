"""What Linux's /proc says about a process, for the benchmarks that measure a server's CPU."""

from __future__ import annotations

import os
from pathlib import Path


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def time_wait_sockets(port: int) -> int | None:
    """TCP connections to or from ``port`` in TIME_WAIT (/proc/net/tcp), else None."""
    try:
        table = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    hexport = f":{port:04X}"
    count = 0
    for row in table:
        local, remote, state = row.split()[1:4]
        count += state == "06" and (local.endswith(hexport) or remote.endswith(hexport))
    return count
