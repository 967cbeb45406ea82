"""Rendering throughput: milestones' renderer against bare Jinja2 on the same templates.

Renders ``--count`` emails (subject + HTML + text) for a mix of event types,
locales and sample names, in ``--repeats`` interleaved rounds, and prints the
median rate of each side and their ratio, then checks that both give the same
emails (the first 1,000: subject, text and HTML; exit 1 when they differ).  Goal: the renderer (sandbox,
StrictUndefined, locale fallback, Babel filters, inlined CSS, one-line
subjects) keeps at least 70% of the bare rate.

"Bare" is a plain ``jinja2.Environment`` (autoescape on, no sandbox, default
Undefined) rendering the same three template files per email with the same
context, the locale already resolved, and its compiled templates held in a
dict: what a hand-written loop with no safety nets would do. Each round builds
a fresh one of each; the renderer's loads its compiled templates from Jinja's
bytecode cache (as every process does after the first), bare Jinja2 compiles
them, which counts in small runs.

    .venv/bin/python benchmarks/render.py              # 100,000 emails
    .venv/bin/python benchmarks/render.py --count 2000 # smoke run
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import itertools
import json
import resource
import statistics
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

import jinja2  # noqa: E402

from milestones.render.catalog import load_catalog  # noqa: E402
from milestones.render.names import display_name  # noqa: E402
from milestones.render.rendering import (  # noqa: E402
    FILTERS,
    SUFFIX,
    Renderer,
    babel_locale,
    email_context,
    one_line,
)

TEMPLATES = ROOT / "templates"
SAMPLES = ROOT / "plugins" / "milestones" / "samples"
EVENTS = [("birthday", 37, 0), ("birthday", 50, 50), ("wedding_anniversary", 25, 25), ("retirement", 0, 0),
          ("marriage", 0, 0), ("graduation", 0, 0), ("new_child", 0, 0), ("customer_anniversary", 5, 5)]


def workload(count: int) -> list[tuple[str, str, dict]]:
    """``count`` (event type, customer locale, context) triples cycling through the samples."""
    with (SAMPLES / "customers_2026-11-22.csv").open(encoding="utf-8", newline="") as fh:
        people = [r for r in csv.DictReader(fh) if r["first_name"] and r["customer_since"][:2] in ("19", "20")]
    mix = itertools.cycle(itertools.product(people[:60], EVENTS))
    out = []
    for n, (person, (event_type, years, milestone)) in zip(range(count), mix, strict=False):
        locale = person["locale"] or "en"
        event = {"event_type": event_type, "event_date": dt.date(2026, 11, 22), "years": years, "milestone": milestone}
        ctx = email_context(person, event, unsubscribe_url=f"https://milestones.example/unsubscribe?k={n}",
                            locale=locale)
        out.append((event_type, locale, ctx))
    return out


def ours(work) -> float:
    """Emails per second through :class:`Renderer` (a fresh one, as each batch builds)."""
    start = time.perf_counter()
    renderer = Renderer(TEMPLATES)
    for event_type, locale, ctx in work:
        renderer.render(event_type, locale, ctx)
    return len(work) / (time.perf_counter() - start)


def bare_context(ctx: dict, locale: str, chosen: str) -> dict:
    """What Renderer.render adds to an email's context: the Babel locale and the name per language."""
    person = ctx["customer"]
    return {**ctx, "babel_locale": babel_locale(locale, chosen), "template_locale": chosen,
            "display_name": display_name(person["first_name"], person["last_name"], chosen)}


def bare(work) -> float:
    """Emails per second through a plain Jinja2 environment on the same files."""
    catalog = load_catalog(TEMPLATES)
    start = time.perf_counter()
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals["assets_url"] = catalog.assets_url
    compiled: dict[tuple[str, str], tuple] = {}
    for event_type, locale, ctx in work:
        chosen = locale.split("-")[0]
        key = (event_type, chosen)
        if key not in compiled:
            compiled[key] = tuple(env.get_template(f"{event_type}/{chosen}.{SUFFIX[p]}")
                                  for p in ("subject", "html", "text"))
        full = bare_context(ctx, locale, chosen)
        for template in compiled[key]:
            template.render(full)
    return len(work) / (time.perf_counter() - start)


class Canonical(HTMLParser):
    """An HTML document as (tag, attributes, text) events: serialisation details aside
    (attribute order, spaces inside style declarations, character references, whitespace)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.events: list[tuple] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        if tag == "body":  # the inliner adds the <body> HTML implies; the renderer keeps a layout without one
            return
        norm = {}
        for name, value in attrs:
            if name == "style" and value:
                value = tuple(sorted(" ".join(d.split()).replace(": ", ":") for d in value.split(";") if d.strip()))
            norm[name] = value
        self.events.append(("start", tag, tuple(sorted(norm.items(), key=str))))

    def handle_endtag(self, tag):
        if tag != "body":
            self.events.append(("end", tag))

    def handle_data(self, data):
        if data.split():
            self.events.append(("text", " ".join(data.split())))


def check_outputs(work, limit: int = 1000) -> list[str]:
    """The renderer's emails equal bare Jinja2's for the same templates and context, after the
    documented transforms only: the subject on one line, the text part stripped with one final
    newline, the HTML with the layout's CSS inlined (done per email here, with css-inline)."""
    import css_inline

    catalog = load_catalog(TEMPLATES)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(enabled_extensions=("html",)),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    env.globals["assets_url"] = catalog.assets_url
    inliner = css_inline.CSSInliner(keep_at_rules=True)
    renderer = Renderer(TEMPLATES)
    wrong = []
    for n, (event_type, locale, ctx) in enumerate(work[:limit]):
        chosen = locale.split("-")[0]
        full = bare_context(ctx, locale, chosen)
        subject, html, text = (env.get_template(f"{event_type}/{chosen}.{SUFFIX[p]}").render(full)
                               for p in ("subject", "html", "text"))
        got = renderer.render(event_type, locale, ctx)
        for part, same in (("locale", got.locale == chosen), ("subject", got.subject == one_line(subject)),
                           ("text", got.text == text.strip() + "\n"),
                           ("html", Canonical(got.html).events == Canonical(inliner.inline(html)).events)):
            if not same:
                wrong.append(f"email {n} ({event_type}/{locale}): {part} differs from bare Jinja2's")
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="emails per side per run (default 100,000)")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds; medians reported")
    args = parser.parse_args(argv)

    per_round = max(1, args.count // args.repeats)
    work = workload(per_round)
    ours(work[:200]), bare(work[:200])  # warm Babel and import caches for both sides alike
    rates: dict[str, list[float]] = {"milestones": [], "bare_jinja2": []}
    for _ in range(args.repeats):
        rates["bare_jinja2"].append(bare(work))
        rates["milestones"].append(ours(work))
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "emails_per_side": per_round * args.repeats,
        "rounds": args.repeats,
        "milestones_per_s_median": round(med["milestones"]),
        "bare_jinja2_per_s_median": round(med["bare_jinja2"]),
        "ratio": round(med["milestones"] / med["bare_jinja2"], 3),
        "goal_ratio": 0.70,
        "rounds_per_s": {k: [round(x) for x in v] for k, v in rates.items()},
        "load": " ".join(open("/proc/loadavg").read().split()[:3]),
        # This process's: the generated workload and both renderers together.
        "peak_rss_mb_whole_process": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    result["goal_met"] = result["ratio"] >= result["goal_ratio"]
    wrong = check_outputs(work)
    result["same_output_as_bare_jinja2"] = {"emails_compared": min(len(work), 1000), "equal": not wrong}
    print(json.dumps(result, indent=2))
    if wrong:
        print("WRONG: " + "\n  ".join(wrong[:10]), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
