"""Validation and detection of a very large extract on one small machine.

Writes today's and yesterday's extract of N customers (default 10,000,000; about
1.3 GB of CSV each, generated a million rows at a time), then runs, each stage
in its own process so its peak RSS is its own:

  read       pandas.read_csv of today's extract alone (the floor, and what a
             naive whole-file approach costs in memory)
  validate   milestones' validation stage on yesterday's extract, then today's
             (chunks of validation_chunk_rows, snapshot and quarantine streamed
             to Parquet)
  detect     milestones' detection stage for today against yesterday's snapshot

Prints wall time and each process's own peak memory (VmHWM) per stage, and the load
average. Checked against the facts the generator knows (:mod:`_day`): the rows, the
quarantine and its reasons, the birthdays detected. Goals (issue 29): today's validation
<= 3x the read and under 4 GB; detection under 4 GB. Exits 1 when an output is wrong or a
goal is NOT MET.

    .venv/bin/python benchmarks/large.py [--rows N] [--chunk-rows C] [--skip-read]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]
AS_OF = dt.date(2026, 11, 22)
LIMIT_MB = 4096
RATIO = 3.0


def child(stage: str, inbox: Path, data_dir: Path, chunk_rows: int) -> None:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    from milestones import pipeline
    from milestones.core.config import load_settings

    settings = load_settings(data_dir=data_dir, validation_chunk_rows=chunk_rows)
    today = inbox / f"customers_{AS_OF}.csv"
    yesterday = inbox / f"customers_{AS_OF - dt.timedelta(days=1)}.csv"
    out: dict = {"stage": stage}
    import _day
    import pandas as pd

    t = time.perf_counter()
    if stage == "read":
        out["rows"] = len(pd.read_csv(today))
    elif stage == "validate":
        import great_expectations  # noqa: F401  (its import is not validation time)

        t = time.perf_counter()
        pipeline.validate_stage(yesterday, settings)
        out["previous_s"] = time.perf_counter() - t
        t = time.perf_counter()
        summary = pipeline.validate_stage(today, settings)
        out.update(rows=summary["rows"], quarantined=summary["quarantined"], reasons=summary["reasons"])
    else:
        summary = pipeline.detect_stage(AS_OF, settings)
        out["events"] = sum(summary["by_type"].values())
        out["by_type"] = summary["by_type"]
        out["birthdays"] = _day.birthdays(summary["events"], AS_OF)
    out.update(seconds=time.perf_counter() - t, peak_mb=_day.own_peak_mb())
    print(json.dumps(out))


def _detail(r: dict) -> str:
    if r["stage"] == "read":
        return f"{r['rows']:,} rows"
    if r["stage"] == "validate":
        return (f"{r['rows']:,} rows, {r['quarantined']:,} quarantined (today's extract; "
                f"yesterday's took {r['previous_s']:.1f} s before it)")
    return f"{r['events']:,} events {r['by_type']}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    parser.add_argument("--skip-read", action="store_true", help="skip the pandas read (it needs the most memory)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--inbox", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.inbox), Path(args.data_dir), args.chunk_rows)
        return 0
    import _day

    print(f"load before: {_day.load()} on {os.cpu_count()} cores")
    inbox = Path(tempfile.gettempdir()) / f"milestones-large-{args.rows}"
    t = time.perf_counter()
    facts = _day.generate_in_child(args.rows, inbox)
    today = Path(facts["current"])
    print(f"extracts: {inbox} ({today.stat().st_size / 1e9:.2f} GB each, {args.rows:,} rows; "
          f"ready in {time.perf_counter() - t:.0f} s)")
    data_dir = Path(tempfile.mkdtemp(prefix="milestones-large-data-"))
    stages = ("validate", "detect") if args.skip_read else ("read", "validate", "detect")
    right = met = True
    found: dict[str, dict] = {}
    for stage in stages:
        run = subprocess.run([sys.executable, __file__, "--child", stage, "--inbox", str(inbox),
                              "--data-dir", str(data_dir), "--chunk-rows", str(args.chunk_rows)],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"{stage:9s} FAILED (exit {run.returncode}): {run.stderr.strip().splitlines()[-1:]}")
            right = False
            continue
        r = found[stage] = json.loads(run.stdout.strip().splitlines()[-1])
        print(f"{stage:9s} {r['seconds']:7.1f} s  own peak {r['peak_mb']:7.0f} MB  {_detail(r)}  "
              f"(load {_day.load()})", flush=True)
    shutil.rmtree(data_dir, ignore_errors=True)
    wrong = []
    if "validate" in found:
        v = found["validate"]
        if (v["rows"], v["quarantined"], v["reasons"]) != (facts["rows"], facts["quarantined"], facts["reasons"]):
            wrong.append(f"validate: {v['rows']} rows, {v['quarantined']} quarantined {v['reasons']}; the "
                         f"generator wrote {facts['rows']}, spoiled {facts['quarantined']} {facts['reasons']}")
    if "detect" in found and found["detect"]["birthdays"] != facts["birthdays"]:
        wrong.append(f"detect: {found['detect']['birthdays']} birthdays, the valid rows hold {facts['birthdays']}")
    right &= not wrong
    print("outputs: " + ("right" if right else "WRONG: " + "; ".join(wrong) if wrong else "a stage failed"))
    for stage in ("validate", "detect"):
        if stage in found:
            within = found[stage]["peak_mb"] < LIMIT_MB
            met &= within
            print(f"goal: {stage} under {LIMIT_MB} MB -> {found[stage]['peak_mb']:.0f} MB "
                  f"{'MET' if within else 'NOT MET'}")
    if "read" in found and "validate" in found:
        ratio = found["validate"]["seconds"] / found["read"]["seconds"]
        met &= ratio <= RATIO
        print(f"goal: validation <= {RATIO:g}x the read -> {ratio:.1f}x {'MET' if ratio <= RATIO else 'NOT MET'} "
              "(one round)")
    print(f"load after: {_day.load()}")
    return 0 if right and met else 1


if __name__ == "__main__":
    sys.exit(main())
