"""One person, one inbox: how customer ids and e-mail addresses are compared.

* Two customer ids that differ only by letter case, whitespace (a trailing space, a
  no-break space) or Unicode form (full-width ``Ｙ1``, a decomposed ``é``) are the same
  key typed twice, not two people: :func:`ambiguous_ids` finds them in a whole extract
  and validation quarantines every such row (reason ``customer_id:ambiguous``).
  The id's comparison form is NFKC, without whitespace, case-folded.
* Two addresses are one inbox when they are equal after Unicode NFC, trimming and
  case-folding (:func:`inbox`): ``Shared@Example.com`` and ``shared@example.com``.
  (The local part is case-sensitive in RFC 5321 in theory; no mailbox provider a bank's
  customers use treats it so, and sending twice to one person is the worse error.)
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

_SPACE = re.compile(r"\s+")


@lru_cache(maxsize=65536)
def id_form(customer_id: str) -> str:
    """The comparison form of a customer id (NFKC, no whitespace, case-folded)."""
    return _SPACE.sub("", unicodedata.normalize("NFKC", customer_id)).casefold()


@lru_cache(maxsize=65536)
def _inbox(address: str) -> str:
    return unicodedata.normalize("NFC", address).strip().casefold()


def inbox(address: object) -> str:
    """The comparison form of an address (NFC, trimmed, case-folded); ``""`` for none."""
    if address is None or address != address:  # None or NaN
        return ""
    return _inbox(str(address))


def inboxes(addresses) -> list[str]:
    """:func:`inbox` of each value of a column or list."""
    return [inbox(a) for a in addresses]


def ambiguous_ids(ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Every distinct customer_id whose comparison form another distinct id shares.

    Distinct values only (an exact repeat is ``customer_id:duplicate``, not this).
    ASCII ids (nearly all) are folded in Arrow (lower case, whitespace removed);
    only the others go through Python's NFKC.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    distinct = pc.unique(ids.drop_null() if isinstance(ids, pa.ChunkedArray) else pc.drop_null(ids))
    if isinstance(distinct, pa.ChunkedArray):
        distinct = distinct.combine_chunks()
    distinct = distinct.cast(pa.large_string())
    ascii_ = pc.string_is_ascii(distinct)
    folded = pc.replace_substring_regex(pc.ascii_lower(distinct), r"\s+", "")
    other = pc.filter(distinct, pc.invert(ascii_)).to_pylist()
    if other:
        # In the order of the mask's true positions, as replace_with_mask takes them.
        forms = pa.array([id_form(v) for v in other], pa.large_string())
        folded = pc.replace_with_mask(folded, pc.invert(ascii_), forms)
    counts = pc.value_counts(folded)
    shared = counts.field("values").filter(pc.greater(counts.field("counts"), 1))
    return pc.filter(distinct, pc.is_in(folded, value_set=shared))
