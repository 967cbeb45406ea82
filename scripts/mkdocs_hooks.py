"""mkdocs hook: reference pages generated from the code, so they cannot drift from it.

A page asks for a generated section with a marker line of its own:

* ``<!-- generated: cli -->``: every command and option, from the argument parser
  (:func:`milestones.cli.build_parser`): what ``--help`` prints, as tables.
* ``<!-- generated: settings -->``: every setting of :class:`milestones.core.config.Settings`
  with its environment variable, default, bounds and the ``#:`` comment above its field.
* ``<!-- generated: exit-codes -->``: the exit codes of :mod:`milestones.cli.common`.
* ``<!-- generated: equivalent-mutants -->``: every surviving mutant explained as equivalent,
  with its reason, from ``EQUIVALENT`` in ``scripts/mutation.py``.

An unknown marker fails the build (``mkdocs build --strict``).
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import inspect
import math
import re

MARKER = re.compile(r"^<!-- generated: ([a-z-]+) -->$", re.M)


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def cli_reference() -> str:
    from milestones.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {a.dest: a.help for a in sub._choices_actions}
    out = ["| command | what it does |", "|---|---|"]
    out += [f"| [`{name}`](#{name}) | {_cell(helps.get(name, ''))} |" for name in sub.choices]
    for name, p in sub.choices.items():
        usage = p.format_usage().replace("usage: ", "").strip()
        out += ["", f"## `{name}`", "", _cell(helps.get(name, "")), "", "```text", usage, "```", ""]
        rows = []
        for action in p._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            flags = ", ".join(f"`{s}`" for s in action.option_strings) or f"`{action.dest}`"
            extra = []
            if action.choices:
                extra.append("one of " + ", ".join(f"`{c}`" for c in action.choices))
            if action.required and action.option_strings:
                extra.append("required")
            default = action.default
            if action.option_strings and default not in (None, False, argparse.SUPPRESS) \
                    and "default" not in (action.help or ""):
                extra.append(f"default `{default}`")
            rows.append(f"| {flags} | {_cell(action.help or '')}{'; ' if extra else ''}{'; '.join(extra)} |")
        if rows:
            out += ["| argument | meaning |", "|---|---|", *rows]
    return "\n".join(out)


def _comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment lines right above each field of ``cls``, joined."""
    source = inspect.getsource(cls)
    lines = source.splitlines()
    found: dict[str, str] = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            text, i = [], node.lineno - 2
            while i >= 0 and lines[i].strip().startswith("#:"):
                text.insert(0, lines[i].strip()[2:].strip())
                i -= 1
            found[node.target.id] = " ".join(text)
    return found


def settings_reference() -> str:
    from milestones.core import config

    comments = _comments(config.Settings)
    bounds = {name: (low, high) for name, low, high in config._BOUNDS}
    root = str(config.PROJECT_ROOT)
    out = ["| setting | environment variable | default | bounds | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(config.Settings):
        if f.name == "extra":
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = "empty" if default in ("", None) else str(default).replace(root, "<project>")
        low, high = bounds.get(f.name, (None, None))
        bound = "" if low is None else (
            ("> 0" if low == config._TINY else f">= {low:g}") if high == math.inf else f"{low:g} to {high:g}")
        env = config.ENV_PREFIX + f.name.upper()
        out.append(f"| `{f.name}` | `{env}` | `{_cell(shown)}` | {bound} | {_cell(comments.get(f.name, ''))} |")
    return "\n".join(out)


def exit_codes() -> str:
    from milestones.cli import common

    meaning = {
        "EXIT_OK": "done; the last line of output is the JSON summary",
        "EXIT_USAGE": "a usage error or a value the user can fix (one line on stderr)",
        "EXIT_GATE": "the file gate refused the input: missing, unreadable, malformed, or the "
                     "validation gate failed (nothing downstream ran)",
        "EXIT_FAULT": "an operator fault: full disk, read-only data directory, locked ledger, "
                      "unreachable database (one line saying what to do)",
    }
    rows = sorted((getattr(common, name), name) for name in meaning)
    out = ["| code | name | meaning |", "|---|---|---|"]
    out += [f"| {code} | `{name}` | {meaning[name]} |" for code, name in rows]
    out.append("| 1 | | `proof` only: the transport did not accept the proof email |")
    return "\n".join(out)


def equivalent_mutants() -> str:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent / "mutation.py"
    spec = importlib.util.spec_from_file_location("mutation", path)
    mutation = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mutation)
    # "as above" (in EQUIVALENT's own order) becomes the reason it refers to: the table is sorted.
    reasons, last = {}, ""
    for name, reason in mutation.EQUIVALENT.items():
        last = reasons[name] = last if reason == "as above" else reason
    out = ["| module | mutant | why no test can kill it |", "|---|---|---|"]
    for name in sorted(reasons, key=_mutant_order):
        module = mutation.module_of(name)
        mutant = name[len(module) + 1:].replace(mutation.SEP, ".")
        out.append(f"| `{module.removeprefix('milestones.')}` | `{mutant}` | {_cell(reasons[name])} |")
    return "\n".join(out)


def _mutant_order(name: str) -> tuple[str, int]:
    stem, _, number = name.rpartition("__mutmut_")
    return stem, int(number) if number.isdigit() else 0


GENERATORS = {"cli": cli_reference, "settings": settings_reference, "exit-codes": exit_codes,
              "equivalent-mutants": equivalent_mutants}


def on_page_markdown(markdown: str, page, config, files) -> str:  # mkdocs hook
    def replace(match: re.Match) -> str:
        kind = match.group(1)
        if kind not in GENERATORS:
            raise ValueError(f"{page.file.src_path}: unknown generated section {kind!r}")
        return GENERATORS[kind]()

    return MARKER.sub(replace, markdown)


if __name__ == "__main__":  # print one section: python scripts/mkdocs_hooks.py cli
    import sys

    print(GENERATORS[sys.argv[1]]())

