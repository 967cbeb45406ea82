"""The README is the front page: short, and its command table names every command there is."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from milestones.cli import build_parser

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return list(sub.choices)


def test_readme_is_a_front_page():
    assert len(README.splitlines()) <= 250


def test_the_command_table_names_every_command():
    table = {m.group(1) for m in re.finditer(r"^\| `milestones ([a-z-]+)", README, re.M)}
    aliases = re.findall(r"\(alias `([a-z-]+)`\)", README)
    assert set(_commands()) - table - set(aliases) == set()
    assert table - set(_commands()) == set()  # no row for a command that does not exist


def test_the_first_screen_shows_the_way_to_the_ui_why_and_serve():
    first_screen = "\n".join(README.splitlines()[:80])
    for needle in ("make airflow", "milestones why", "milestones serve", "results"):
        assert needle in first_screen
