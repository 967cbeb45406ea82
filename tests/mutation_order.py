"""A pytest plugin for mutation runs only (``[tool.mutmut] pytest_add_cli_args``): fastest tests first.

mutmut runs, for each mutant, the tests that reach its function with ``-x``, in whatever order
they come. A mutant is killed by its first failing test, so running the tests that took least
time in mutmut's own measurement (``mutants/mutmut-stats.json``) first ends most runs in a
second instead of after every slow test before the one that fails. Tests it has not timed yet
(new ones) count as instant. Tests that need installed tools stay last (tests/conftest.py).
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
    took = _durations()
    items.sort(key=lambda item: (item.get_closest_marker("needs") is not None, took.get(item.nodeid, 0.0)))
