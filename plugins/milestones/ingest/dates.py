"""Exact ``YYYY-MM-DD`` dates, vectorised in Arrow: the parsers the rules and extract profiles share."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from milestones.ingest.checks import keep_where

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa


def parse_dates(raw: pa.ChunkedArray) -> pa.ChunkedArray:
    """``YYYY-MM-DD`` strings to ``timestamp[s]``, null where the text is not exactly a real date.

    Each distinct text is parsed once (a million birth dates hold ~30,000
    distinct days): :func:`parse_exact` on the dictionary, then a take.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    chunks = []
    for chunk in raw.chunks:
        encoded = pc.dictionary_encode(chunk)
        parsed = parse_exact(pa.chunked_array([encoded.dictionary], type=raw.type))
        chunks.append(parsed.combine_chunks().take(encoded.indices))
    return pa.chunked_array(chunks, type=pa.timestamp("s"))


def parse_exact(raw: pa.ChunkedArray) -> pa.ChunkedArray:
    """The rules for one date text, applied to each value of ``raw``.

    Arrow's ``strptime`` takes ``1980-5-17`` and `` 1980-05-17``, which the format
    regex rejects, and rolls 1980-02-30 over to 1980-03-01, which the day read
    back from the date rejects. Year 0 (which no calendar library can represent)
    is rejected too.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parsed = pc.strptime(raw, format="%Y-%m-%d", unit="s", error_is_null=True)
    day = pc.utf8_lpad(pc.cast(pc.day(parsed), pa.large_string()), 2, "0")
    exact = pc.and_(pc.and_(pc.match_substring_regex(raw, r"^\d{4}-\d{2}-\d{2}$"),
                            pc.equal(day, pc.utf8_slice_codeunits(raw, 8, 10))),
                    pc.greater_equal(parsed, pa.scalar(dt.datetime(1, 1, 1), pa.timestamp("s"))))
    return keep_where(exact, parsed)


def ns_range(parsed: pa.ChunkedArray) -> pa.ChunkedArray:
    """Clamp into ``datetime64[ns]``'s range (years 1678-2261) for GX's vectorised comparisons.

    Every bound the rules compare with lies well inside it, so a clamped
    0001-01-01 birth date is still too old and 9999-12-31 still in the future.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    low = pa.scalar(dt.datetime(1678, 1, 1), pa.timestamp("s"))
    high = pa.scalar(dt.datetime(2261, 12, 31), pa.timestamp("s"))
    clamped = pc.min_element_wise(pc.max_element_wise(parsed, low, skip_nulls=False), high, skip_nulls=False)
    return pc.cast(clamped, pa.timestamp("ns"))


def years_from(day: dt.date, years: int) -> dt.date:
    """``day`` moved by whole years (29 February -> 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)
