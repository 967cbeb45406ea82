"""One day, stage by stage, each stage in a fresh process as Airflow runs its tasks, against the pandas read.

For each size (default 10,000, 100,000 and 1,000,000 customers) a child writes today's and
yesterday's extract and the facts a correct day must produce (:mod:`_day`); yesterday's
extract is validated once, outside the clock (a running system has that snapshot). Then, for
``--rounds`` rounds, on a copy of that data directory, each of these runs in its own fresh
``python`` process, one after the other:

  read      ``pandas.read_csv`` of today's extract: the anchor (its call alone, without
            the interpreter and pandas' import, as a user times a read)
  validate  ``pipeline.validate_stage`` (the ``validate`` task's call), then
  detect, decide, render, deliver (SendGrid transport to a stand-in on 127.0.0.1, SQLite ledger)

Each stage's time is its process's wall time, start-up and imports included (what a task
pays); the part before the stage's call (interpreter, the modules the task imports at
the top) is shown apart, what the stage imports itself counts as its work. Each process reports
its own peak memory (VmHWM). The day is the sum of the stages; its ratio to the read is taken
within each round and the median over rounds printed with the load average (/proc/loadavg).

Checked (exit 1 when wrong): the rows, the quarantine (count and reasons) equal the rows the
generator spoiled, the birthdays detected equal those among the valid rows, every email
rendered is sent once and the stand-in received each exactly once. Goals (issue 29): the
10,000-customer day <= 2 s; the 1,000,000-customer day <= 10x the read; exit 1 when one is
NOT MET.

    .venv/bin/python benchmarks/day.py [--customers 10000,100000,1000000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]

import _day  # noqa: E402

STAGES = ("validate", "detect", "decide", "render", "deliver")
#: Goals by size: (seconds of the day at most, times the read at most).
GOALS = {10_000: (2.0, None), 1_000_000: (None, 10.0)}


def child(stage: str, inbox: Path, data_dir: Path) -> None:
    """One stage in this fresh process; prints JSON: import and stage seconds, own peak, summary."""
    started = time.perf_counter()
    if stage == "read":
        import pandas as pd

        imported = time.perf_counter()
        rows = len(pd.read_csv(inbox / f"customers_{_day.AS_OF}.csv"))
        print(json.dumps({"import_s": imported - started, "stage_s": time.perf_counter() - imported,
                          "peak_mb": _day.own_peak_mb(), "summary": {"rows": rows}}))
        return
    import logging

    from milestones import pipeline
    from milestones.core import storage
    from milestones.core.config import load_settings

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(data_dir=data_dir, send_concurrency=16)
    day = _day.AS_OF
    snapshot = storage.snapshot_path(storage.root(settings), day)
    imported = time.perf_counter()
    if stage == "validate":
        extract = inbox / f"customers_{day}.csv"
        summary = pipeline.validate_stage(extract, settings,
                                          previous=storage.latest_snapshot_before(storage.root(settings), day))
    elif stage == "detect":
        summary = pipeline.detect_stage(day, settings, snapshot=snapshot)
        summary["birthdays"] = _day.birthdays(summary["events"], day)
    elif stage == "decide":
        summary = pipeline.decide_stage(day, settings, snapshot=snapshot)
    elif stage == "render":
        summary = pipeline.render_stage(day, settings, snapshot=snapshot, now=_day.HANDED_OVER)
    else:
        summary = pipeline.deliver_stage(day, settings, at=_day.HANDED_OVER)
    done = time.perf_counter()
    print(json.dumps({"import_s": imported - started, "stage_s": done - imported,
                      "peak_mb": _day.own_peak_mb(), "summary": summary}, default=str))


def run_child(stage: str, inbox: Path, data_dir: Path, env: dict[str, str]) -> dict:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", stage, "--inbox", str(inbox),
                           "--data-dir", str(data_dir)], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if done.returncode:
        sys.exit(f"{stage} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall}


def prepare(n: int, work: Path) -> tuple[dict, Path, Path]:
    """Extracts and facts (cached by size), and a data directory holding yesterday's snapshot."""
    inbox = Path(tempfile.gettempdir()) / f"milestones-day-{n}"
    facts = _day.generate_in_child(n, inbox)
    base = work / f"base-{n}"
    code = (f"import sys; sys.path[:0] = [{str(HERE.parent / 'plugins')!r}]; "
            "from milestones import pipeline; from milestones.core.config import load_settings; "
            f"pipeline.validate_stage({facts['previous']!r}, load_settings(data_dir={str(base)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, env=clean_env())
    return facts, inbox, base


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MILESTONES_"))}
    return {**env, **extra}


def one_size(n: int, rounds: int, work: Path) -> tuple[bool, bool]:
    """Measure ``n`` customers ``rounds`` times; return (outputs right, goals met)."""
    facts, inbox, base = prepare(n, work)
    per_round: list[dict[str, dict]] = []
    right = True
    for r in range(rounds):
        data = work / f"day-{n}-{r}"
        shutil.copytree(base, data)
        with _day.StandIn() as server:
            env = clean_env(**server.env())
            out = {"read": run_child("read", inbox, data, env)}
            for stage in STAGES:
                out[stage] = run_child(stage, inbox, data, env)
            wrong = _day.check_day(facts, {s: o["summary"] for s, o in out.items()}, server.counts())
        shutil.rmtree(data, ignore_errors=True)
        if wrong:
            right = False
            print(f"  round {r + 1} WRONG: " + "; ".join(wrong))
        per_round.append(out)
        day_s = sum(out[s]["wall_s"] for s in STAGES)
        print(f"  round {r + 1} (load {_day.load()}): day {day_s:.2f} s = "
              f"{day_s / out['read']['stage_s']:.1f}x the read ({out['read']['stage_s']:.2f} s)", flush=True)

    def med(stage: str, key: str) -> float:
        return statistics.median(o[stage][key] for o in per_round)

    days = [sum(o[s]["wall_s"] for s in STAGES) for o in per_round]
    ratios = [d / o["read"]["stage_s"] for d, o in zip(days, per_round, strict=True)]
    print(f"  {'stage':9s} {'process':>8s} {'to call':>8s} {'work':>7s} {'own peak':>9s}   (medians)")
    for stage in ("read", *STAGES):
        print(f"  {stage:9s} {med(stage, 'wall_s'):7.2f}s {med(stage, 'import_s'):7.2f}s "
              f"{med(stage, 'stage_s'):6.2f}s {max(o[stage]['peak_mb'] for o in per_round):7.0f}MB")
    summary = per_round[-1]
    print(f"  outputs: {summary['validate']['summary']['quarantined']:,} quarantined, "
          f"{summary['detect']['summary']['birthdays']:,} birthdays, {summary['decide']['summary']['send']:,} "
          f"to send, {summary['deliver']['summary'].get('sent', 0):,} sent; "
          f"{'right' if right else 'WRONG'}")
    day, ratio = statistics.median(days), statistics.median(ratios)
    imports = statistics.median(sum(o[s]["import_s"] for s in STAGES) for o in per_round)
    print(f"  day {day:.2f} s (of which start-up before each stage's call {imports:.2f} s) = {ratio:.1f}x the read "
          f"(medians of {rounds}; per round {', '.join(f'{x:.1f}x' for x in ratios)})")
    met = True
    seconds, times = GOALS.get(n, (None, None))
    if seconds is not None:
        met &= day <= seconds
        print(f"  goal: day <= {seconds:g} s -> {day:.2f} s {'MET' if day <= seconds else 'NOT MET'}")
    if times is not None:
        met &= ratio <= times
        print(f"  goal: day <= {times:g}x the read -> {ratio:.1f}x {'MET' if ratio <= times else 'NOT MET'}")
    return right, met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", default="10000,100000,1000000",
                        help="comma-separated sizes (default 10000,100000,1000000)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--inbox", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.inbox), Path(args.data_dir))
        return 0
    print(f"load before: {_day.load()} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="milestones-day-"))
    right = met = True
    try:
        for n in (int(x) for x in args.customers.split(",")):
            print(f"{n:,} customers:", flush=True)
            ok, goal = one_size(n, args.rounds, work)
            right &= ok
            met &= goal
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load after: {_day.load()}; outputs {'right' if right else 'WRONG'}; "
          f"goals {'MET' if met else 'NOT MET'}")
    return 0 if right and met else 1


if __name__ == "__main__":
    sys.exit(main())
