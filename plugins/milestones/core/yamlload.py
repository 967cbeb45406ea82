"""YAML read safely, with PyYAML's C parser (libyaml) when its wheel has one.

``yaml.safe_load`` is PyYAML's pure-Python parser: the template catalog, the event rules,
brands and settings are read by every task, page and CLI command, and a catalog of a few
kilobytes took ~35 ms to parse. ``CSafeLoader`` builds the same objects with the same safe
constructors (plain data only, no Python objects) about ten times faster.
"""

from __future__ import annotations

from typing import IO, Any


def safe_load(stream: str | bytes | IO[str] | IO[bytes]) -> Any:
    """``yaml.safe_load(stream)``, with the C parser when PyYAML has it; raises ``yaml.YAMLError``."""
    import yaml

    return yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 (a safe loader)
