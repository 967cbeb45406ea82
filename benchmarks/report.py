"""A year of results at a million customers: `milestones report` and `milestones uplift` vs DuckDB SQL.

Generates (once, into --work) CUSTOMERS customers (default 1,000,000) over the 365 days
of 2026: one decisions and one messages file per day (about 2.6 million detected
events, 2.1 million emails accepted, 5% held out), the SQLite ledger (every email with
its delivered/opened/clicked timestamps, and about 6 million webhook events), one
snapshot (customer locales) and about 1 million outcomes (purchases and logins).

Then, in turns for --rounds rounds, each in its own process (wall time and that
process's peak RSS):

* ``milestones report --out results.csv`` (counts by date, event type, locale and
  variant, the uplift tables by event type and variant, charts, HTML);
* ``milestones uplift --by event_type --out uplift.csv``;
* DuckDB computing the same report counts and uplift counts with SQL over the same
  Parquet files; DuckDB has no SQLite reader offline (its sqlite extension is a
  download), so it reads the two ledger queries the report makes through Python's
  sqlite3 into Arrow, like the report does; its SQL time alone is printed too.

Checks that the report rows and the uplift counts of both agree exactly (exit 1 if
not) and prints medians and ratios. Goal: each within 3x of DuckDB, under 4 GB peak.

Then the results page for marketing: ``summarize_results`` (the DAG task that precomputes
it) in its own process, and the staff page ``/report/`` requested 5 times in another
(the staff app as the Airflow plugin mounts it, in-process HTTP client): goal under 2 s a
request; its uplift by event type must equal ``milestones uplift``'s (when the rounds ran).
``--page-only`` skips the report/uplift/DuckDB rounds. Last run (--page-only, 1M customers x
365 days, shared 2-core machine at load 9-12): summarize_results 114 s wall / 50.5 s CPU /
1.83 GB peak; the page median 0.62 s, max 0.80 s over 5 requests (172 KB); its uplift equals
``milestones uplift --by event_type``'s (8 rows, every count and verdict; floats to 1e-9).
Last run (2 rounds, shared 2-core machine under load): report 33.4 s wall / 22.8 s CPU /
1.68 GB, uplift 31.2 s / 19.9 s / 1.64 GB, DuckDB 35.6 s / 13.3 s / 1.15 GB; results agree.

    .venv/bin/python benchmarks/report.py [--customers N] [--rounds 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "plugins")]
YEAR = [dt.date(2026, 1, 1) + dt.timedelta(days=i) for i in range(365)]
TYPES = ["birthday", "customer_anniversary", "wedding_anniversary", "retirement", "marriage", "graduation",
         "new_child"]
LOCALES = ["en", "fi", "et", "zh"]
CATALOG = "default_locale: en\nassets_url: https://milestones.example/a\ntemplates:\n" + "".join(
    f"  {t}:\n    event_type: {t}\n    owner: bench\n    locales: [en]\n    approved: null\n" for t in TYPES)


def generate(work: Path, customers: int, seed: int = 5, days: int = 365) -> None:
    """Write the data directory for the first ``days`` of 2026 (skipped when ``work/data/.complete`` exists)."""
    import numpy as np
    import pandas as pd

    from milestones.measure.feedback import Feedback

    data = work / "data"
    if (data / ".complete").is_file():
        return
    rng = np.random.default_rng(seed)
    year = YEAR[:days]
    ids = np.char.add("C", np.char.zfill(np.arange(customers).astype(str), 8)).astype(object)
    locale = rng.choice(["en", "en-GB", "fi-FI", "fi", "et", "zh-CN"], customers)
    snap = data / "snapshots" / "2026-12-31"
    snap.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"customer_id": ids, "locale": locale}).to_parquet(snap / "snapshot.parquet", index=False)
    # Events: a birthday and a customer anniversary for everyone, 0.6 other events per customer.
    extra = int(0.6 * customers)
    cust = np.concatenate([np.arange(customers), np.arange(customers), rng.integers(0, customers, extra)])
    etype = np.concatenate([np.zeros(customers, int), np.ones(customers, int), rng.integers(2, 7, extra)])
    day = rng.integers(0, days, len(cust))
    n = len(cust)
    keys = np.char.add(np.char.add(ids[cust].astype(str), "-"), np.arange(n).astype(str)).astype(object)
    u = rng.random(n)
    reason = np.where(u < 0.05, "holdout", np.where(u < 0.12, "no_opt_in", np.where(u < 0.19, "frequency_cap", "")))
    frame = pd.DataFrame({"key": keys, "customer_id": ids[cust], "event_type": np.array(TYPES)[etype],
                          "event_date": pd.to_datetime(np.array(year, dtype="datetime64[D]")[day]),
                          "decision": np.where(reason == "", "send", "skip"), "reason": reason, "day": day})
    frame["locale"] = pd.Series(locale[cust]).str.split("-").str[0].to_numpy()
    frame["variant"] = "base"
    for i, d in enumerate(year):
        part = frame[frame["day"] == i]
        for stage in ("decisions", "messages"):
            (data / stage / str(d)).mkdir(parents=True, exist_ok=True)
        part[["key", "customer_id", "event_type", "event_date", "decision", "reason"]].to_parquet(
            data / "decisions" / str(d) / "decisions.parquet", index=False)
        sent = part[part["decision"] == "send"]
        sent.assign(subject="Happy day", template_version="sha256:bench")[
            ["key", "customer_id", "event_type", "locale", "variant", "subject", "template_version"]].to_parquet(
            data / "messages" / str(d) / "messages.parquet", index=False)
    sent = frame[frame["decision"] == "send"].reset_index(drop=True)
    m = len(sent)
    base = pd.to_datetime(sent["event_date"]).dt.tz_localize("UTC") + pd.Timedelta(hours=9)
    delivered = rng.random(m) < 0.97
    opened = delivered & (rng.random(m) < 0.6)
    clicked = opened & (rng.random(m) < 0.15)
    unsub = delivered & (rng.random(m) < 0.005)
    Feedback(f"sqlite:///{data / 'ledger.sqlite'}").engine.dispose()  # creates the tables
    import sqlite3

    con = sqlite3.connect(data / "ledger.sqlite")
    con.execute("PRAGMA synchronous=OFF")
    stamp = base.dt.strftime("%Y-%m-%d %H:%M:%S.000000").to_numpy()
    none = np.full(m, None, dtype=object)
    con.executemany(
        "INSERT INTO emails (key, customer_id, event_type, event_date, template_version, state, attempts, "
        "transport, send_at, created_at, updated_at, delivered_at, opened_at, clicked_at) "
        "VALUES (?, ?, ?, ?, 'sha256:bench', 'accepted', 1, 'sendgrid', ?, ?, ?, ?, ?, ?)",
        zip(sent["key"], sent["customer_id"], sent["event_type"], sent["event_date"].dt.strftime("%Y-%m-%d"),
            stamp, stamp, stamp, np.where(delivered, stamp, none), np.where(opened, stamp, none),
            np.where(clicked, stamp, none), strict=True))
    events = [("processed", np.ones(m, bool)), ("delivered", delivered), ("open", opened),
              ("open", opened & (rng.random(m) < 0.4)), ("click", clicked), ("unsubscribe", unsub)]
    count = 0
    for j, (name, mask) in enumerate(events):
        idx = np.flatnonzero(mask)
        con.executemany(
            "INSERT INTO webhook_events (dedupe_key, event, email, key, customer_id, event_type, occurred_at, "
            "received_at, payload) VALUES (?, ?, 'x@example.com', ?, ?, ?, ?, ?, '{}')",
            zip((f"{j}:{i}" for i in idx), [name] * len(idx), sent["key"].to_numpy()[idx],
                sent["customer_id"].to_numpy()[idx], sent["event_type"].to_numpy()[idx], stamp[idx], stamp[idx],
                strict=True))
        count += len(idx)
    con.commit()
    con.close()
    # Outcomes: purchases after some events (more often after an email), the rest at random.
    compared = frame[(frame["reason"] == "holdout") | (frame["decision"] == "send")]
    after = compared[rng.random(len(compared)) < np.where(compared["reason"] == "holdout", 0.07, 0.10)]
    when = (pd.to_datetime(after["event_date"]).dt.tz_localize("UTC")
            + pd.to_timedelta(rng.integers(0, 20 * 24, len(after)), unit="h"))
    k = max(0, 1_000_000 * customers // 1_000_000 - len(after))
    rand_when = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, days * 24 * 60, k), unit="min")
    out = pd.DataFrame({
        "customer_id": np.concatenate([after["customer_id"].to_numpy(), ids[rng.integers(0, customers, k)]]),
        "outcome": np.concatenate([np.full(len(after), "purchase"), rng.choice(["purchase", "login"], k)]),
        "occurred_at": pd.concat([when, pd.Series(rand_when)], ignore_index=True),
        "value": np.round(rng.gamma(2.0, 30.0, len(after) + k), 2),
    }).drop_duplicates(["customer_id", "outcome", "occurred_at"])
    out["day"] = out["occurred_at"].dt.strftime("%Y-%m-%d")
    for d, part in out.groupby("day"):
        (data / "outcomes" / d).mkdir(parents=True, exist_ok=True)
        part.drop(columns="day").astype({"customer_id": "string", "outcome": "string"}).to_parquet(
            data / "outcomes" / d / "outcomes.parquet", index=False)
    (work / "templates").mkdir(exist_ok=True)
    (work / "templates" / "catalog.yaml").write_text(CATALOG, encoding="utf-8")
    (data / ".complete").write_text(json.dumps({"decisions": n, "emails": m, "webhook_events": count,
                                                "outcomes": len(out)}), encoding="utf-8")


DUCKDB = r'''
import json, sqlite3, sys, time
import duckdb, pyarrow as pa
data, out = sys.argv[1], sys.argv[2]
t0 = time.perf_counter()
con = sqlite3.connect(f"{data}/ledger.sqlite")
def fetch(sql, names):
    rows = con.execute(sql).fetchall()
    return pa.table(dict(zip(names, map(list, zip(*rows))))) if rows else pa.table({n: [] for n in names})
emails = fetch("SELECT key, delivered_at IS NOT NULL, opened_at IS NOT NULL, clicked_at IS NOT NULL FROM emails "
               "WHERE state = 'accepted'", ["key", "delivered", "opened", "clicked"])
gone = fetch("SELECT DISTINCT key FROM webhook_events WHERE event IN ('unsubscribe', 'group_unsubscribe') "
             "AND key IS NOT NULL", ["key"])
t1 = time.perf_counter()
db = duckdb.connect()
db.execute("SET TimeZone = 'UTC'")
db.register("emails", emails)
db.register("gone", gone)
db.execute(f"""
CREATE TEMP TABLE facts AS
WITH d AS (SELECT key, customer_id, event_type, CAST(event_date AS DATE) AS day, reason
           FROM read_parquet('{data}/decisions/*/decisions.parquet')),
     m AS (SELECT key, any_value(locale) AS locale, any_value(variant) AS variant
           FROM read_parquet('{data}/messages/*/messages.parquet') GROUP BY key),
     s AS (SELECT customer_id, any_value(lower(split_part(locale, '-', 1))) AS lang
           FROM read_parquet('{data}/snapshots/2026-12-31/snapshot.parquet') GROUP BY customer_id)
SELECT d.*, coalesce(m.locale, s.lang, '-') AS locale, m.variant AS mvariant,
       e.key IS NOT NULL AS contacted, coalesce(d.reason = 'holdout', false) AS holdout,
       coalesce(e.delivered, false) AS delivered, coalesce(e.opened, false) AS opened,
       coalesce(e.clicked, false) AS clicked, e.key IS NOT NULL AND d.key IN (SELECT key FROM gone) AS unsubscribed
FROM d LEFT JOIN m USING (key) LEFT JOIN s USING (customer_id) LEFT JOIN emails e USING (key)""")
report = db.execute("""
SELECT strftime(day, '%Y-%m-%d') AS date, event_type, locale,
       CASE WHEN contacted OR holdout THEN coalesce(mvariant, 'base') ELSE coalesce(mvariant, '') END AS variant,
       count(*) AS detected, sum(holdout::INT) AS holdout, sum(contacted::INT) AS contacted,
       sum(delivered::INT) AS delivered, sum(opened::INT) AS opened, sum(clicked::INT) AS clicked,
       sum(unsubscribed::INT) AS unsubscribed
FROM facts GROUP BY ALL ORDER BY ALL""").fetchall()
uplift = db.execute(f"""
WITH c AS (SELECT key, customer_id, event_type, day, CASE WHEN contacted THEN 'contacted' ELSE 'holdout' END AS grp
           FROM facts WHERE contacted OR holdout),
     v AS (SELECT customer_id, CAST(occurred_at AS DATE) AS vday, coalesce(value, 0) AS value
           FROM read_parquet('{data}/outcomes/*/outcomes.parquet') WHERE outcome = 'purchase'),
     per AS (SELECT c.key, any_value(c.event_type) AS event_type, any_value(c.grp) AS grp,
                    count(v.customer_id) > 0 AS converted, coalesce(sum(v.value), 0) AS value
             FROM c LEFT JOIN v ON v.customer_id = c.customer_id AND v.vday >= c.day AND v.vday < c.day + 14
             GROUP BY c.key)
SELECT event_type, grp, count(*), sum(converted::INT), sum(value) FROM per GROUP BY ALL ORDER BY ALL""").fetchall()
t2 = time.perf_counter()
json.dump({"report": report, "uplift": uplift, "read_ledger_s": t1 - t0, "sql_s": t2 - t1}, open(out, "w"))
'''


def timed(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """Wall seconds, the process's own peak RSS (MB) and CPU seconds (from its last stderr line)."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, env=env, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"{cmd[3]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    own = json.loads(proc.stderr.strip().splitlines()[-1])
    return wall, float(own["peak_mb"]), float(own["cpu_s"])


# Every child reports its own peak RSS (VmHWM: ru_maxrss carries the parent's across exec) and
# its CPU seconds on its last stderr line.
WRAP = ("import json, resource, runpy, sys; sys.argv = sys.argv[1:]; code = 0\n"
        "try:\n    runpy.run_path(sys.argv[0], run_name='__main__') if sys.argv[0].endswith('.py') "
        "else runpy.run_module(sys.argv[0], run_name='__main__')\n"
        "except SystemExit as e:\n    code = e.code or 0\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "hwm = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(json.dumps({'peak_mb': hwm / 1024, 'cpu_s': u.ru_utime + u.ru_stime}), file=sys.stderr)\n"
        "sys.exit(code)")


def compare(work: Path, duck: dict) -> list[str]:
    """Differences between the CLI's CSVs and DuckDB's counts (empty when they agree)."""
    import csv

    problems = []
    with open(work / "out" / "results.csv", encoding="utf-8", newline="") as fh:
        ours = sorted(tuple(r.values()) for r in csv.DictReader(fh))
    theirs = sorted(tuple(str(v) for v in row) for row in duck["report"])
    if ours != theirs:
        diff = set(ours) ^ set(theirs)
        problems.append(f"report rows differ: {len(ours)} vs {len(theirs)} rows, {len(diff)} differ, e.g. "
                        f"{sorted(diff)[:2]}")
    with open(work / "out" / "uplift.csv", encoding="utf-8", newline="") as fh:
        rows = {r["group"]: r for r in csv.DictReader(fh)}
    counts: dict[str, dict[str, float]] = {}
    for event_type, grp, n, conv, value in duck["uplift"]:
        c = counts.setdefault(event_type, {})
        c[grp], c[f"{grp}_conversions"], c[f"{grp}_value"] = n, conv, value
    for event_type, c in counts.items():
        row = rows.get(event_type)
        if row is None:
            problems.append(f"uplift: no row {event_type}")
            continue
        for name in ("contacted", "holdout", "contacted_conversions", "holdout_conversions"):
            if int(row[name]) != int(c.get(name, 0)):
                problems.append(f"uplift {event_type} {name}: {row[name]} vs {c.get(name, 0)}")
        n1, n2 = c.get("contacted", 0), c.get("holdout", 0)
        if n1 and n2:
            expected = (c["contacted_value"] / n1 - c["holdout_value"] / n2) * n1
            if abs(float(row["incremental_value"]) - expected) > 1e-6 * max(1.0, abs(expected)):
                problems.append(f"uplift {event_type} incremental_value: {row['incremental_value']} vs {expected}")
    return problems


PAGE = r'''
import json, statistics, sys, time
from fastapi.testclient import TestClient
from milestones.staff import create_app

class Marketer:
    def get_name(self):
        return "bench"

client = TestClient(create_app(current_user=Marketer, approver=lambda user: False))
times = []
for _ in range(5):
    t = time.perf_counter()
    page = client.get("/report/")
    times.append(time.perf_counter() - t)
    assert page.status_code == 200 and 'id="answers"' in page.text, page.status_code
csv_t = time.perf_counter()
download = client.get("/report/uplift.csv")
csv_s = time.perf_counter() - csv_t
json.dump({"median_s": statistics.median(times), "max_s": max(times), "first_s": times[0], "csv_s": csv_s,
           "bytes": len(page.text), "answers": page.text.count("<li class=")}, open(sys.argv[1], "w"))
'''


def page_timing(work: Path, env: dict, py: list[str]) -> tuple[dict, list[str]]:
    """Precompute the results (the DAG task) and time the staff page; problems if it disagrees with the CLI."""
    import csv

    script = work / "summarize.py"
    script.write_text("from milestones.airflow import tasks\nprint(tasks.summarize_results())\n", encoding="utf-8")
    page_script = work / "page.py"
    page_script.write_text(PAGE, encoding="utf-8")
    stored = work / "data" / "results" / "summary.json"
    if stored.exists():
        stored.unlink()  # computed afresh, as after a run that changed the data
    wall, peak, cpu = timed(py + [str(script)], env)
    _, page_peak, page_cpu = timed(py + [str(page_script), str(work / "out" / "page.json")], env)
    page = json.loads((work / "out" / "page.json").read_text(encoding="utf-8"))
    figures = {"summarize_wall_s": wall, "summarize_cpu_s": cpu, "summarize_peak_mb": peak,
               "page_process_cpu_s": page_cpu, "page_process_peak_mb": page_peak, **page}
    problems = []
    cli_csv = work / "out" / "uplift.csv"
    if cli_csv.exists():
        with cli_csv.open(encoding="utf-8", newline="") as fh:
            ours = list(csv.DictReader(fh))
        with (work / "data" / "results" / "uplift.csv").open(encoding="utf-8", newline="") as fh:
            page_rows = list(csv.DictReader(fh))
        if ours != page_rows:
            problems.append("the page's uplift differs from milestones uplift's")
    return figures, problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--work", type=Path, help="keep the generated data here (re-used on the next run)")
    parser.add_argument("--page-only", action="store_true", help="only the results page (precompute + requests)")
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="milestones-report-"))
    t = time.perf_counter()
    generate(work, args.customers)
    sizes = json.loads((work / "data" / ".complete").read_text(encoding="utf-8"))
    print(f"data: {args.customers:,} customers, {sizes['decisions']:,} events, {sizes['emails']:,} emails, "
          f"{sizes['webhook_events']:,} webhook events, {sizes['outcomes']:,} outcomes "
          f"(generated or found in {time.perf_counter() - t:.0f} s, {work})")
    env = {**os.environ, "MILESTONES_DATA_DIR": str(work / "data"), "MILESTONES_TEMPLATES_DIR": str(work / "templates"),
           "PYTHONPATH": str(ROOT / "plugins")}
    (work / "out").mkdir(exist_ok=True)
    duck_script = work / "duck.py"
    duck_script.write_text(DUCKDB, encoding="utf-8")
    py = [sys.executable, "-c", WRAP]
    commands = {
        "report": py + ["milestones.cli", "report", "--out", str(work / "out" / "results.csv")],
        "uplift": py + ["milestones.cli", "uplift", "--by", "event_type", "--out", str(work / "out" / "uplift.csv")],
        "duckdb": py + [str(duck_script), str(work / "data"), str(work / "out" / "duck.json")],
    }
    if args.page_only:
        figures, problems = page_timing(work, env, py)
        print(json.dumps(figures, indent=1))
        ok = figures["max_s"] < 2
        print("results page: summarize_results", f"{figures['summarize_wall_s']:.1f} s wall,",
              f"{figures['summarize_cpu_s']:.1f} s CPU, {figures['summarize_peak_mb']:.0f} MB;",
              f"page median {figures['median_s']:.3f} s, max {figures['max_s']:.3f} s (goal < 2 s:",
              "met)" if ok else "NOT met)", *problems)
        sys.exit(1 if problems or not ok else 0)
    walls: dict[str, list[float]] = {k: [] for k in commands}
    cpus: dict[str, list[float]] = {k: [] for k in commands}
    peaks: dict[str, float] = dict.fromkeys(commands, 0.0)
    ratios: dict[str, list[float]] = {"report": [], "uplift": []}
    duck_parts: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            wall, peak, cpu = timed(cmd, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
            peaks[name] = max(peaks[name], peak)
        duck = json.loads((work / "out" / "duck.json").read_text(encoding="utf-8"))
        duck_parts.append((duck["read_ledger_s"], duck["sql_s"]))
        for name in ratios:
            ratios[name].append(walls[name][-1] / walls["duckdb"][-1])
    problems = compare(work, duck)
    figures, page_problems = page_timing(work, env, py)
    problems += page_problems
    print(f"results page: summarize_results {figures['summarize_wall_s']:.1f} s wall, "
          f"{figures['summarize_cpu_s']:.1f} s CPU, {figures['summarize_peak_mb']:.0f} MB; page median "
          f"{figures['median_s']:.3f} s, max {figures['max_s']:.3f} s (goal < 2 s)")
    med = {k: statistics.median(v) for k, v in walls.items()}
    print(f"{'':8} {'wall (median)':>14} {'CPU (median)':>13} {'peak RSS':>9}   wall vs DuckDB, median of rounds")
    for name in commands:
        ratio = f"{statistics.median(ratios[name]):.2f}x (" + ", ".join(f"{r:.2f}" for r in ratios[name]) + ")" \
            if name in ratios else "1.00x"
        print(f"{name:8} {med[name]:13.2f}s {statistics.median(cpus[name]):12.2f}s {peaks[name]:7.0f}MB   {ratio}")
    print(f"DuckDB's parts (median): ledger read {statistics.median(p[0] for p in duck_parts):.2f} s, "
          f"SQL {statistics.median(p[1] for p in duck_parts):.2f} s")
    ok = not problems and all(statistics.median(r) <= 3 for r in ratios.values()) and max(peaks.values()) < 4096
    for problem in problems:
        print("MISMATCH:", problem)
    print("results agree" if not problems else "results DISAGREE",
          "| goal (each within 3x of DuckDB, peak < 4 GB):", "met" if ok else "NOT met")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
