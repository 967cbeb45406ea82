"""The test tools the project installs (``bash scripts/test-deps.sh``, run by ``make test`` and
``make test-deps``), and how a test says it needs one.

    pytestmark = pytest.mark.needs("chromium", "axe-core")     # a module
    @pytest.mark.needs("prism")                                 # a test

A test that needs a missing tool fails at set-up with one line naming the tool and the command
that installs it (never a skip: a green run must have run every check). Tests that need tools run
after every other test of the run (``tests/conftest.py``), so under ``-x`` a missing tool stops
nothing that does not need it.
"""

from __future__ import annotations

import glob
import shutil
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETUP = "make test-deps (bash scripts/test-deps.sh)"


def _node(*parts: str) -> Callable[[], bool]:
    return lambda: (ROOT / "node_modules" / Path(*parts)).exists()


#: tool -> (is it there?, what installs it).
TOOLS: dict[str, tuple[Callable[[], bool], str]] = {
    "chromium": (lambda: Path("/usr/bin/chromium").is_file(), "apt-get install chromium"),
    "spamassassin": (lambda: shutil.which("spamassassin") is not None, "apt-get install spamassassin"),
    "postgresql": (lambda: bool(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or bool(shutil.which("initdb")),
                   "apt-get install postgresql"),
    "redis": (lambda: shutil.which("redis-server") is not None, "apt-get install redis-server"),
    "node": (lambda: shutil.which("node") is not None, "apt-get install nodejs npm"),
    "axe-core": (_node("axe-core", "axe.min.js"), "npm ci"),
    "prism": (_node(".bin", "prism"), "npm ci"),
    "doiuse-email": (_node("@jsx-email", "doiuse-email"), "npm ci"),
}


def missing(*names: str) -> list[str]:
    """The named tools that are not installed (an unknown name is an error in the test)."""
    unknown = [n for n in names if n not in TOOLS]
    if unknown:
        raise KeyError(f"unknown test tool(s) {unknown}: known are {sorted(TOOLS)}")
    return [n for n in names if not TOOLS[n][0]()]


def message(names: list[str]) -> str:
    how = "; ".join(f"{n}: {TOOLS[n][1]}" for n in names)
    return f"test tool missing: {', '.join(names)} ({how}). Run: {SETUP}"
