"""Charts of the results page, drawn by matplotlib as inline SVG (no scripts, no CDN).

Text stays text in the SVG (``svg.fonttype: none``), so labels are readable, searchable
and scale; legends sit outside the plot area with their full labels, date axes use
matplotlib's concise date labels, and long category names are drawn horizontally.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from milestones.measure.uplift import SIGNIFICANT_DECREASE

PALETTE = {"detected": "#6b7785", "holdout": "#d08c2f", "contacted": "#2f5d62", "delivered": "#5e8c61",
           "opened": "#3e8ed0", "clicked": "#7b4fa0", "unsubscribed": "#c0504d"}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "milestones", "font.size": 11,
                         "font.family": "sans-serif", "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _svg(fig) -> str:
    plt = _pyplot()
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = out.getvalue()
    return text[text.index("<svg"):]


def lift_chart(rows: Sequence[dict[str, Any]], title: str) -> str:
    """Lift (points) per group with its 95% interval as error bars; groups without a comparison are listed."""
    plt = _pyplot()
    shown = [r for r in rows if r.get("lift") is not None]
    fig, ax = plt.subplots(figsize=(7.5, 0.55 * max(len(shown), 1) + 1.4))
    if shown:
        names = [str(r["group"]) for r in shown][::-1]
        lift = [100 * r["lift"] for r in shown][::-1]
        low = [100 * (r["lift"] - r["lift_ci_low"]) for r in shown][::-1]
        high = [100 * (r["lift_ci_high"] - r["lift"]) for r in shown][::-1]
        palette = {"significant": "#2f5d62", SIGNIFICANT_DECREASE: "#b3261e"}
        colors = [palette.get(r["verdict"], "#9aa5b1") for r in shown][::-1]
        ax.errorbar(lift, range(len(names)), xerr=[low, high], fmt="none", ecolor="#444", capsize=4, lw=1.2)
        ax.scatter(lift, range(len(names)), c=colors, s=42, zorder=3)
        ax.set_yticks(range(len(names)), names)
        ax.axvline(0, color="#c0504d", lw=1, ls="--")
        ax.set_xlabel("lift in conversion rate, points (contacted minus held out), 95% interval")
    else:
        ax.text(0.5, 0.5, "no group has both contacted and held-out customers yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title(title, loc="left")
    return _svg(fig)


def trend_chart(frame, series: Sequence[str], title: str, ylabel: str) -> str:
    """Counts over time: ``frame`` indexed by date (datetime), one column per series.

    The x axis spans exactly the days of the data (half a day of margin each side): a few
    days are drawn as grouped bars labelled by date, longer spans as lines with concise date
    labels, never an axis of empty years around one day.
    """
    import matplotlib.dates as mdates
    import numpy as np
    import pandas as pd

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3.6))
    if len(frame) and len(frame) <= 7:
        x = np.arange(len(frame))
        width = 0.8 / len(series)
        for i, name in enumerate(series):
            ax.bar(x + (i - (len(series) - 1) / 2) * width, frame[name], width=width, label=name,
                   color=PALETTE.get(name))
        ax.set_xticks(x, [pd.Timestamp(d).strftime("%Y-%m-%d") for d in frame.index])
        ax.set_xlim(-0.5, len(frame) - 0.5)
    elif len(frame):
        for name in series:
            ax.plot(frame.index, frame[name], label=name, color=PALETTE.get(name), lw=1.6,
                    marker="o" if len(frame) < 20 else None, ms=4)
        locator = mdates.AutoDateLocator(maxticks=8)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        half = pd.Timedelta(hours=12)
        ax.set_xlim(frame.index.min() - half, frame.index.max() + half)
    else:
        ax.text(0.5, 0.5, "no runs yet", ha="center", va="center", transform=ax.transAxes)
    if len(frame):
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        ax.set_ylim(bottom=0)
    ax.set_ylabel(ylabel)
    ax.set_title(title, loc="left")
    ax.grid(axis="y", color="#e5e5e5")
    return _svg(fig)


def rate_bars(labels: Sequence[str], rates: dict[str, Sequence[float]], title: str) -> str:
    """Horizontal grouped bars of rates (per cent) per label, e.g. open and click rate per variant."""
    import numpy as np

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 0.7 * max(len(labels), 1) + 1.4))
    height = 0.8 / max(len(rates), 1)
    y = np.arange(len(labels))
    for i, (name, values) in enumerate(rates.items()):
        ax.barh(y + i * height, [100 * v for v in values], height=height, label=name, color=PALETTE.get(name))
    ax.set_yticks(y + height * (len(rates) - 1) / 2, list(labels))
    ax.invert_yaxis()
    ax.set_xlabel("per cent of contacted customers")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_title(title, loc="left")
    return _svg(fig)
