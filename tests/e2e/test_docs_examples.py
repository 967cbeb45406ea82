"""Every shell example the README and the docs mark runnable is run, and must do what it says.

A block is marked by a line ``<!-- runnable -->`` (or ``<!-- runnable exit=N -->`` when the
last command is expected to fail with code N) directly above a ```` ```sh ```` fence. It runs
with bash from the repository root, ``.venv/bin`` first on PATH and ``MILESTONES_DATA_DIR``
a fresh directory of its own; every command but the last must succeed (``set -e``).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"^<!-- runnable(?: exit=(\d+))? -->\n```(?:sh|bash|console)\n(.*?)^```", re.M | re.S)


def examples() -> list:
    found = []
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(pytest.param(match.group(2), int(match.group(1) or 0),
                                      id=f"{page.relative_to(ROOT)}:{line}"))
    return found


def test_the_docs_mark_examples_runnable():
    """The marker is in use (a renamed marker would silently run nothing)."""
    assert len(examples()) >= 3


@pytest.mark.parametrize(("script", "expected"), examples())
def test_runnable_example(script: str, expected: int, tmp_path: Path):
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MILESTONES_DATA_DIR": str(tmp_path / "data")}
    env.pop("MILESTONES_CONFIG", None)
    body = script if expected == 0 else _all_but_last_strict(script)
    body = body if expected else "set -e\n" + body
    done = subprocess.run(["bash", "-c", body], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == expected, (done.stdout[-2000:], done.stderr[-2000:])


def _all_but_last_strict(script: str) -> str:
    """``set -e`` for every command but the last, whose own exit code is the block's."""
    lines = [line for line in script.replace("\\\n", " ").strip().splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return "set -e\n" + "\n".join(lines[:-1]) + "\nset +e\n" + lines[-1] + "\n"
