"""Validation speed and memory on a large generated extract.

Prints, for an N-row extract (default 1,000,000; ~1% bad rows):
  read       pandas.read_csv of the file alone (the floor and the baseline)
  gx-naive   a straightforward GX suite: one expectation per rule on the raw columns (12)
  project    milestones' validation (read + helper columns + GX suite + quarantine split)
Each is run in its own process (so peak RSS is its own), REPEATS times (the median
counts; each process's first run, which pays for fresh memory pages, is shown too). The three
take turns for ROUNDS rounds, so a burst of load on the shared machine hits the
baseline and the project alike; the ratio is taken within each round and its median
quoted, beside the medians of all times.
Goal: project <= 8x read, peak memory < 2 GB.

    .venv/bin/python benchmarks/validate.py [--rows N] [--rounds K] [--repeats R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]
AS_OF = dt.date(2026, 11, 22)


def naive_suite(path: Path) -> None:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    import pandas as pd

    frame = pd.read_csv(path, dtype="string", keep_default_na=False, na_values=[""])
    context = gx.get_context(mode="ephemeral")
    batch = (context.data_sources.add_pandas("p").add_dataframe_asset("a")
             .add_batch_definition_whole_dataframe("w").get_batch(batch_parameters={"dataframe": frame}))
    e = gx.expectations
    suite = gx.ExpectationSuite(name="naive")
    for col in ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in"):
        suite.add_expectation(e.ExpectColumnValuesToNotBeNull(column=col))
    suite.add_expectation(e.ExpectColumnValuesToBeUnique(column="customer_id"))
    suite.add_expectation(e.ExpectColumnValuesToMatchRegex(column="email", regex=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="locale", value_set=["en", "en-GB", "fi", "fi-FI", "et", "zh-CN"]))
    import zoneinfo
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="timezone", value_set=sorted(zoneinfo.available_timezones())))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="marital_status", value_set=["single", "married", "partnered", "divorced", "widowed"]))
    suite.add_expectation(e.ExpectColumnValuesToBeInSet(column="marketing_opt_in", value_set=["true", "false", "yes", "no", "1", "0"]))
    suite.add_expectation(e.ExpectColumnValuesToBeBetween(column="date_of_birth", min_value="1906-11-22", max_value=str(AS_OF)))
    batch.validate(suite, result_format={"result_format": "COMPLETE"})


def child(kind: str, path: Path, repeats: int) -> None:
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import pandas as pd

    if kind != "read":
        import great_expectations  # noqa: F401  (import cost is not validation cost)
    from milestones.validation import validate_extract

    times = []
    result = None
    for _ in range(repeats):
        result = None  # the previous repeat's frames must not count towards this one's memory
        t = time.perf_counter()
        if kind == "read":
            pd.read_csv(path)
        elif kind == "gx-naive":
            naive_suite(path)
        else:
            result = validate_extract(path, as_of=AS_OF)
        times.append(time.perf_counter() - t)
    extra = {"quarantined": len(result.quarantine)} if kind == "project" else {}
    print(json.dumps({"kind": kind, "times": times,
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, Path(args.path), args.repeats)
        return
    import _extracts

    workdir = Path(tempfile.gettempdir()) / f"milestones-bench-{args.rows}"
    path = _extracts.write_csv(args.rows, workdir, AS_OF)
    print(f"extract: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows)")
    times: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}
    ratios = []
    firsts: dict[str, list[float]] = {}  # each process's first run: nothing warm yet
    quarantined = 0
    for _ in range(args.rounds):
        medians = {}
        for kind in ("read", "gx-naive", "project"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, "--path", str(path),
                                  "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            times.setdefault(kind, []).extend(r["times"])
            peaks[kind] = max(peaks.get(kind, 0.0), r["peak_mb"])
            quarantined = r.get("quarantined", quarantined)
            medians[kind] = statistics.median(r["times"])
            firsts.setdefault(kind, []).append(r["times"][0])
        ratios.append(medians["project"] / medians["read"])
    base = statistics.median(times["read"])
    for kind, ts in times.items():
        med = statistics.median(ts)
        print(f"{kind:9s} median {med:7.2f} s  ({med / base:5.1f}x read)  peak {peaks[kind]:7.0f} MB"
              + (f"  quarantined {quarantined:,}" if kind == "project" else ""))
    cold = statistics.median(firsts["project"]) / statistics.median(firsts["read"])
    print(f"first run in a fresh process: read {statistics.median(firsts['read']):.2f} s, "
          f"project {statistics.median(firsts['project']):.2f} s ({cold:.1f}x)")
    ratio = statistics.median(ratios)
    print(f"project/read per round: {', '.join(f'{x:.1f}x' for x in ratios)}")
    print(f"goal: project <= 8x read -> {ratio:.1f}x (median of rounds) {'MET' if ratio <= 8 else 'NOT MET'}; "
          f"peak < 2048 MB -> {peaks['project']:.0f} MB {'MET' if peaks['project'] < 2048 else 'NOT MET'}")

if __name__ == "__main__":
    main()
