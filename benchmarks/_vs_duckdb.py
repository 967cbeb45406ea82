"""Validate + detect in a fresh process against DuckDB doing the same in SQL (``validate.py --only duckdb``).

For N customers (:mod:`_day` writes today's and yesterday's extract and the facts a correct
day derives from them; yesterday's extract is validated outside the clock, as a running
system has that snapshot), each round runs, one after the other, each in a fresh ``python``:

  ours    ``pipeline.validate_stage`` of today's extract (snapshot, quarantine and Data
          Docs written) then ``pipeline.detect_stage`` (events written), as the ``validate``
          and ``detect`` tasks run them;
  duckdb  DuckDB reading the same CSV, checking the same contract in SQL
          (:mod:`_duck_contract`), writing the valid rows typed and the quarantine with its
          reasons to Parquet, then the event rules in SQL over those rows and yesterday's
          snapshot, events written to Parquet.

Each side's time is its process's wall time (interpreter, imports and work); the split is
printed. Both end as Airflow's task runner ends a task, with ``os._exit`` once the output is
flushed (no interpreter teardown). Checked (exit 1 when wrong): both quarantines equal the rows the generator spoiled
(count and reasons), both find the birthdays among the valid rows, and the events agree
type by type. Goal (issue 29): ours <= 1.0x DuckDB as the median of the rounds' ratios;
exit 1 when NOT MET.

    .venv/bin/python benchmarks/validate.py --only duckdb [--rows N] [--rounds K]
"""

from __future__ import annotations

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

GOAL = 1.0


def ours(inbox: Path, data_dir: Path) -> dict:
    """The validate and detect tasks' calls, one after the other, in this process."""
    started = time.perf_counter()
    import logging

    from milestones import pipeline
    from milestones.core import storage
    from milestones.core.config import load_settings

    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(data_dir=data_dir)
    day = _day.AS_OF
    imported = gx = time.perf_counter()
    # As the validate task runs it: GX is imported inside, while the extract's ids are read
    # on the other core (validation._ids_beside_the_suite); validate_s includes the import.
    summary = pipeline.validate_stage(inbox / f"customers_{day}.csv", settings,
                                      previous=storage.latest_snapshot_before(storage.root(settings), day))
    validated = time.perf_counter()
    events = pipeline.detect_stage(day, settings)
    done = time.perf_counter()
    return {"to_call_s": imported - started, "validate_s": validated - gx,
            "detect_s": done - validated, "quarantined": summary["quarantined"], "reasons": summary["reasons"],
            "rows": summary["rows"], "birthdays": _day.birthdays(events["events"], day),
            "by_type": events["by_type"], "peak_mb": _day.own_peak_mb()}


def duck(inbox: Path, out: Path, ref: Path) -> dict:
    """The same contract and event rules in DuckDB SQL, in this process."""
    started = time.perf_counter()
    import _duck_contract as sql
    import duckdb

    data = json.loads(ref.read_text())
    day = _day.AS_OF
    con = duckdb.connect()
    imported = time.perf_counter()
    extract = inbox / f"customers_{day}.csv"
    con.execute(sql.setup_sql(str(extract), data["reference"]))
    con.execute(f"CREATE TEMP TABLE checked AS {sql.contract_sql(day)}")
    valid, quarantine = sql.snapshot_select(extract.name)
    con.execute(f"COPY ({quarantine}) TO '{out / 'quarantine.parquet'}' (FORMAT parquet)")
    con.execute(f"CREATE TEMP TABLE cur AS {valid}")
    con.execute(f"COPY cur TO '{out / 'snapshot.parquet'}' (FORMAT parquet)")
    rows, quarantined = con.execute("SELECT count(*), count(*) FILTER (reasons <> '') FROM checked").fetchone()
    reasons = dict(con.execute("SELECT r, count(*) FROM (SELECT unnest(string_split(reasons, '; ')) AS r "
                               "FROM checked WHERE reasons <> '') GROUP BY r ORDER BY r").fetchall())
    validated = time.perf_counter()
    con.execute(f"CREATE TEMP VIEW prev AS SELECT * FROM read_parquet('{data['previous_snapshot']}')")
    con.execute(sql.rule_meta_sql(data["rule_meta"]))
    events = out / "events.parquet"
    con.execute(f"COPY ({sql.EVENTS_SQL.format(as_of=day, days=1, days_minus_one=0)}) TO '{events}' "
                "(FORMAT parquet)")
    by_type = dict(con.execute(f"SELECT event_type, count(*) FROM read_parquet('{events}') GROUP BY 1").fetchall())
    birthdays = con.execute(f"SELECT count(*) FROM read_parquet('{events}') WHERE event_type = 'birthday' "
                            f"AND event_date = DATE '{day}'").fetchone()[0]
    done = time.perf_counter()
    return {"to_call_s": imported - started, "validate_s": validated - imported, "detect_s": done - validated,
            "rows": rows, "quarantined": quarantined, "reasons": reasons, "birthdays": birthdays,
            "by_type": by_type, "peak_mb": _day.own_peak_mb()}


def _reference(base: Path) -> dict:
    """What the SQL holds as data (locales, zones, the event rules), computed outside the clock."""
    from _duck_contract import reference

    from milestones.core import storage
    from milestones.detect.events import load_rules

    rules = load_rules()
    meta = [{"event_type": r.event_type, "annual": r.annual, "max_age": r.max_age_days,
             "milestones": sorted({m for t in r.triggers for m in t.milestones})} for r in rules]
    previous = storage.latest_snapshot_before(base, _day.AS_OF)
    return {"reference": reference(), "rule_meta": meta, "previous_snapshot": str(previous)}


def _run(argv: list[str], env: dict) -> dict:
    t = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, *argv], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if done.returncode:
        sys.exit(f"{argv[1]} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall_s": wall}


def compare(n: int, rounds: int) -> int:
    """``rounds`` rounds of ours and DuckDB at ``n`` customers; 0 when right and the goal is met."""
    import day as day_bench

    print(f"load before: {_day.load()}")
    work = Path(tempfile.mkdtemp(prefix="milestones-vs-duckdb-"))
    try:
        facts, inbox, base = day_bench.prepare(n, work)
        ref = work / "reference.json"
        ref.write_text(json.dumps(_reference(base)))
        env = day_bench.clean_env()
        print(f"{n:,} customers: {inbox} ({(inbox / f'customers_{_day.AS_OF}.csv').stat().st_size / 1e6:,.0f} MB)")
        found: list[dict[str, dict]] = []
        for r in range(rounds):
            data, out = work / f"ours-{r}", work / f"duck-{r}"
            shutil.copytree(base, data)
            out.mkdir()
            got = {"ours": _run(["--child", "ours", str(inbox), str(data)], env),
                   "duckdb": _run(["--child", "duckdb", str(inbox), str(out), str(ref)], env)}
            shutil.rmtree(data, ignore_errors=True)
            shutil.rmtree(out, ignore_errors=True)
            found.append(got)
            o, d = got["ours"], got["duckdb"]
            print(f"  round {r + 1} (load {_day.load()}): ours {o['wall_s']:.2f} s (start-up {o['to_call_s']:.2f}, "
                  f"validate with GX's import {o['validate_s']:.2f}, detect {o['detect_s']:.2f}; "
                  f"own peak {o['peak_mb']:,.0f} MB), duckdb {d['wall_s']:.2f} s (start-up {d['to_call_s']:.2f}, "
                  f"validate {d['validate_s']:.2f}, detect {d['detect_s']:.2f}; own peak {d['peak_mb']:,.0f} MB): "
                  f"{o['wall_s'] / d['wall_s']:.2f}x", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wrong = []
    for got in found:
        for side, r in got.items():
            if (r["rows"], r["quarantined"], r["reasons"]) != (facts["rows"], facts["quarantined"], facts["reasons"]):
                wrong.append(f"{side}: {r['rows']:,} rows, {r['quarantined']:,} quarantined {r['reasons']}; the "
                             f"generator wrote {facts['rows']:,}, spoiled {facts['quarantined']:,} {facts['reasons']}")
            if r["birthdays"] != facts["birthdays"]:
                wrong.append(f"{side}: {r['birthdays']:,} birthdays, the valid rows hold {facts['birthdays']:,}")
        if got["ours"]["by_type"] != got["duckdb"]["by_type"]:
            wrong.append(f"events by type: ours {got['ours']['by_type']}, DuckDB {got['duckdb']['by_type']}")

    def med(side: str, key: str) -> float:
        return statistics.median(g[side][key] for g in found)

    ratios = [g["ours"]["wall_s"] / g["duckdb"]["wall_s"] for g in found]
    warm = [(g["ours"]["validate_s"] + g["ours"]["detect_s"]) / (g["duckdb"]["validate_s"] + g["duckdb"]["detect_s"])
            for g in found]
    ratio = statistics.median(ratios)
    last = found[-1]["ours"]
    print(f"  medians of {rounds}: ours {med('ours', 'wall_s'):.2f} s (validate with GX's import "
          f"{med('ours', 'validate_s'):.2f}, detect {med('ours', 'detect_s'):.2f}), "
          f"duckdb {med('duckdb', 'wall_s'):.2f} s (validate {med('duckdb', 'validate_s'):.2f}, "
          f"detect {med('duckdb', 'detect_s'):.2f})")
    print(f"  outputs: {last['quarantined']:,} quarantined, {last['birthdays']:,} birthdays, "
          f"{sum(last['by_type'].values()):,} events; {'right, DuckDB agrees' if not wrong else 'WRONG'}")
    for w in wrong:
        print(f"  WRONG: {w}", file=sys.stderr)
    print(f"  the calls alone (validate + detect, no interpreter start-up; ours with GX's import): ours/DuckDB "
          "per round "
          f"{', '.join(f'{x:.2f}x' for x in warm)}")
    met = ratio <= GOAL
    print(f"goal: ours <= {GOAL:g}x DuckDB in a fresh process -> {ratio:.2f}x (median; per round "
          f"{', '.join(f'{x:.2f}x' for x in ratios)}) {'MET' if met else 'NOT MET'}; load after: {_day.load()}")
    return 0 if met and not wrong else 1


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        side, rest = sys.argv[2], [Path(a) for a in sys.argv[3:]]
        print(json.dumps(ours(*rest) if side == "ours" else duck(*rest)), flush=True)
        # As Airflow's task runner ends a task's process (supervisor._fork_main: os._exit after
        # flushing): without the interpreter's teardown, 0.7-2 s after GX's import.
        os._exit(0)
    else:
        sys.exit("run it as: benchmarks/validate.py --only duckdb")
