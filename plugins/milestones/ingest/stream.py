"""An extract read twice and never held whole: its customer ids first, then its rows in chunks.

Validation needs two things of a file: whole-file facts about one column (a customer id
repeated, or typed twice another way, anywhere in the file) and every row, checked a chunk
at a time. :func:`stream_mapped` reads the ``customer_id`` column alone (Arrow still parses,
and so checks, every row), then hands out the rows in chunks, mapped by the extract profile
as :func:`milestones.ingest.profiles.read_mapped` maps a whole file. A 10-million-row
extract is then held as its ids and one chunk (1.36 GB of CSV read whole took 4.6 GB).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from milestones.ingest.extract import read_chunks, read_header, read_table
from milestones.ingest.profiles import Profile, apply, load, mapped_column

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Iterator

    import pyarrow as pa


@dataclass
class Stream:
    """An extract in contract shape, read twice and never held whole.

    ``ids``: every row's customer id (mapped as the profile says), read first: the
    duplicate and ambiguous-id rules need the whole column. ``chunks`` then reads the
    file again, ``(table, source, errors)`` per chunk as :class:`milestones.ingest.profiles.Mapped` holds them for
    the whole file (``source`` and ``errors``: ``None`` when the file is the contract
    itself, and ``errors`` when no value failed).
    """

    ids: pa.ChunkedArray
    profile: Profile
    chunks: Iterator[tuple[pa.Table, pa.Table | None, pa.ChunkedArray | None]]

    @property
    def rows(self) -> int:
        """The file's data rows."""
        return len(self.ids)


def stream_mapped(path: Path | str, profile: Profile | str | None = None, *, chunk_rows: int,
                  follow_symlinks: bool = False) -> Stream:
    """:func:`milestones.ingest.profiles.read_mapped` in chunks of ``chunk_rows``: the ids are read (and the file checked) now.

    Memory holds the ids and a chunk. A fault the first reading did not meet (a value
    that is not UTF-8 in a column it skipped) comes as :class:`ExtractError` from
    ``chunks``, after the chunks before it.
    """
    profile = load(profile)
    path = Path(path)
    if profile.passthrough:
        ids = read_table(path, columns=["customer_id"], follow_symlinks=follow_symlinks).column("customer_id")
        chunks = ((chunk, None, None) for chunk in read_chunks(path, chunk_rows, follow_symlinks=follow_symlinks))
        return Stream(ids, profile, chunks)
    options = {"encoding": profile.encoding, "csv_options": profile.csv_options()}
    header = read_header(path, **options)
    profile.check_header(header, path.name)
    own = profile.columns["customer_id"].source
    # The id's own source column, or (an optional one the file lacks) any column, for the rows.
    first = read_table(path, columns=[own if own in header else header[0]], required=(),
                       follow_symlinks=follow_symlinks, **options)
    ids = mapped_column(profile, first, "customer_id")
    del first

    def chunks():
        for source in read_chunks(path, chunk_rows, follow_symlinks=follow_symlinks, **options):
            table, errors = apply(profile, source)
            yield table, source, errors

    return Stream(ids, profile, chunks())
