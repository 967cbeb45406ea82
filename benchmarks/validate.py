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

Extract profiles (section of its own, :func:`profile_section`): the same customers as a
Salesforce Contact export (API field names, ISO datetimes with offsets, the opt-out flag,
extra columns), validated through the ``salesforce`` profile, against the contract
extract validated as it is, each in its own process, taking turns. Goal: the mapping adds
at most 30% to validation time. Exits non-zero when the two disagree on the rows.

Against DuckDB (``--only duckdb``, :mod:`_vs_duckdb`): validate + detect of today's extract in a
fresh process, as the ``validate`` and ``detect`` tasks run them, against DuckDB doing the same
contract and event rules in SQL in a fresh process; medians of ROUNDS, outputs cross-checked.

    .venv/bin/python benchmarks/validate.py [--rows N] [--rounds K] [--repeats R] [--only profile|duckdb]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "plugins")]
AS_OF = dt.date(2026, 11, 22)

import _day  # noqa: E402  (VmHWM: each process's own peak, not the parent's carried across exec)


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
    from milestones.ingest.validation import validate_extract

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
    extra = {"quarantined": dict(zip(result.quarantine["customer_id"], result.quarantine["reasons"],
                                     strict=True)),
             "valid": len(result.valid)} if kind == "project" else {}
    print(json.dumps({"kind": kind, "times": times,
                      "peak_mb": _day.own_peak_mb(), **extra}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--only", choices=["profile", "duckdb"], help="run only one section")
    parser.add_argument("--profile", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        profile_child(Path(args.path), args.profile, args.repeats)
        return
    if args.child:
        child(args.child, Path(args.path), args.repeats)
        return
    if args.only == "profile":
        sys.exit(profile_section(args.rows, args.rounds, args.repeats))
    if args.only == "duckdb":
        import _vs_duckdb

        sys.exit(_vs_duckdb.compare(args.rows, args.rounds))
    import _extracts

    workdir = Path(tempfile.gettempdir()) / f"milestones-bench-{args.rows}"
    path = _extracts.write_csv(args.rows, workdir, AS_OF)
    print(f"extract: {path} ({path.stat().st_size / 1e6:.0f} MB, {args.rows:,} rows)")
    times: dict[str, list[float]] = {}
    peaks: dict[str, float] = {}
    ratios = []
    firsts: dict[str, list[float]] = {}  # each process's first run: nothing warm yet
    quarantined: dict[str, str] = {}
    valid = 0
    for _ in range(args.rounds):
        medians = {}
        for kind in ("read", "gx-naive", "project"):
            out = subprocess.run([sys.executable, __file__, "--child", kind, "--path", str(path),
                                  "--repeats", str(args.repeats)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            times.setdefault(kind, []).extend(r["times"])
            peaks[kind] = max(peaks.get(kind, 0.0), r["peak_mb"])
            quarantined, valid = r.get("quarantined", quarantined), r.get("valid", valid)
            medians[kind] = statistics.median(r["times"])
            firsts.setdefault(kind, []).append(r["times"][0])
        ratios.append(medians["project"] / medians["read"])
    base = statistics.median(times["read"])
    for kind, ts in times.items():
        med = statistics.median(ts)
        print(f"{kind:9s} median {med:7.2f} s  ({med / base:5.1f}x read)  peak {peaks[kind]:7.0f} MB"
              + (f"  quarantined {len(quarantined):,}" if kind == "project" else ""))
    cold = statistics.median(firsts["project"]) / statistics.median(firsts["read"])
    print(f"first run in a fresh process: read {statistics.median(firsts['read']):.2f} s, "
          f"project {statistics.median(firsts['project']):.2f} s ({cold:.1f}x)")
    ratio = statistics.median(ratios)
    print(f"project/read per round: {', '.join(f'{x:.1f}x' for x in ratios)}")
    print(f"goal: project <= 8x read -> {ratio:.1f}x (median of rounds) {'MET' if ratio <= 8 else 'NOT MET'}; "
          f"peak < 2048 MB -> {peaks['project']:.0f} MB {'MET' if peaks['project'] < 2048 else 'NOT MET'}")
    quarantine_ok = check_quarantine(args.rows, quarantined, valid)
    if profile_section(args.rows, args.rounds, args.repeats) or not quarantine_ok:
        sys.exit(1)


def profile_child(path: Path, profile: str, repeats: int) -> None:
    """One process: validate ``path`` through ``profile`` ``repeats`` times; print times and what it found."""
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations  # noqa: F401  (import cost is not validation cost)

    from milestones.ingest.validation import validate_extract

    times, result = [], None
    for _ in range(repeats):
        result = None
        t = time.perf_counter()
        result = validate_extract(path, as_of=AS_OF, profile=profile)
        times.append(time.perf_counter() - t)
    print(json.dumps({"times": times, "peak_mb": _day.own_peak_mb(),
                      "rows": result.rows, "reasons": dict(result.reasons)}))


def profile_section(rows: int, rounds: int, repeats: int) -> int:
    """Salesforce-shaped extract through its profile vs the contract extract as it is; 1 when wrong."""
    import _crm_exports
    import _extracts

    workdir = Path(tempfile.gettempdir()) / f"milestones-bench-{rows}"
    runs = {"contract": _extracts.write_csv(rows, workdir, AS_OF),
            "salesforce": _crm_exports.salesforce_csv(rows, workdir, AS_OF)}
    for name, path in runs.items():
        print(f"{name} extract: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    times: dict[str, list[float]] = {}
    ratios, found, peaks = [], {}, {}
    for _ in range(rounds):
        medians = {}
        for name, path in runs.items():
            out = subprocess.run([sys.executable, __file__, "--profile", name, "--path", str(path),
                                  "--repeats", str(repeats)], capture_output=True, text=True, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            times.setdefault(name, []).extend(r["times"])
            medians[name], found[name] = statistics.median(r["times"]), r
            peaks[name] = max(peaks.get(name, 0.0), r["peak_mb"])
        ratios.append(medians["salesforce"] / medians["contract"])
    for name, ts in times.items():
        print(f"{name:10s} median {statistics.median(ts):6.2f} s  peak {peaks[name]:6.0f} MB  "
              f"rows {found[name]['rows']:,}  reasons {found[name]['reasons']}")
    # The same customers and bad rows: Salesforce has no time zone column (those rows are valid
    # there), and its unreadable opt-out flags are named by the profile.
    expected = {k: v for k, v in found["contract"]["reasons"].items() if k != "timezone:unknown"}
    flag = expected.pop("marketing_opt_in:not_boolean", 0)
    got = dict(found["salesforce"]["reasons"])
    got_flag = got.pop("marketing_opt_in:not_boolean (profile salesforce: true=true/1 false=false/0)", 0)
    correct = got == expected and got_flag == flag > 0 and found["salesforce"]["rows"] == rows
    ratio = statistics.median(ratios)
    print(f"salesforce/contract per round: {', '.join(f'{x:.2f}x' for x in ratios)}")
    print(f"goal: mapping adds <= 30% -> {ratio - 1:+.0%} (median of rounds) {'MET' if ratio <= 1.3 else 'NOT MET'}; "
          f"rows agree: {'yes' if correct else 'NO'}")
    return 0 if correct else 1


def check_quarantine(rows: int, quarantined: dict[str, str], valid: int) -> bool:
    """The quarantine must be exactly the rows the generator spoiled, each with its reason."""
    import _extracts

    spoiled = _extracts.spoiled_rows(rows, AS_OF)
    got = {cid: set(reasons.split("; ")) for cid, reasons in quarantined.items()}
    want = spoiled
    wrong = [f"{cid}: expected {sorted(want.get(cid, {'valid'}))}, got {sorted(got.get(cid, {'valid'}))}"
             for cid in sorted(set(got) | set(want)) if got.get(cid) != want.get(cid)]
    if valid + len(quarantined) != rows:
        wrong.insert(0, f"{valid:,} valid + {len(quarantined):,} quarantined != {rows:,} rows")
    print(f"quarantine equals the {len(spoiled):,} spoiled rows, each with its reason: {not wrong}")
    if wrong:
        print("WRONG: " + "\n  ".join(wrong[:10]), file=sys.stderr)
    return not wrong


if __name__ == "__main__":
    main()
