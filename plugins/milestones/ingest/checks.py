"""Vectorised value checks too rich for a regex: e-mail addresses, locales, time zones.

Each function takes an Arrow string column and returns the values that FAIL
(the rest null), so that GX can check "this helper column is null" and
report the failing rows.  The verdicts are exactly those of the real
validators (email-validator, Babel); the speed comes from asking them once per
distinct value, and, for e-mail, from a fast path that is a provable subset of
what email-validator accepts.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

# RFC 5322 dot-atom local part, ASCII only: email-validator accepts every such
# local part of at most 64 characters (tests/unit/test_validation.py holds it to that).
_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_FAST = rf"^(?P<local>{_DOT_ATOM})@(?P<domain>[A-Za-z0-9.-]+)$"


@lru_cache(maxsize=65536)
def email_problem(address: str) -> str | None:
    """email-validator's verdict on one address (syntax only, no DNS): None if valid."""
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        return str(exc)
    return None


@lru_cache(maxsize=65536)
def _domain_ok(domain: str) -> bool:
    return email_problem(f"a@{domain}") is None


def invalid_emails(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """The addresses email-validator rejects (others missing), checked once per distinct value.

    Arrow's RE2 splits every address into local part and domain in one pass; an
    address on the fast path (dot-atom local part <= 64 chars, total <= 254,
    domain accepted by email-validator) is valid; every other distinct address
    goes to email-validator itself.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(arr, _FAST)
    local, domain = pc.struct_field(parts, "local"), pc.struct_field(parts, "domain")
    fast = pc.and_kleene(pc.less_equal(pc.utf8_length(local), 64),
                         pc.less_equal(pc.utf8_length(arr), 254))
    good_domains = pa.array([d for d in pc.unique(domain.filter(fast)).to_pylist() if _domain_ok(d)],
                            type=pa.large_string())
    fast = pc.fill_null(pc.and_kleene(fast, pc.is_in(domain, value_set=good_domains)), False)
    slow = pc.and_(pc.invert(fast), pc.is_valid(arr))
    bad_values = [v for v in pc.unique(arr.filter(slow)).to_pylist() if email_problem(v) is not None]
    bad = pc.fill_null(pc.and_(slow, pc.is_in(arr, value_set=pa.array(bad_values, type=pa.large_string()))), False)
    return keep_where(bad, arr)


def non_ascii_emails(arr: pa.ChunkedArray, invalid: pa.ChunkedArray) -> pa.ChunkedArray:
    """Valid addresses with a non-ASCII character (an internationalised domain or mailbox),
    others null. They are quarantined (``email:non_ascii``), not sent IDNA-encoded: SendGrid
    refuses them as given, and an address rewritten by us is not the one the CRM holds.
    ``invalid``: :func:`invalid_emails` of ``arr`` (an invalid address is only ``email:invalid``)."""
    import pyarrow.compute as pc

    wide = pc.invert(pc.fill_null(pc.string_is_ascii(arr), True))
    return keep_where(pc.and_(wide, pc.is_null(invalid)), arr)


@lru_cache(maxsize=4096)
def locale_known(tag: str) -> bool:
    """A BCP 47 tag Babel knows (``en``, ``fi-FI``, ``zh-CN``; ``_`` accepted too)."""
    from babel import Locale, UnknownLocaleError

    try:
        Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return False
    return True


def unknown_locales(locales: pa.ChunkedArray) -> pa.ChunkedArray:
    """The locale tags Babel does not know (others null)."""
    return failing_values(locales, locale_known)


#: IANA's geographic areas: a customer lives in a region's zone (``Europe/Helsinki``), or in UTC.
_REGIONS = re.compile(r"(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)/[A-Za-z0-9_+/-]+")


@lru_cache(maxsize=1)
def region_timezones() -> frozenset[str]:
    """The zones a customer may name: the database's region names and ``UTC``.

    Not ``localtime`` (whatever the host is set to), ``Factory``, POSIX-style rules
    (``EST5EDT``), fixed offsets (``Etc/GMT+5``, sign inverted) or the old aliases
    (``US/Eastern``) that ``zoneinfo`` also loads.
    """
    return frozenset(z for z in zoneinfo.available_timezones() if _REGIONS.fullmatch(z)) | {"UTC"}


def unknown_timezones(zones: pa.ChunkedArray) -> pa.ChunkedArray:
    """The time zone names that are not IANA region names (or UTC) (others null)."""
    return failing_values(zones, region_timezones().__contains__)


# Characters no name or id may hold: C0/C1 controls (NUL, CR, LF, tab...), line and paragraph
# separators, bidi embeddings/overrides/isolates and marks, zero-width space, word joiner and
# invisible operators, BOM. Zero-width (non-)joiners stay: emoji and several scripts need them.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e"
                      "\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb]")
# What str.isspace() calls space, plus invisible format characters and the Hangul filler.
_INVISIBLE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
              "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
              "\u200b\u200c\u200d\u2060\ufeff\u3164")


def text_problem(value: str, max_length: int) -> str | None:
    """Why ``value`` cannot be a name or id (``control_characters``, ``blank``, ``too_long``), or None."""
    if _CONTROL.search(value):
        return "control_characters"
    if not value.strip(_INVISIBLE):
        return "blank"
    if len(value) > max_length:
        return "too_long"
    return None


def text_problems(column: pa.ChunkedArray, max_length: int) -> pa.ChunkedArray:
    """Per row, what is wrong with a name or id: ``control_characters``, ``blank``, ``too_long``, else null.

    A kind, never the value: GX's Data Docs then list kinds, not personal data.
    Short printable ASCII (most values) is judged by Arrow kernels alone; every
    other distinct value is asked of :func:`text_problem` once.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    plain = pc.fill_null(pc.and_(pc.ascii_is_printable(column),
                                 pc.less_equal(pc.binary_length(column), max_length)), True)
    odd = pc.unique(column.filter(pc.invert(plain))).to_pylist()
    verdicts = {v: kind for v in odd if v is not None and (kind := text_problem(v, max_length))}
    found = pc.take(pa.array(list(verdicts.values()), pa.large_string()),
                    pc.index_in(column, value_set=pa.array(list(verdicts), column.type)))
    blank = pc.fill_null(pc.and_(plain, pc.ascii_is_space(column)), False)
    cases = pc.make_struct(pc.is_valid(found), blank, field_names=["found", "blank"])
    return pc.case_when(cases, found, pa.scalar("blank", pa.large_string()))


def failing_values(column: pa.ChunkedArray, ok: Callable[[str], bool]) -> pa.ChunkedArray:
    """``column``'s values that ``ok`` rejects (others null), ``ok`` asked once per distinct value."""
    import pyarrow as pa
    import pyarrow.compute as pc

    bad = [v for v in pc.unique(column).to_pylist() if v is not None and not ok(v)]
    return keep_where(pc.is_in(column, value_set=pa.array(bad, type=column.type)), column)


def keep_where(mask, values):
    """``values`` where ``mask`` is true, null elsewhere (a null mask counts as false)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.if_else(pc.fill_null(mask, False), values, pa.scalar(None, values.type))
