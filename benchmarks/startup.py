"""Start-up cost: the command line and the Airflow task processes, warm.

Each measurement is a fresh process (as a user or a Celery worker starts one), with
``PYTHONDONTWRITEBYTECODE=1`` as in the image, after one warm-up run; medians of
``--runs``.  Printed:

* ``milestones run`` on the bundled sample (two snapshots, validation with Great
  Expectations and Data Docs, detection, policy, rendering, the file outbox), each run
  on a fresh data directory; checked: the same emails every time, more than none;
* ``milestones why`` on that data directory; checked: it finds the customer's decisions;
* an Airflow task process: the Task SDK's runner (``task_runner``) and, per task, the
  milestones modules it imports; checked: Great Expectations is imported by the
  ``validate`` task only, and no task but ``validate`` pays for it;
* the baseline of the same run: the bare interpreter, and ``milestones run`` with its
  bytecode ignored (``PYTHONPYCACHEPREFIX`` pointing at an empty directory), which is
  what every process paid before bytecode was compiled at build time.

* a benchmark's process: what ``benchmarks/day.py``'s stage process imports before its call,
  and Great Expectations' import (``gx_import.load()``) and one suite's build, each alone in
  a fresh process: the fixed cost the validate task, ``milestones validate`` and the
  benchmarks all pay.

Goals (issue 29): ``run`` at most 2 s, ``why`` at most 0.3 s, at load 4.  Exit 1 when a check
fails or a goal is NOT MET; the load average (/proc/loadavg) is printed beside the figures.
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

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "plugins" / "milestones" / "samples"
BIN = Path(sys.executable).parent
#: What each DAG task imports beyond the task runner (see plugins/milestones/airflow/tasks.py).
TASKS = {
    "locate_extract": "from milestones.airflow import tasks; from milestones.airflow.assets import INBOX",
    "validate": "from milestones import pipeline; from milestones.airflow import tasks; from milestones.ingest import validation, gx_import; gx_import.load()",
    "detect": "from milestones import pipeline; from milestones.airflow import tasks; from milestones.detect import events; events.load_rules()",
    "decide": "from milestones import pipeline; from milestones.airflow import tasks; from milestones.decide import policy; from milestones.measure import feedback",
    "render": "from milestones import pipeline; from milestones.airflow import tasks; from milestones.render import rendering, catalog; from milestones.core import links",
    "deliver": "from milestones import pipeline; from milestones.airflow import tasks; from milestones.deliver import delivery, ledger, sendgrid_transport",
}


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: no Airflow pointers, no SendGrid connection."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AIRFLOW", "MILESTONES_")) and k not in ("PYTHONPYCACHEPREFIX",)}
    env.update(PYTHONDONTWRITEBYTECODE="1", **extra)
    return env


def timed(argv: list[str], env: dict[str, str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    took = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took, done.stdout


def run_once(env: dict[str, str]) -> tuple[float, dict, Path]:
    data = Path(tempfile.mkdtemp(prefix="milestones-startup-"))
    took, out = timed([str(BIN / "milestones"), "run", "--extract", str(SAMPLES / "customers_2026-11-22.csv"),
                       "--previous", str(SAMPLES / "customers_2026-11-21.csv"), "--as-of", "2026-11-22",
                       "--data-dir", str(data)], env)
    return took, json.loads(out.strip().splitlines()[-1]), data


def task_overhead(env: dict[str, str]) -> dict[str, float]:
    """Seconds to import the task runner, then each task's modules, in fresh processes."""
    code = ("import sys, time; t = time.perf_counter(); {imports}; "
            "print(time.perf_counter() - t, 'great_expectations' in sys.modules)")
    home = tempfile.mkdtemp(prefix="milestones-startup-af-")
    env = {**env, "AIRFLOW_HOME": home,
           "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
    figures: dict[str, float] = {}
    took, out = timed([sys.executable, "-c", code.format(
        imports="from airflow.sdk.execution_time import task_runner")], env)
    figures["task_runner"] = float(out.strip().splitlines()[-1].split()[0])
    for task, imports in TASKS.items():
        _, out = timed([sys.executable, "-c", code.format(
            imports="from airflow.sdk.execution_time import task_runner; t = time.perf_counter(); " + imports)],
            env)
        seconds, gx = out.strip().splitlines()[-1].split()
        figures[task] = float(seconds)
        if (gx == "True") != (task == "validate"):
            sys.exit(f"task {task}: Great Expectations {'imported' if gx == 'True' else 'missing'}")
    shutil.rmtree(home, ignore_errors=True)
    return figures


#: Fresh processes paying one fixed cost each (seconds printed by the process itself).
FIXED = {
    "benchmark stage process (day.py, up to the call)":
        "import sys; sys.path[:0] = ['benchmarks', 'plugins']; import _day; from milestones import pipeline; "
        "from milestones.core import storage; from milestones.core.config import load_settings",
    "Great Expectations import (gx_import.load)":
        "import sys; sys.path[:0] = ['plugins']; from milestones.ingest import gx_import; gx_import.load()",
}
SUITE = ("import sys, time, datetime as dt; sys.path[:0] = ['plugins']; from milestones.ingest import gx_import; "
         "gx_import.load(); from milestones.ingest.gx_suite import Suite; from milestones.ingest.rules import "
         "build_rules; t = time.perf_counter(); Suite(build_rules(dt.date(2026, 11, 22))); "
         "print(time.perf_counter() - t)")
RUN_GOAL, WHY_GOAL = 2.0, 0.3


def fixed_costs(env: dict[str, str], runs: int) -> dict[str, float]:
    """Medians of fresh processes, each paying one fixed cost (measured inside the process)."""
    timer = "import time; t0 = time.perf_counter(); {code}; print(time.perf_counter() - t0)"
    figures = {name: statistics.median(float(timed([sys.executable, "-c", timer.format(code=code)], env)[1].split()[-1])
                                       for _ in range(runs))
               for name, code in FIXED.items()}
    figures["one GX suite built (after the import)"] = statistics.median(
        float(timed([sys.executable, "-c", SUITE], env)[1].split()[-1]) for _ in range(runs))
    return figures


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-baseline", action="store_true", help="skip the run without bytecode")
    args = parser.parse_args()
    env = clean_env()
    print(f"load before: {load()} on {os.cpu_count()} cores")

    bare = statistics.median(timed([sys.executable, "-c", "pass"], env)[0] for _ in range(args.runs))
    _, first, data = run_once(env)  # warm-up (page cache, zoneinfo, templates)
    if first["emails_sent"] <= 0:
        sys.exit(f"the sample sent no email: {first}")
    runs, whys = [], []
    customer = None
    shutil.rmtree(data, ignore_errors=True)
    for _ in range(args.runs):
        took, summary, data = run_once(env)
        if summary["emails_sent"] != first["emails_sent"] or summary["transport"] != "outbox":
            sys.exit(f"runs disagree: {summary} vs {first}")
        runs.append(took)
        if customer is None:
            import pandas as pd

            customer = pd.read_parquet(data / "messages" / "2026-11-22" / "messages.parquet")["customer_id"].iloc[0]
        took, out = timed([str(BIN / "milestones"), "why", customer, "--data-dir", str(data)], env)
        if not json.loads(out.strip().splitlines()[-1])["decisions"]:
            sys.exit(f"why {customer}: no decisions found")
        whys.append(took)
        shutil.rmtree(data, ignore_errors=True)
    print(f"python -c pass (interpreter start):   {bare:6.2f} s")
    run_s, why_s = statistics.median(runs), statistics.median(whys)
    print(f"milestones run, bundled sample:        {run_s:6.2f} s = {run_s / bare:.0f}x the bare interpreter "
          f"(runs {', '.join(f'{t:.2f}' for t in runs)}; {first['emails_sent']} emails)")
    print(f"milestones why:                        {why_s:6.2f} s = {why_s / bare:.0f}x the bare interpreter "
          f"(runs {', '.join(f'{t:.2f}' for t in whys)})", flush=True)
    tasks = task_overhead(env)
    print(f"Airflow task process (task_runner import): {tasks.pop('task_runner'):6.2f} s, then per task:")
    for task, seconds in tasks.items():
        print(f"  {task:15s} {seconds:6.2f} s" + ("  (Great Expectations)" if task == "validate" else ""))
    for name, seconds in fixed_costs(env, args.runs).items():
        print(f"{name:50s} {seconds:6.2f} s")
    if not args.no_baseline:
        with tempfile.TemporaryDirectory(prefix="milestones-nopyc-") as empty:
            cold, _, data = run_once(clean_env(PYTHONPYCACHEPREFIX=empty))
        shutil.rmtree(data, ignore_errors=True)
        print(f"baseline: milestones run without bytecode: {cold:6.2f} s "
              f"({cold / statistics.median(runs):.1f}x the compiled run)")
    print(f"load after: {load()}")
    met = run_s <= RUN_GOAL and why_s <= WHY_GOAL
    print(f"goal (at load 4): run <= {RUN_GOAL:g} s -> {run_s:.2f} s {'MET' if run_s <= RUN_GOAL else 'NOT MET'}; "
          f"why <= {WHY_GOAL:g} s -> {why_s:.2f} s {'MET' if why_s <= WHY_GOAL else 'NOT MET'}")
    print(json.dumps({"run_s": round(run_s, 2), "why_s": round(why_s, 2), "load": load(),
                      "bare_python_s": round(bare, 3), "tasks_s": {k: round(v, 2) for k, v in tasks.items()}}))
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
