"""What the day benchmarks share: extracts with the facts they must produce, a Mail Send
stand-in, a process's own peak memory, and the checks of a day's outputs.

The expected facts come from the generator (:mod:`_extracts`), never from the code measured:
the rows it spoiled (each with the one reason validation must give) and the birthdays
among the valid rows (a date of birth on the day's month and day).
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = dt.date(2026, 11, 22)
#: The moment the day's deliver stage stands for (``milestones run --at``): run today, its
#: events would be weeks old and every email ``expired`` at the hand-over. At 23:00 UTC on
#: AS_OF the send hour has passed in every zone of the generator (SendGrid gets only what is
#: due) and no email is older than its event's max_age_days.
HANDED_OVER = dt.datetime(2026, 11, 22, 23, 0, tzinfo=dt.UTC)
CHUNK = 1_000_000

SERVER = """
import socket, sys
sys.path.insert(0, {root!r})
import uvicorn
sock = socket.socket(); sock.bind(("127.0.0.1", 0))
print(f"http://127.0.0.1:{{sock.getsockname()[1]}}", flush=True)
uvicorn.Server(uvicorn.Config("tests.servers.fast_accept:app", http="httptools", loop="uvloop",
                              log_level="warning", access_log=False)).run(sockets=[sock])
"""


def load() -> str:
    """``/proc/loadavg``'s three averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def own_peak_mb() -> float:
    """This process's own peak resident memory (VmHWM): unlike ``ru_maxrss``, not
    carried over from the parent across fork and exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def generate(n: int, inbox: Path) -> dict:
    """Today's and yesterday's extract of ``n`` customers under ``inbox``, and the facts
    a correct day derives from them (cached in ``facts.json``). Run it in a child process:
    the frames must not count towards a measured program's memory."""
    inbox.mkdir(parents=True, exist_ok=True)
    cached = inbox / "facts.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    import _extracts
    import numpy as np

    current = inbox / f"customers_{AS_OF}.csv"
    previous = inbox / f"customers_{AS_OF - dt.timedelta(days=1)}.csv"
    reasons: Counter = Counter()
    quarantined = birthdays = 0
    for k, start in enumerate(range(0, n, CHUNK)):
        today = _extracts.frame(min(CHUNK, n - start), AS_OF, seed=1 + k, start=start)
        mode, header = ("w", True) if k == 0 else ("a", False)
        today.to_csv(current, index=False, mode=mode, header=header)
        _extracts.previous_of(today).to_csv(previous, index=False, mode=mode, header=header)
        spoiled = today.attrs["spoiled"]
        quarantined += len(spoiled)
        reasons.update(r for rs in spoiled.values() for r in rs)
        valid = ~today["customer_id"].isin(list(spoiled)).to_numpy()
        born = today["date_of_birth"].to_numpy(dtype=str)
        birthdays += int((valid & np.char.endswith(born, AS_OF.strftime("-%m-%d"))).sum())
    facts = {"rows": n, "quarantined": quarantined, "reasons": dict(sorted(reasons.items())),
             "birthdays": birthdays, "current": str(current), "previous": str(previous)}
    cached.write_text(json.dumps(facts))
    return facts


def generate_in_child(n: int, inbox: Path) -> dict:
    code = (f"import sys; sys.path[:0] = [{str(HERE)!r}, {str(ROOT / 'plugins')!r}]; import json, _day; "
            f"from pathlib import Path; print(json.dumps(_day.generate({n}, Path({str(inbox)!r}))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


class StandIn:
    """The Mail Send stand-in (tests/servers/fast_accept.py) in its own process."""

    def __enter__(self) -> StandIn:
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER.format(root=str(ROOT))],
                                     stdout=subprocess.PIPE, text=True)
        self.url = self.proc.stdout.readline().strip()
        port = int(self.url.rsplit(":", 1)[1])
        for _ in range(600):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        return self

    def counts(self) -> dict:
        with urllib.request.urlopen(f"{self.url}/counts", timeout=30) as resp:
            return json.loads(resp.read())

    def env(self) -> dict[str, str]:
        return {"AIRFLOW_CONN_SENDGRID_DEFAULT":
                f'{{"conn_type": "http", "host": "{self.url}", "password": "SG.bench"}}',
                "MILESTONES_PUBLIC_URL": "https://news.acme.fi"}  # a real send refuses placeholder links

    def __exit__(self, *exc) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def birthdays(events: str, day: dt.date) -> int:
    """Birthdays falling on ``day`` in an events file (compared with the generator's count)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    table = pq.read_table(events, columns=["event_type", "event_date"])
    today = pc.and_(pc.equal(table["event_type"], "birthday"),
                    pc.equal(pc.cast(table["event_date"], pa.date32()), pa.scalar(day, pa.date32())))
    return int(pc.sum(pc.cast(today, pa.int64())).as_py() or 0)


def check_day(facts: dict, out: dict[str, dict], server: dict | None) -> list[str]:
    """What is wrong with one day's stage outputs (``out``: stage -> its summary), if anything."""
    wrong = []
    validated, detected = out["validate"], out["detect"]
    if validated["rows"] != facts["rows"]:
        wrong.append(f"validate: {validated['rows']} rows, the extract has {facts['rows']}")
    if validated["quarantined"] != facts["quarantined"]:
        wrong.append(f"validate: {validated['quarantined']} quarantined, {facts['quarantined']} rows were spoiled")
    if validated.get("reasons") is not None and validated["reasons"] != facts["reasons"]:
        wrong.append(f"validate: reasons {validated['reasons']} != spoiled {facts['reasons']}")
    if detected["birthdays"] != facts["birthdays"]:
        wrong.append(f"detect: {detected['birthdays']} birthdays today, the valid rows hold {facts['birthdays']}")
    send, rendered = out["decide"]["send"], out["render"]["rendered"]
    if not 0 < rendered <= send:
        wrong.append(f"render: {rendered} rendered of {send} decided to send")
    delivered = out["deliver"]
    if delivered.get("sent", 0) != rendered:
        wrong.append(f"deliver: {delivered} for {rendered} rendered emails")
    if server is not None and not (server["requests"] == server["keys"] == rendered and server["max_per_key"] == 1):
        wrong.append(f"deliver: the Mail Send stand-in saw {server}, expected {rendered} emails once each")
    return wrong
