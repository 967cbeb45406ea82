"""A pytest plugin for mutation runs only (``[tool.mutmut] pytest_add_cli_args``): fastest tests first.

mutmut runs, for each mutant, the tests that reach its function with ``-x``, in whatever order
they come. A mutant is killed by its first failing test, so running the tests that took least
time in mutmut's own measurement (``mutants/mutmut-stats.json``) first ends most runs in a
second instead of after every slow test before the one that fails. Tests it has not timed yet
(new ones) count as instant. Tests that need a tool that is not installed stay last
(tests/conftest.py); those whose tools are there (PostgreSQL: scripts/mutation.py starts a server
for the run) take their place by time, or a mutant of a line only PostgreSQL runs would first
wait for every SQLite test that reaches its function.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest


def _durations() -> dict[str, float]:
    for path in (Path("mutmut-stats.json"), Path("mutants") / "mutmut-stats.json"):
        try:
            return json.loads(path.read_text())["duration_by_test"]
        except (OSError, ValueError, KeyError):
            continue
    return {}


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    from tests.tools import missing

    took = _durations()

    def lacking(item) -> bool:
        return bool(missing(*(name for mark in item.iter_markers("needs") for name in mark.args)))

    items.sort(key=lambda item: (lacking(item), took.get(item.nodeid, 0.0)))
