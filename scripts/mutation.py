"""Mutation testing of the functions that decide who is contacted and what happens to an email.

    make mutation                      # or: .venv/bin/python scripts/mutation.py [--jobs N]
    .venv/bin/python scripts/mutation.py --report   # the scores of the last run, per module

Runs mutmut (pinned in pyproject.toml, configured in its ``[tool.mutmut]`` section) on the
deciding functions listed in ``DECIDING`` below (not whole modules: on the 2-core machine the
rest of the package would take hours), then prints the score per module and every surviving
mutant. Exit code 1 when a module's score is under ``GOAL``.

mutmut derives a mutant's module name from its file path and only knows ``src/``-style
layouts; this package lives in ``plugins/milestones`` (Airflow's plugins folder), so the
two places where mutmut maps paths to modules are told that ``plugins/`` is a source root.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL = 0.90
SEP = "\u01c1"  # mutmut's class-name separator in mutant names

#: module -> the functions (mutmut's mangled names) that decide.
DECIDING: dict[str, list[str]] = {
    "milestones.decide.policy": ["x_*"],
    "milestones.detect.events": ["x_local_dates", "x__month_day", "x__is_leap", "x__uniform", "x__annual",
                          "x__on_date", "x__change", "x__aligned", "x_detect_events", "x_event_keys",
                          "x_event_key"],
    "milestones.deliver.ledger": [f"x{SEP}Ledger{SEP}claim", f"x{SEP}Ledger{SEP}claim_many", f"x{SEP}Ledger{SEP}advance",
                          f"x{SEP}Ledger{SEP}contacted_since", f"x{SEP}Ledger{SEP}mark_stale_unknown"],
    "milestones.measure.feedback": ["x_verify_signature"],
    "milestones.pipeline": ["x_policy_for", "x_circuit_breaker", "x_decide_stage"],
    # The rules and the gate, without GX: the helper columns GX checks, and the gate's verdict.
    "milestones.ingest.rules": ["x_build_rules", "x__out_of_range"],
    "milestones.ingest.dates": ["x_parse_dates", "x_parse_exact", "x_ns_range", "x_years_from"],
    "milestones.ingest.prepare": ["x_repeated_ids", "x__date_helpers", "x__boolean_helpers"],
    "milestones.ingest.verdict": ["x_gate"],
    "milestones.ingest.checks": ["x_region_timezones", "x_unknown_timezones", "x_failing_values", "x_keep_where"],
    # The outcome mapping: HTTP status / exception -> accepted, retried, pending, failed, unknown.
    "milestones.deliver.sendgrid_transport": [f"x{SEP}SendGridTransport{SEP}_verdict",
                                      f"x{SEP}SendGridTransport{SEP}_wait", f"x{SEP}_Slot{SEP}_prereq",
                                      f"x{SEP}_Loop{SEP}_end", "x__header", "x__short"],
    "milestones.deliver.delivery": ["x_attempt", "x__starter", "x__result"],
}
#: Scored together as validation: the rules, their parsers, helper columns, value checks and the gate.
GROUPS = {module: "milestones.ingest.validation" for module in (
    "milestones.ingest.checks", "milestones.ingest.rules", "milestones.ingest.dates",
    "milestones.ingest.prepare", "milestones.ingest.verdict")}


def patterns() -> list[str]:
    return [f"{module}.{func}__mutmut_*" for module, funcs in DECIDING.items() for func in funcs]


def _patch_mutmut() -> None:
    """Treat ``plugins/`` as a source root, like mutmut's own ``src/``."""
    import mutmut.__main__ as cli
    import mutmut.utils.format_utils as names

    strip = names.strip_prefix

    def strip_prefix(s: str, *, prefix: str, strict: bool = False) -> str:
        if prefix == "src." and s.startswith("plugins."):
            return s[len("plugins."):]
        return strip(s, prefix=prefix, strict=strict)

    names.strip_prefix = strip_prefix
    setup = cli.setup_source_paths

    def setup_source_paths() -> None:
        setup()
        sys.path.insert(0, str(ROOT / "mutants" / "plugins"))
        # The editable install points at the original plugins/: it must not win.
        sys.path[:] = [p for p in sys.path if Path(p).resolve() != ROOT / "plugins"]

    cli.setup_source_paths = setup_source_paths


def show(name: str) -> str:
    """The change a mutant makes, as a diff of its function against the original."""
    import difflib
    import re

    module, _, func = name.rpartition(".")
    base = func.rpartition("__mutmut_")[0]
    source = (ROOT / "mutants" / "plugins" / Path(*module.split("."))).with_suffix(".py").read_text()

    def body(fn: str) -> list[str]:
        lines = source.splitlines()
        start = next((i for i, line in enumerate(lines)
                      if re.match(rf"\s*(?:async )?def {re.escape(fn)}\(", line)), None)
        if start is None:
            return []
        indent = len(lines[start]) - len(lines[start].lstrip())
        end = next((j for j in range(start + 1, len(lines))
                    if lines[j].strip() and len(lines[j]) - len(lines[j].lstrip()) <= indent
                    and not lines[j].lstrip().startswith((")", "]", "}"))), len(lines))
        return [line[indent:] for line in lines[start + 1:end]]

    orig, mutant = body(base + "__mutmut_orig"), body(func)
    return "\n".join(line for line in difflib.unified_diff(orig, mutant, name, name + " (mutant)", n=0,
                                                           lineterm="") if not line.startswith("@@"))


def report() -> int:
    by_module: dict[str, Counter] = {m: Counter() for m in DECIDING if m not in GROUPS}
    survivors: list[str] = []
    wanted = patterns()
    for meta in sorted((ROOT / "mutants" / "plugins" / "milestones").glob("*.py.meta")):
        codes = json.loads(meta.read_text())["exit_code_by_key"]
        for name, code in codes.items():
            if not any(fnmatch.fnmatch(name, p) for p in wanted):
                continue
            module = name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]
            module = GROUPS.get(module, module)
            status = {1: "killed", 3: "killed", 0: "survived", None: "not checked", 33: "no tests",
                      5: "no tests", 36: "timeout", 24: "timeout", -24: "timeout", 152: "timeout",
                      255: "timeout"}.get(code, "suspicious")
            by_module.setdefault(module, Counter())[status] += 1
            if status in ("survived", "no tests"):
                survivors.append(name)
    failed = False
    print(f"{'module':30} {'mutants':>7} {'run':>5} {'killed':>6} {'timeout':>7} {'survived':>8} {'no tests':>8} score")
    for module, c in by_module.items():
        total = sum(c.values())
        run = total - c["not checked"]
        if not run:
            print(f"{module:30} {total:7} (not run)")
            failed = True
            continue
        caught = c["killed"] + c["timeout"]
        score = caught / run  # of the mutants run; "no tests" count as not caught
        failed |= score < GOAL or run < total
        print(f"{module:30} {total:7} {run:5} {c['killed']:6} {c['timeout']:7} {c['survived']:8} {c['no tests']:8} "
              f"{score:.1%}")
    print("\nsurvivors (`scripts/mutation.py --show NAME` prints the change):")
    for name in survivors:
        print("  ", name)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=2, help="mutants tested at once (default 2)")
    parser.add_argument("--report", action="store_true", help="only print the last run's scores")
    parser.add_argument("--only", help="these modules' functions only, e.g. milestones.decide.policy,milestones.measure.feedback")
    parser.add_argument("--show", nargs="+", metavar="MUTANT", help="print what these mutants change")
    args = parser.parse_args()
    if args.show:
        print("\n\n".join(show(name) for name in args.show))
        return 0
    if not args.report:
        _patch_mutmut()
        import mutmut.__main__ as cli

        only = args.only.split(",") if args.only else []
        names = [p for p in patterns() if not only or any(p.startswith(m + ".") for m in only)]
        try:
            cli.cli(["run", "--max-children", str(args.jobs), *names], standalone_mode=False)
        except SystemExit as exc:
            if exc.code:
                return int(exc.code)
    return report()


if __name__ == "__main__":
    sys.exit(main())
