"""Detection speed and memory at scale, beside the same rules in DuckDB SQL.

Builds N customers (default 10,000,000) and a previous snapshot in memory, then
times milestones.detect.events.detect_events for one day and a 7-day window, and the
same rules written as DuckDB SQL over the same in-memory frames, in the same
run. Medians of REPEATS; peak RSS of the process at the end.
Goal: at most 2x DuckDB's time, under 6 GB peak.

    .venv/bin/python benchmarks/detect.py [--rows N] [--repeats R]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from _duck_contract import EVENTS_SQL as DUCK_SQL  # noqa: E402

from milestones.detect.events import detect_events, event_keys, load_rules  # noqa: E402

AS_OF = dt.date(2026, 11, 22)


def _dates(rng, n, start, end, share=1.0):
    lo = np.datetime64(start, "D")
    span = int((np.datetime64(end, "D") - lo).astype(int))
    out = lo + rng.integers(0, span, n).astype("timedelta64[D]")
    if share < 1.0:
        out[rng.random(n) >= share] = np.datetime64("NaT")
    return out.astype("datetime64[s]")


def snapshots(n: int, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    ids = pd.array(np.char.add("C", np.arange(n).astype("U9")), dtype="string[pyarrow]")
    cur = pd.DataFrame({
        "customer_id": ids,
        "timezone": pd.Categorical.from_codes(rng.integers(0, 4, n), ["Europe/Helsinki", "Asia/Shanghai",
                                                                       "America/New_York", "UTC"]),
        "date_of_birth": _dates(rng, n, "1930-01-01", "2006-01-01", 0.95),
        "customer_since": _dates(rng, n, "2000-01-01", str(AS_OF)),
        "wedding_date": _dates(rng, n, "1970-01-01", str(AS_OF), 0.4),
        "retirement_date": _dates(rng, n, "2020-01-01", "2031-01-01", 0.05),
        "graduation_date": _dates(rng, n, "2020-01-01", "2031-01-01", 0.05),
        "marital_status": pd.Categorical.from_codes(rng.integers(0, 5, n), ["single", "married", "partnered",
                                                                            "divorced", "widowed"]),
        "employment_status": pd.Categorical.from_codes(rng.integers(0, 5, n), ["employed", "self_employed",
                                                                               "student", "unemployed", "retired"]),
        "children_count": pd.array(rng.integers(0, 4, n), dtype="Int64"),
    })
    prev = cur.copy()
    flip = rng.random(n) < 0.002  # a few thousand changes of each kind
    prev.loc[flip, "marital_status"] = "single"
    prev.loc[flip, "employment_status"] = "student"
    prev.loc[flip, "children_count"] = prev.loc[flip, "children_count"] - 1
    return cur, prev



COLUMNS = ["customer_id", "event_type", "event_date", "years", "milestone", "source", "key", "days_late", "stale"]


def rule_meta() -> pd.DataFrame:
    """Per event type: annual or one-off, max_age_days and the milestone years (rules/events.yaml)."""
    rules = load_rules()
    return pd.DataFrame({
        "event_type": [r.event_type for r in rules],
        "annual": [r.annual for r in rules],
        "max_age": [r.max_age_days for r in rules],
        "milestones": [sorted({m for t in r.triggers for m in t.milestones}) for r in rules],
    })


def _normal(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "customer_id": frame["customer_id"].astype(str).to_numpy(),
        "event_type": frame["event_type"].astype(str).to_numpy(),
        "event_date": pd.to_datetime(frame["event_date"]).dt.strftime("%Y-%m-%d").to_numpy(),
        "years": frame["years"].astype("int64").to_numpy(),
        "milestone": frame["milestone"].astype("int64").to_numpy(),
        "source": frame["source"].astype(str).to_numpy(),
        "key": frame["key"].astype(str).to_numpy(),
        "days_late": frame["days_late"].astype("int64").to_numpy(),
        "stale": frame["stale"].astype(bool).to_numpy(),
    })
    return out.sort_values(["customer_id", "event_type", "event_date"]).reset_index(drop=True)


def differences(ours: pd.DataFrame, duck: pd.DataFrame) -> list[str]:
    """Every column compared, event by event. DuckDB gives the occurrence each key must hash;
    the keys themselves are SipHash (checked against a reference in tests/unit)."""
    duck = duck.assign(key=event_keys(duck["customer_id"], duck["event_type"], duck["occ"]))
    a, b = _normal(ours), _normal(duck)
    if len(a) != len(b):
        only = set(map(tuple, a[["customer_id", "event_type", "event_date"]].to_numpy())) ^ set(
            map(tuple, b[["customer_id", "event_type", "event_date"]].to_numpy()))
        return [f"{len(a):,} events against DuckDB's {len(b):,}; e.g. {sorted(only)[:3]}"]
    problems = []
    for column in COLUMNS:
        bad = (a[column].to_numpy() != b[column].to_numpy()).nonzero()[0]
        if bad.size:
            i = bad[0]
            problems.append(f"{column}: {bad.size:,} events differ, e.g. {a.loc[i, 'customer_id']} "
                            f"{a.loc[i, 'event_type']}: {a[column].tolist()[i]!r} vs DuckDB {b[column].tolist()[i]!r}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import duckdb

    t = time.perf_counter()
    cur, prev = snapshots(args.rows)
    print(f"{args.rows:,} customers + previous snapshot built in {time.perf_counter() - t:.1f} s")
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("cur", cur)
    con.register("prev", prev)
    con.register("rule_meta", rule_meta())
    wrong = []
    for days in (1, 7):
        ours, duck = [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            ev = detect_events(cur, prev, as_of=AS_OF, days=days)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            sql = DUCK_SQL.format(as_of=AS_OF, days=days, days_minus_one=days - 1)
            dk = con.execute(sql).df()
            duck.append(time.perf_counter() - t)
        problems = differences(ev, dk)
        o, d = statistics.median(ours), statistics.median(duck)
        print(f"window {days} day(s): milestones {o:6.2f} s  duckdb {d:6.2f} s  ratio {o / d:4.2f}x  "
              f"events {len(ev):,} (duckdb {len(dk):,}, every column equal: {not problems})")
        wrong += [f"window {days}: {p}" for p in problems]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process {peak:,.0f} MB (the generated snapshots, milestones and DuckDB together, "
          f"not detection's own: see benchmarks/large.py); load {os.getloadavg()[0]:.2f}; goal ratio <= 2x DuckDB")
    if wrong:
        print("WRONG: detection differs from DuckDB:\n  " + "\n  ".join(wrong), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
