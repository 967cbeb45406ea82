"""The file outbox (the embedded default transport): emails/s, checked, and a whole sample day.

Part 1 writes N emails (default 20,000; rendered-sized: a 4 KB HTML and a 1.5 KB text part,
non-ASCII names) twice in the same run:
  before  what the outbox did until issue 14: an ``email.message.EmailMessage`` per email
          (SMTP policy, as_bytes), written and renamed one after another, no ledger
  ours    milestones.deliver.delivery.deliver() + OutboxTransport with the SQLite ledger on
          (register, claim, outcome for every email), ``--concurrency`` (the outbox writes
          on at most min(concurrency, OutboxTransport.THREADS) threads of its own)
and, as the floor of the system time, the same bytes written to new files and renamed into
place with bare ``os`` calls. CPU per email (user and system, from getrusage) is printed for
each. Each is checked: one file per key, nothing else in the directory, every email accepted in the
ledger, and every 50th file parsed back (headers exactly the project's, subject and both parts
equal to what was given). Prints emails/s of each and the ratio. Goal: ours >= 3,000 emails/s.

Part 2 (``--customers N``, e.g. 100000) makes the sample (``milestones sample``) and runs the
day end to end in this process, stage by stage (validate, detect, decide, render, deliver to
the outbox), printing each stage's seconds and the total; it checks that every email the run
counts as sent is one file in the outbox and one accepted row in the ledger. Goal: < 30 s.

    .venv/bin/python benchmarks/outbox.py [--count N] [--concurrency C] [--runs R] [--customers N]

Exits 1 when a check fails.
"""

from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import os
import statistics
import subprocess
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

FROM = {"from_email": "hello@milestones.example", "from_name": "Milestones"}


def message(i: int, prefix: str) -> dict:
    key = f"{prefix}{i:07d}"
    name = ("Aino", "Zoë", "Jürgen", "李雷")[i % 4]
    return {"key": key, "customer_id": f"C{i:07d}", "event_type": "birthday", "event_date": "2026-11-22",
            "email": f"c{i}@example.com", "subject": f"Happy birthday, {name}!",
            "html": f"<p>Dear {name},</p>" + "<p>We wish you a wonderful day.</p>" * 110,
            "text": f"Dear {name},\n" + "We wish you a wonderful day.\n" * 50,
            "unsubscribe_url": f"https://milestones.example/u/{key}", "template_version": "v1", "send_at": 0}


def fail(why: str) -> None:
    print(f"FAILED: {why}", flush=True)
    sys.exit(1)


def cpu_us() -> tuple[float, float]:
    """(user, system) CPU seconds of this process so far, all its threads, in microseconds."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime * 1e6, usage.ru_stime * 1e6


def per_email(start: tuple[float, float], count: int) -> tuple[float, float]:
    """(user, system) CPU microseconds per email since ``start`` (:func:`cpu_us`)."""
    now = cpu_us()
    return (now[0] - start[0]) / count, (now[1] - start[1]) / count


def floor_run(directory: Path, messages: list[dict]) -> tuple[float, float]:
    """The file system's own cost: each email's bytes written to a new file and renamed into
    place with bare ``os`` calls (no headers, no ledger), CPU microseconds per file."""
    directory.mkdir()
    c0 = cpu_us()
    for m in messages:
        target = directory / f"{m['key']}.eml"
        tmp = target.with_name(f".{target.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.write(fd, (m["text"] + m["html"]).encode())
        os.close(fd)
        os.replace(tmp, target)
    return per_email(c0, len(messages))


def before_run(directory: Path, messages: list[dict]) -> tuple[float, tuple[float, float]]:
    """The outbox as it was: the email package builds each message, one write after another."""
    directory.mkdir()
    t0, c0 = time.perf_counter(), cpu_us()
    for m in messages:
        mime = EmailMessage(policy=email.policy.SMTP)
        mime["From"] = email.utils.formataddr((FROM["from_name"], FROM["from_email"]))
        mime["To"] = m["email"]
        mime["Subject"] = m["subject"]
        mime["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        mime["Message-ID"] = f"<{m['key']}@milestones>"
        mime["List-Unsubscribe"] = f"<{m['unsubscribe_url']}>"
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mime.set_content(m["text"], subtype="plain", charset="utf-8")
        mime.add_alternative(m["html"], subtype="html", charset="utf-8")
        target = directory / f"{m['key']}.eml"
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(mime.as_bytes())
        os.replace(tmp, target)
    return len(messages) / (time.perf_counter() - t0), per_email(c0, len(messages))


def ours_run(work: Path, messages: list[dict], concurrency: int) -> tuple[float, tuple[float, float]]:
    from milestones.deliver.delivery import OutboxTransport, deliver
    from milestones.deliver.ledger import Ledger

    ledger = Ledger(f"sqlite:///{work / 'ledger.sqlite'}")
    outbox = OutboxTransport(work / "outbox", **FROM)
    t0, c0 = time.perf_counter(), cpu_us()
    counts = deliver(messages, outbox, ledger, concurrency=concurrency)
    rate, cpu = len(messages) / (time.perf_counter() - t0), per_email(c0, len(messages))
    if counts != {"sent": len(messages)}:
        fail(f"deliver counted {dict(counts)}")
    if ledger.counts() != {"accepted": len(messages)}:
        fail(f"ledger holds {ledger.counts()}")
    ledger.engine.dispose()
    check_outbox(work / "outbox", messages)
    return rate, cpu


def check_outbox(directory: Path, messages: list[dict]) -> None:
    from tests.unit.test_outbox_headers import OWN_HEADERS

    names = sorted(p.name for p in directory.iterdir())
    if names != sorted(f"{m['key']}.eml" for m in messages):
        fail(f"the outbox holds {len(names)} files for {len(messages)} emails (or other names)")
    for m in messages[::50]:
        parsed = email.message_from_bytes((directory / f"{m['key']}.eml").read_bytes(), policy=email.policy.default)
        parts = {p.get_content_type(): p.get_content() for p in parsed.iter_parts()}
        if (parsed.keys() != OWN_HEADERS or str(parsed["Subject"]) != m["subject"]
                or parts != {"text/plain": m["text"], "text/html": m["html"]}
                or parsed["X-Milestones-Key"] != m["key"] or parsed["To"] != m["email"]):
            fail(f"{m['key']}.eml does not read back as the email given")


def outbox_part(args: argparse.Namespace) -> None:
    rows = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            before, before_cpu = before_run(work / "before",
                                            [message(i, f"b{run}-") for i in range(min(args.count, 500))])
            ours, ours_cpu = ours_run(work, [message(i, f"o{run}-") for i in range(args.count)], args.concurrency)
            floor = floor_run(work / "floor", [message(i, f"f{run}-") for i in range(min(args.count, 2000))])
        rows.append((before, ours, *before_cpu, *ours_cpu, floor[1]))
        print(f"run {run + 1}: before {before:7.0f} emails/s | ours {ours:7.0f} emails/s "
              f"(concurrency {args.concurrency}, ledger on) | ratio {ours / before:5.1f}x | CPU per email: "
              f"before {before_cpu[0]:.0f} us user + {before_cpu[1]:.0f} us system, "
              f"ours {ours_cpu[0]:.0f} + {ours_cpu[1]:.0f} us, a bare file {floor[1]:.0f} us system "
              f"(load {os.getloadavg()[0]:.2f})", flush=True)
    before, ours, b_user, b_sys, o_user, o_sys, f_sys = (statistics.median(col) for col in zip(*rows, strict=True))
    print(f"median of {args.runs}: before {before:7.0f} emails/s | ours {ours:7.0f} emails/s | "
          f"ratio {ours / before:5.1f}x (goal >= 3,000 emails/s: {'met' if ours >= 3000 else 'NOT met'}); "
          f"every file checked for count and names, every 50th parsed back")
    print(f"median CPU per email: before {b_user:.0f} us user + {b_sys:.0f} us system; "
          f"ours {o_user:.0f} us user + {o_sys:.0f} us system (the ledger's writes included); the file "
          f"system's floor (create, write, rename with bare os calls) {f_sys:.0f} us system: ours is "
          f"{o_sys / f_sys:.2f}x the floor")


def day_part(customers: int) -> None:
    """The sample day of ``customers`` customers, end to end, stage by stage."""
    from milestones import pipeline
    from milestones.core.config import load_settings
    from milestones.deliver.ledger import Ledger

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("milestones")), "sample", "--customers", str(customers),
                        "--out", str(work / "sample")], check=True, capture_output=True)
        print(f"sample of {customers:,} customers made in {time.perf_counter() - t:.1f} s (not timed below)")
        current, previous = sorted((work / "sample").glob("customers_*.csv"))[::-1]
        settings = load_settings(data_dir=work / "data")
        day = current.stem.split("_")[-1]
        times = {}
        t0 = t = time.perf_counter()
        prev = pipeline.previous_snapshot_for(previous, pipeline.snapshot_day(current, day), settings)
        validated = pipeline.validate_stage(current, settings, previous=prev, as_of=day)
        times["validate"], t = time.perf_counter() - t, time.perf_counter()
        detected = pipeline.detect_stage(day, settings, snapshot=validated["snapshot"], previous=prev)
        times["detect"], t = time.perf_counter() - t, time.perf_counter()
        decided = pipeline.decide_stage(day, settings, snapshot=validated["snapshot"])
        times["decide"], t = time.perf_counter() - t, time.perf_counter()
        # Rendered and handed over on the sample's morning (`milestones run --at`): run today,
        # its weeks-old events would all be expired at the hand-over.
        morning = dt.datetime.fromisoformat(f"{day}T06:00:00+00:00")
        rendered = pipeline.render_stage(day, settings, snapshot=validated["snapshot"], now=morning)
        times["render"], t = time.perf_counter() - t, time.perf_counter()
        c0 = cpu_us()
        delivered = pipeline.deliver_stage(day, settings, at=morning)
        times["deliver"] = time.perf_counter() - t
        total = time.perf_counter() - t0
        summary = pipeline.summarise(day, validated, detected, decided, rendered, delivered, settings)
        sent = summary["emails_sent"]
        files = len(list((work / "data" / "outbox").glob("*.eml")))
        accepted = Ledger(settings.ledger_database_url).counts().get("accepted", 0)
        print(" | ".join(f"{k} {v:.1f} s" for k, v in times.items())
              + f" | total {total:.1f} s (goal < 30 s: {'met' if total < 30 else 'NOT met'}); "
              f"{sent:,} emails, {sent / times['deliver']:,.0f} emails/s in delivery")
        if sent:
            user, system = per_email(c0, sent)
            print(f"delivery's CPU per email: {user:.0f} us user + {system:.0f} us system "
                  f"(load {os.getloadavg()[0]:.2f})")
        if not sent or files != sent or accepted != sent:
            fail(f"{sent} emails counted sent, {files} files in the outbox, {accepted} accepted in the ledger")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--customers", type=int, default=0, help="also run the sample day of N customers")
    args = parser.parse_args()
    outbox_part(args)
    if args.customers:
        day_part(args.customers)


if __name__ == "__main__":
    main()
