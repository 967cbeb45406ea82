"""Deterministic large CRM extracts for the benchmarks, generated vectorised (numpy)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

LOCALES = np.array(["en", "en-GB", "fi", "fi-FI", "et", "zh-CN"])
ZONES = np.array(["Europe/London", "America/New_York", "Europe/Helsinki", "Europe/Tallinn",
                  "Asia/Shanghai", "Pacific/Auckland"])
MARITAL = np.array(["single", "married", "partnered", "divorced", "widowed", ""])
EMPLOYMENT = np.array(["employed", "self_employed", "student", "unemployed", "retired", ""])


def _dates(rng, n, start: str, end: str) -> np.ndarray:
    lo, hi = np.datetime64(start), np.datetime64(end)
    days = rng.integers(0, int((hi - lo).astype(int)), n)
    return (lo + days.astype("timedelta64[D]")).astype(str)


def frame(n: int, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 1, bad_share: float = 0.01,
          start: int = 0) -> pd.DataFrame:
    """``n`` customers (numbered from ``start``) as an extract frame of strings; about ``bad_share`` rows are invalid."""
    rng = np.random.default_rng(seed)
    ids = np.char.add("C", np.arange(start, start + n).astype(str))
    df = pd.DataFrame({
        "customer_id": ids,
        "first_name": rng.choice(np.array(["Aino", "Bob", "李娜", "Jüri", "O'Brien"]), n),
        "last_name": rng.choice(np.array(["Smith", "Tamm", ""]), n),
        "email": np.char.add(np.char.add("c", np.arange(start, start + n).astype(str)), "@example.com"),
        "locale": rng.choice(LOCALES, n),
        "timezone": rng.choice(ZONES, n),
        "date_of_birth": _dates(rng, n, "1930-01-01", "2006-01-01"),
        "customer_since": _dates(rng, n, "2000-01-01", str(as_of)),
        "marital_status": rng.choice(MARITAL, n),
        "wedding_date": np.where(rng.random(n) < 0.4, _dates(rng, n, "2007-01-01", str(as_of)), ""),
        "employment_status": rng.choice(EMPLOYMENT, n),
        "retirement_date": np.where(rng.random(n) < 0.05, _dates(rng, n, "2020-01-01", "2030-01-01"), ""),
        "graduation_date": np.where(rng.random(n) < 0.05, _dates(rng, n, "2020-01-01", "2030-01-01"), ""),
        "children_count": rng.integers(0, 4, n).astype(str),
        "marketing_opt_in": rng.choice(np.array(["true", "false", "yes", "1"]), n),
        "deceased": rng.choice(np.array(["false", "", "0"]), n),
        "updated_at": f"{as_of}T06:00:00Z",
    })
    bad = np.flatnonzero(rng.random(n) < bad_share)
    spoiled: dict[str, set[str]] = {}
    for rows, (column, value, reason) in zip(np.array_split(bad, len(SPOILERS)), SPOILERS, strict=True):
        df.loc[rows, column] = value
        for cid in ids[rows]:
            spoiled.setdefault(cid, set()).add(reason)
    # Random birth dates can hit an export placeholder (1970-01-01) by chance: invalid too.
    for cid in ids[np.isin(df["date_of_birth"].to_numpy(dtype=str), ("1900-01-01", "1970-01-01"))]:
        spoiled.setdefault(cid, set()).add("date_of_birth:placeholder")
    df.index = pd.RangeIndex(start, start + n)
    df.attrs["spoiled"] = spoiled
    return df


#: How rows are spoiled: (column, value, the one reason validation must give the row).
SPOILERS = [
    ("email", "not-an-email", "email:invalid"),
    ("date_of_birth", "1970-01-01", "date_of_birth:placeholder"),
    ("timezone", "Mars/Olympus", "timezone:unknown"),
    ("marketing_opt_in", "maybe", "marketing_opt_in:not_boolean"),
    ("date_of_birth", "2031-02-30", "date_of_birth:unparseable"),
]


def spoiled_rows(n: int, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 1) -> dict[str, set[str]]:
    """{customer_id: reasons} of the invalid rows :func:`write_csv` writes (spoiled on purpose or by chance)."""
    return frame(n, as_of, seed).attrs["spoiled"]


def previous_of(current: pd.DataFrame) -> pd.DataFrame:
    """Yesterday's extract of the same customers: one in 500 was single and a student then."""
    prev = current.copy()
    flip = prev.index % 500 == 0
    prev.loc[flip, "marital_status"] = "single"
    prev.loc[flip, "employment_status"] = "student"
    return prev


def write_pair(n: int, out_dir: Path, as_of: dt.date = dt.date(2026, 11, 22), chunk: int = 1_000_000,
               seed: int = 1) -> tuple[Path, Path]:
    """Today's and yesterday's extract of ``n`` customers, written a chunk at a time (any ``n`` fits memory)."""
    out_dir = Path(out_dir)
    current = out_dir / f"customers_{as_of}.csv"
    previous = out_dir / f"customers_{as_of - dt.timedelta(days=1)}.csv"
    if current.exists() and previous.exists():
        return current, previous
    out_dir.mkdir(parents=True, exist_ok=True)
    for k, start in enumerate(range(0, n, chunk)):
        today = frame(min(chunk, n - start), as_of, seed=seed + k, start=start)
        mode, header = ("w", True) if k == 0 else ("a", False)
        today.to_csv(current, index=False, mode=mode, header=header)
        previous_of(today).to_csv(previous, index=False, mode=mode, header=header)
    return current, previous


def write_csv(n: int, out_dir: Path, as_of: dt.date = dt.date(2026, 11, 22), seed: int = 1) -> Path:
    path = Path(out_dir) / f"customers_{as_of}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        frame(n, as_of, seed).to_csv(path, index=False)
    return path
