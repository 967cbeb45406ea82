"""One day of the whole pipeline on a large extract, stage by stage.

Builds a CUSTOMERS-customer extract (default 1,000,000) and its previous
snapshot, then runs validate -> detect -> policy -> render -> deliver (SendGrid
transport to a stand-in on 127.0.0.1, SQLite ledger) for 2026-11-22, printing
wall time per stage, the total, this process's own peak memory (VmHWM; the extracts are
written by a child), and the time of reading the extract alone with pandas (in its own
process) as the floor. Checks the outputs against the facts the generator knows (quarantine
and its reasons, birthdays, every rendered email sent once: :mod:`_day`) and exits 1 when one
is wrong or a goal is NOT MET. Goal: under 30 s and 3 GB on 2 cores. For each stage in its
own process, as Airflow runs them, see ``benchmarks/day.py``.

    .venv/bin/python benchmarks/pipeline.py [--customers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT), str(ROOT / "plugins")]
AS_OF = dt.date(2026, 11, 22)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)

    import _day

    print(f"load before: {_day.load()} on {os.cpu_count()} cores")
    work = Path(tempfile.mkdtemp(prefix="milestones-pipeline-"))
    # Written by a child (with the facts a right day derives from them): the generator's
    # frames must not count towards this process's peak memory.
    facts = _day.generate_in_child(args.customers, Path(tempfile.gettempdir()) / f"milestones-day-{args.customers}")
    current, previous = Path(facts["current"]), Path(facts["previous"])
    floor_code = ("import time, pandas as pd; t = time.perf_counter(); "
                  f"pd.read_csv({str(current)!r}); print(time.perf_counter() - t)")
    floor = float(subprocess.run([sys.executable, "-c", floor_code], capture_output=True, text=True,
                                 check=True).stdout.split()[-1])
    with _day.StandIn() as server:
        os.environ.update(server.env())
        import great_expectations  # noqa: F401  (a one-off import cost, not the pipeline's)

        from milestones import pipeline
        from milestones.core.config import load_settings

        settings = load_settings(data_dir=work / "data", send_concurrency=16)
        pipeline.validate_stage(previous, settings)  # yesterday's snapshot, as a running system has it

        times, out = {}, {}
        t0 = time.perf_counter()
        t = time.perf_counter()
        out["validate"] = pipeline.validate_stage(current, settings, previous=work / "data" / "snapshots"
                                                  / str(AS_OF - dt.timedelta(days=1)) / "snapshot.parquet")
        times["validate"] = time.perf_counter() - t
        snapshot = out["validate"]["snapshot"]
        t = time.perf_counter()
        out["detect"] = pipeline.detect_stage(AS_OF, settings, snapshot=snapshot)
        times["detect"] = time.perf_counter() - t
        t = time.perf_counter()
        out["decide"] = pipeline.decide_stage(AS_OF, settings, snapshot=snapshot)
        times["policy"] = time.perf_counter() - t
        t = time.perf_counter()
        out["render"] = pipeline.render_stage(AS_OF, settings, snapshot=snapshot, now=_day.HANDED_OVER)
        times["render"] = time.perf_counter() - t
        t = time.perf_counter()
        out["deliver"] = pipeline.deliver_stage(AS_OF, settings, at=_day.HANDED_OVER)
        times["deliver"] = time.perf_counter() - t
        total = time.perf_counter() - t0
        out["detect"]["birthdays"] = _day.birthdays(out["detect"]["events"], AS_OF)
        wrong = _day.check_day(facts, out, server.counts())
    shutil.rmtree(work, ignore_errors=True)
    print(f"{args.customers:,} customers: {out['validate']['quarantined']:,} quarantined, "
          f"{sum(out['detect']['by_type'].values()):,} events ({out['detect']['birthdays']:,} birthdays), "
          f"{out['decide']['send']:,} to send, {out['render']['rendered']:,} rendered, "
          f"{out['deliver'].get('sent', 0):,} sent via {out['deliver']['transport']}")
    print(f"outputs: {'right' if not wrong else 'WRONG: ' + '; '.join(wrong)}")
    print(f"floor: pandas.read_csv of the extract {floor:.2f} s (its own process)")
    for stage, secs in times.items():
        print(f"  {stage:9s} {secs:6.2f} s")
    peak = _day.own_peak_mb()
    time_ok, peak_ok = total < 30, peak < 3072
    print(f"total {total:.2f} s = {total / floor:.1f}x the read; goal < 30 s -> {'MET' if time_ok else 'NOT MET'}")
    print(f"this process's peak {peak:,.0f} MB; goal < 3,072 MB -> {'MET' if peak_ok else 'NOT MET'}")
    print(f"load after: {_day.load()}")
    return 0 if not wrong and time_ok and peak_ok else 1


if __name__ == "__main__":
    sys.exit(main())
