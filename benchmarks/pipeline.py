"""One day of the whole pipeline on a large extract, stage by stage.

Builds a CUSTOMERS-customer extract (default 1,000,000) and its previous
snapshot, then runs validate -> detect -> policy -> render -> deliver (SendGrid
transport to a stand-in on 127.0.0.1, SQLite ledger) for 2026-11-22, printing
wall time per stage, the total, peak RSS, and the time of reading the extract
alone with pandas as the floor. Goal: under 30 s and 3 GB on 2 cores.

    .venv/bin/python benchmarks/pipeline.py [--customers N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(HERE), str(ROOT), str(ROOT / "plugins")]
AS_OF = dt.date(2026, 11, 22)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    args = parser.parse_args()
    logging.getLogger("great_expectations").setLevel(logging.WARNING)

    import _extracts
    import pandas as pd
    from deliver import SERVER

    work = Path(tempfile.mkdtemp(prefix="milestones-pipeline-"))
    current = _extracts.write_csv(args.customers, work / "in", AS_OF, seed=1)
    # The same customers yesterday, but for a few changes: marriages, graduations.
    prev_frame = _extracts.previous_of(_extracts.frame(args.customers, AS_OF, seed=1))
    previous = work / "in" / f"customers_{AS_OF - dt.timedelta(days=1)}.csv"
    prev_frame.to_csv(previous, index=False)
    del prev_frame

    server = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT))], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", int(url.rsplit(":", 1)[1])), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    os.environ["AIRFLOW_CONN_SENDGRID_DEFAULT"] = f'{{"conn_type": "http", "host": "{url}", "password": "SG.bench"}}'
    os.environ.setdefault("MILESTONES_PUBLIC_URL", "https://news.acme.fi")  # a real send refuses placeholder links
    try:
        import great_expectations  # noqa: F401  (a one-off import cost, not the pipeline's)

        from milestones import pipeline
        from milestones.core.config import load_settings

        settings = load_settings(data_dir=work / "data", send_concurrency=16)
        t = time.perf_counter()
        pd.read_csv(current)
        floor = time.perf_counter() - t
        pipeline.validate_stage(previous, settings)  # yesterday's snapshot, as a running system has it

        times = {}
        t0 = time.perf_counter()
        t = time.perf_counter()
        validated = pipeline.validate_stage(current, settings, previous=work / "data" / "snapshots"
                                            / str(AS_OF - dt.timedelta(days=1)) / "snapshot.parquet")
        times["validate"] = time.perf_counter() - t
        t = time.perf_counter()
        detected = pipeline.detect_stage(AS_OF, settings, snapshot=validated["snapshot"])
        times["detect"] = time.perf_counter() - t
        t = time.perf_counter()
        decided = pipeline.decide_stage(AS_OF, settings, snapshot=validated["snapshot"])
        times["policy"] = time.perf_counter() - t
        t = time.perf_counter()
        rendered = pipeline.render_stage(AS_OF, settings, snapshot=validated["snapshot"])
        times["render"] = time.perf_counter() - t
        t = time.perf_counter()
        delivered = pipeline.deliver_stage(AS_OF, settings)
        times["deliver"] = time.perf_counter() - t
        total = time.perf_counter() - t0
    finally:
        server.terminate()
    print(f"{args.customers:,} customers: {validated['quarantined']:,} quarantined, "
          f"{sum(detected['by_type'].values()):,} events, {decided['send']:,} to send, "
          f"{rendered['rendered']:,} rendered, {delivered.get('sent', 0):,} sent via {delivered['transport']}")
    print(f"floor: pandas.read_csv of the extract {floor:.2f} s")
    for stage, secs in times.items():
        print(f"  {stage:9s} {secs:6.2f} s")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"total {total:.2f} s (goal < 30 s), peak RSS {peak:,.0f} MB (goal < 3,072 MB)")


if __name__ == "__main__":
    main()
