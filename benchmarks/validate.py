"""Validation speed and memory on a large generated extract.

Prints, for an N-row extract (default 1,000,000; ~1% bad rows):
  read       pandas.read_csv of the file alone (the floor and the baseline)
  gx-naive   a straightforward GX suite: one expectation per rule on the raw columns (12)
  project    milestones' validation (read + helper columns + GX suite + quarantine split)
Each is run in its own process (so peak RSS is its own), REPEATS times; medians are
quoted, with the ratio to the read baseline measured in the same run.
Goal: project <= 8x read, peak memory < 2 GB.

    .venv/bin/python benchmarks/validate.py [--rows N] [--repeats R]
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
    results = {}
    for kind in ("read", "gx-naive", "project"):
        out = subprocess.run([sys.executable, __file__, "--child", kind, "--path", str(path),
                              "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
        results[kind] = json.loads(out.stdout.strip().splitlines()[-1])
    base = statistics.median(results["read"]["times"])
    for kind, r in results.items():
        med = statistics.median(r["times"])
        print(f"{kind:9s} median {med:7.2f} s  ({med / base:5.1f}x read)  peak {r['peak_mb']:7.0f} MB"
              + (f"  quarantined {r['quarantined']:,}" if "quarantined" in r else ""))
    ratio = statistics.median(results["project"]["times"]) / base
    print(f"goal: project <= 8x read -> {ratio:.1f}x {'MET' if ratio <= 8 else 'NOT MET'}; "
          f"peak < 2048 MB -> {results['project']['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
