"""GX's view of one chunk: the raw columns the rules read plus parsed helper columns.

Values that need parsing (dates, booleans, e-mail addresses, locales) are
parsed once, vectorised in Arrow, into helper columns that hold the offending
raw value where a row fails and null elsewhere; GX checks those. The helpers
are computed on a thread pool while GX checks the raw columns (:class:`Prepared`).
:func:`normalise` turns the rows kept into their typed form for the snapshot.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING

from milestones.core.contract import ALL_COLUMNS, BOOLEAN_COLUMNS, DATE_COLUMNS, TRUE_LITERALS
from milestones.ingest.checks import (
    invalid_emails,
    keep_where,
    non_ascii_emails,
    text_problems,
    unknown_locales,
    unknown_timezones,
)
from milestones.ingest.dates import ns_range, parse_dates, years_from
from milestones.ingest.extract import to_pandas
from milestones.ingest.identity import ambiguous_ids, distinct_and_repeated
from milestones.ingest.rules import CATEGORY_COLUMNS, DATE_BOUNDS, PLACEHOLDER_DATES, TEXT_LIMITS

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa


def repeated_ids(ids: pa.ChunkedArray) -> pa.Array:
    """Every customer_id occurring more than once in the whole extract (all copies are quarantined)."""
    return distinct_and_repeated(ids)[1]


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.large_string())])


class Prepared:
    """One chunk as GX sees it, its helper columns still being computed in the background.

    :meth:`frame` hands GX the columns of one batch as soon as those are ready,
    so GX (Python, holding the GIL) checks the raw columns while Arrow kernels
    (which release it) compute the parsed ones on the other core.
    """

    def __init__(self, ready: dict[str, pa.ChunkedArray], pending: list[Future], first_row: int):
        self._ready = ready
        self._pending = pending
        self.first_row = first_row

    def column(self, name: str) -> pa.ChunkedArray:
        while name not in self._ready and self._pending:
            # Completion order is not submission order: look at what is done first.
            done = next((f for f in self._pending if f.done()), self._pending[0])
            self._pending.remove(done)
            self._ready.update(done.result())
        return self._ready[name]

    def frame(self, columns: list[str]) -> pd.DataFrame:
        """``columns`` as a pandas frame indexed by row position in the whole extract.

        Large strings: pandas' Arrow-backed strings use them, so raw columns
        are not copied. Helper columns are made one Arrow chunk (GX takes each
        failing row out of every column per expectation, and Arrow takes rows
        from one chunk several times faster than from many); mostly null, they
        copy little.
        """
        import pandas as pd
        import pyarrow as pa

        table = pa.table({name: self._for_gx(name) for name in columns})
        frame = to_pandas(table)
        frame.index = pd.RangeIndex(self.first_row, self.first_row + table.num_rows)
        return frame

    def _for_gx(self, name: str):
        import pyarrow as pa
        import pyarrow.compute as pc

        column = self.column(name)
        if name.startswith("_") and pa.types.is_large_string(column.type):
            # A helper holding the offending values (mostly null): as categories,
            # GX's null checks and row filters work on small integer codes.
            return pc.dictionary_encode(column.combine_chunks())
        return column.combine_chunks() if name.startswith("_") else column

    def parsed(self) -> tuple[dict[str, pa.ChunkedArray], dict[str, pa.ChunkedArray]]:
        """The typed values for the snapshot: ``({date column: timestamps}, {boolean column: lowered})``."""
        dates = {name: self.column(f"{name}:parsed") for name in DATE_COLUMNS}
        return dates, {name: self.column(f"{name}:lower") for name in BOOLEAN_COLUMNS}


def _date_helpers(name: str, raw: pa.ChunkedArray, as_of: dt.date) -> dict[str, pa.ChunkedArray]:
    """The parsed date (under ``name:parsed``) and the helper columns the date rules check."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parsed = parse_dates(raw)
    placeholder = pc.is_in(raw, value_set=pa.array(PLACEHOLDER_DATES, pa.large_string()))
    helpers = {
        f"{name}:parsed": parsed,
        f"_{name}": ns_range(parsed),
        f"_{name}_bad": keep_where(pc.and_(pc.is_valid(raw), pc.is_null(parsed)), raw),
        f"_{name}_placeholder": keep_where(placeholder, raw),
    }
    if name in DATE_BOUNDS:
        back, ahead = DATE_BOUNDS[name]
        low, high = (pa.scalar(dt.datetime.combine(years_from(as_of, n), dt.time()), pa.timestamp("s"))
                     for n in (-back, ahead or 0))
        outside = pc.less(parsed, low) if ahead is None else pc.or_(pc.less(parsed, low), pc.greater(parsed, high))
        helpers[f"_{name}_out_of_range"] = keep_where(outside, raw)
    return helpers


def _boolean_helpers(name: str, raw: pa.ChunkedArray) -> dict[str, pa.ChunkedArray]:
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(raw)
    return {f"{name}:lower": lowered, f"_{name}_lower": pc.dictionary_encode(lowered)}


def prepare(table: pa.Table, repeated: Callable[[], pa.Array], pool: Executor,
            first_row: int = 0, *, as_of: dt.date,
            ambiguous: Callable[[], pa.Array] | None = None) -> Prepared:
    """GX's view of a chunk: the raw columns the rules read plus parsed helper columns.

    Helper columns hold the offending raw value where a row fails and are null
    elsewhere, so GX's null checks on them name the bad value in Data Docs.
    ``repeated`` returns the ids repeated in the whole extract (:func:`repeated_ids`;
    it may still be computing when this starts).

    The helpers are independent Arrow kernels, which release the GIL: they are
    computed on ``pool``'s threads, on all cores, while GX starts on the raw columns.
    """
    import pyarrow.compute as pc

    raw = {name: _column(table, name) for name in ALL_COLUMNS}
    ids = raw["customer_id"]
    jobs: list[Callable[[], dict[str, pa.ChunkedArray]]] = [
        lambda: {name: pc.dictionary_encode(raw[name]) for name in CATEGORY_COLUMNS},
        *(functools.partial(_boolean_helpers, name, raw[name]) for name in BOOLEAN_COLUMNS),
        *(functools.partial(_date_helpers, name, raw[name], as_of) for name in DATE_COLUMNS),
        *(functools.partial(lambda name, limit: {f"_{name}_problem": text_problems(raw[name], limit)},
                            name, limit) for name, limit in TEXT_LIMITS.items()),
        lambda: {"_email_invalid": (bad := invalid_emails(raw["email"])),
                 "_email_non_ascii": non_ascii_emails(raw["email"], bad)},
        lambda: {"_locale_unknown": unknown_locales(raw["locale"])},
        lambda: {"_timezone_unknown": unknown_timezones(raw["timezone"])},
        # Last: it waits for the whole-file repeated ids.
        lambda: {"_customer_id_repeated": keep_where(pc.is_in(ids, value_set=repeated()), ids)},
        # Ids one key typed differently (identity.py); over the whole file when given.
        lambda: {"_customer_id_ambiguous": keep_where(pc.is_in(ids, value_set=(
            ambiguous() if ambiguous else ambiguous_ids(ids))), ids)},
    ]
    # Category columns reach GX encoded (the first job), never as raw strings.
    ready = {name: column for name, column in raw.items() if name not in CATEGORY_COLUMNS}
    return Prepared(ready, [pool.submit(job) for job in jobs], first_row)


def normalise(table: pa.Table, prepared: Prepared, keep, pool: Executor) -> pa.Table:
    """The rows ``keep`` selects in their typed form: dates, booleans, counts as integers.

    Typed columns replace their raw strings before filtering, so each column
    is filtered once, in Arrow, the columns spread over ``pool``'s threads.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    dates, booleans = prepared.parsed()
    # Contract columns first, then the extract's unknown ones (kept, ignored), each looked
    # up once: Table.column(name) scans every name, quadratic with 20,000 extra columns.
    present = dict(zip(table.column_names, table.columns, strict=True))
    columns = {name: present[name] if name in present else _column(table, name) for name in ALL_COLUMNS}
    columns.update((name, column) for name, column in present.items() if name not in columns)
    columns.update(dates)
    columns.update({name: pc.is_in(lowered, value_set=pa.array(TRUE_LITERALS, pa.large_string()))
                    for name, lowered in booleans.items()})
    mask = pa.array(keep)
    out = pa.table(dict(zip(columns, pool.map(lambda column: column.filter(mask), columns.values()),
                            strict=True)))
    # Only valid rows reach the cast: their counts matched ^\d{1,3}$.
    count = out.column_names.index("children_count")
    return out.set_column(count, "children_count", pc.cast(out.column(count), pa.int64()))
