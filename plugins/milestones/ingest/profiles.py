"""Extract profiles: a CRM's own export mapped onto the extract contract, declared as YAML data.

A profile (one file per source, ``profiles/<name>.yaml``) says, for each contract
column, which source column holds it (or a constant default) and how its values
are read: trimming, an enum map, a date or datetime format, boolean literals and
their inversion for opt-out flags. It also declares the file's encoding and CSV
dialect. Source columns the profile does not name are ignored.

A profile is checked strictly when loaded (unknown keys, unknown transforms,
unknown contract columns) and against the file's header before any row is read
(a mapped column the file lacks): one :class:`ProfileError` naming every problem.

Mapping is vectorised (Arrow kernels over whole columns, dates once per distinct
text). A value a transform cannot read becomes missing in the mapped table and
its row gets a reason naming the profile and its format
(``date_of_birth:unparseable (profile hubspot: %m/%d/%Y)``); validation
quarantines that row with its original source values.
"""

from __future__ import annotations

import codecs
import datetime as dt
import os
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milestones.core.contract import ALL_COLUMNS, BOOLEAN_COLUMNS, DATE_COLUMNS, REQUIRED_COLUMNS
from milestones.ingest.errors import ExtractError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

#: Built-in profiles ship here; ``profiles_dir`` (setting) is searched first.
BUILTIN_DIR = Path(__file__).resolve().parents[3] / "profiles"
DEFAULT_PROFILE = "contract"
#: ISO 8601 date and time with a zone offset: 2015-03-03T10:00:00.000+0000, ...Z, ...+02:00.
ISO8601 = "iso8601"
_ISO_PATTERN = r"^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(?:\.\d{1,9})?(Z|[+-]\d{2}:?\d{2})$"
_UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|\+00:?00)$"
ENCODINGS = ("utf-8", "latin-1", "windows-1252", "iso-8859-15")
_TOP_KEYS = {"name", "description", "encoding", "csv", "trim", "columns"}
_CSV_KEYS = {"delimiter", "quote", "double_quote", "escape"}
_COLUMN_KEYS = {"from", "default", "optional", "trim", "map", "date", "datetime", "timezone", "boolean", "invert"}
TIMESTAMP_COLUMNS = ("updated_at",)


class ProfileError(ExtractError):
    """A profile that cannot be used, or does not fit the file: nothing is read."""


@dataclass(frozen=True)
class Column:
    """How one contract column is filled from the source."""

    target: str
    source: str | None = None
    default: str | None = None
    optional: bool = False
    trim: bool = False
    map: dict[str, str | None] | None = None
    date: str | None = None
    datetime: str | None = None
    timezone: str = "UTC"
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    invert: bool = False

    @property
    def transforms(self) -> list[str]:
        """The transforms applied, in order, as a human reads them."""
        out = ["trim"] if self.trim else []
        if self.default is not None:
            out.append(f"default {self.default!r}")
        if self.map:
            out.append(f"map ({len(self.map)} values)")
        if self.date:
            out.append(f"date {self.date}")
        if self.datetime:
            reads = "to UTC" if self.target in TIMESTAMP_COLUMNS else f"the day in {self.timezone}"
            out.append(f"datetime {self.datetime} ({reads})")
        if self.true_values:
            out.append(f"boolean true={'/'.join(self.true_values)} false={'/'.join(self.false_values)}")
        if self.invert:
            out.append("invert")
        return out

    @property
    def identity(self) -> bool:
        return self.source == self.target and not self.transforms


@dataclass(frozen=True)
class Profile:
    """One source's export: encoding, CSV dialect and the column mapping."""

    name: str
    description: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    double_quote: bool = True
    escape: str | None = None
    columns: dict[str, Column] = field(default_factory=dict)
    path: Path | None = None

    @property
    def passthrough(self) -> bool:
        """The contract itself: the file is read as it is (extra columns kept), no mapping."""
        return (self.encoding == "utf-8" and self.csv_options() == {} and len(self.columns) == len(ALL_COLUMNS)
                and all(c.identity and (c.optional or c.target in REQUIRED_COLUMNS) for c in self.columns.values()))

    def csv_options(self) -> dict[str, Any]:
        """Arrow ``ParseOptions`` differing from the contract's RFC 4180 dialect."""
        options = {"delimiter": self.delimiter, "quote_char": self.quote, "double_quote": self.double_quote,
                   "escape_char": self.escape or False}
        defaults = {"delimiter": ",", "quote_char": '"', "double_quote": True, "escape_char": False}
        return {k: v for k, v in options.items() if defaults[k] != v}

    def sources(self) -> list[str]:
        return [c.source for c in self.columns.values() if c.source]

    def check_header(self, header: list[str], file_name: str) -> None:
        """One error naming every mapped source column the file lacks (optional ones may be absent)."""
        present = set(header)
        missing = [f"{c.source!r} (for {c.target})" for c in self.columns.values()
                   if c.source and not c.optional and c.source not in present]
        if missing:
            raise ProfileError(f"{file_name}: profile {self.name!r} maps column(s) the file lacks: "
                               f"{', '.join(missing)}; columns found: {', '.join(header) or 'none'}")


# --- loading and checking ------------------------------------------------------------------

def _text(value: Any) -> str:
    """A YAML scalar as the text a CSV cell would hold (YAML reads true, 1, 2020-01-01 as typed)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _column(target: str, spec: Any, trim: bool, problems: list[str]) -> Column | None:
    where = f"columns.{target}"
    if target not in ALL_COLUMNS:
        problems.append(f"{where}: not a contract column (one of {', '.join(ALL_COLUMNS)})")
        return None
    if isinstance(spec, str):
        spec = {"from": spec}
    if not isinstance(spec, dict):
        problems.append(f"{where}: expected a source column name or a mapping")
        return None
    unknown = sorted(set(spec) - _COLUMN_KEYS)
    if unknown:
        problems.append(f"{where}: unknown transform(s) {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(sorted(_COLUMN_KEYS))})")
    if spec.get("from") is None and spec.get("default") is None:
        problems.append(f"{where}: needs 'from' (a source column) or 'default' (a constant)")
    kinds = [k for k in ("date", "datetime", "boolean") if spec.get(k) is not None]
    if len(kinds) > 1:
        problems.append(f"{where}: {' and '.join(kinds)} cannot be combined")
    if (spec.get("date") or spec.get("datetime")) and target not in DATE_COLUMNS + TIMESTAMP_COLUMNS:
        problems.append(f"{where}: date/datetime only apply to {', '.join(DATE_COLUMNS + TIMESTAMP_COLUMNS)}")
    if target in TIMESTAMP_COLUMNS and spec.get("date"):
        problems.append(f"{where}: a timestamp column takes 'datetime', not 'date'")
    for key in ("date", "datetime"):
        fmt = spec.get(key)
        if fmt is not None and (not isinstance(fmt, str) or (fmt != ISO8601 and "%" not in fmt)):
            problems.append(f"{where}.{key}: a strptime format such as '%m/%d/%Y', or 'iso8601'")
    if date_format := spec.get("date"):
        if date_format == ISO8601:
            spec = {**spec, "date": "%Y-%m-%d"}
        elif "%z" in str(date_format) or "%H" in str(date_format):
            problems.append(f"{where}.date: {date_format!r} holds a time; use 'datetime'")
    zone = spec.get("timezone", "UTC")
    if spec.get("timezone") is not None and not spec.get("datetime"):
        problems.append(f"{where}.timezone: only with 'datetime'")
    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        problems.append(f"{where}.timezone: {zone!r} is not an IANA time zone")
    true_values: tuple[str, ...] = ()
    false_values: tuple[str, ...] = ()
    boolean = spec.get("boolean")
    if isinstance(boolean, dict):  # YAML reads the keys true/false as booleans
        boolean = {_text(k): v for k, v in boolean.items()}
    if boolean is not None:
        if target not in BOOLEAN_COLUMNS:
            problems.append(f"{where}: boolean only applies to {', '.join(BOOLEAN_COLUMNS)}")
        if not isinstance(boolean, dict) or set(boolean) - {"true", "false"} or not boolean.get("true") \
                or not boolean.get("false"):
            problems.append(f"{where}.boolean: needs 'true' and 'false', each a list of literals")
        else:
            true_values = tuple(_text(v).lower() for v in boolean["true"])
            false_values = tuple(_text(v).lower() for v in boolean["false"])
            if set(true_values) & set(false_values):
                problems.append(f"{where}.boolean: a literal cannot be both true and false")
    if spec.get("invert") and boolean is None:
        problems.append(f"{where}.invert: needs 'boolean' (the literals to invert)")
    mapping = spec.get("map")
    if mapping is not None and not isinstance(mapping, dict):
        problems.append(f"{where}.map: expected source value: contract value pairs")
        mapping = None
    for key in ("optional", "trim", "invert"):
        if key in spec and not isinstance(spec[key], bool):
            problems.append(f"{where}.{key}: true or false")
    return Column(
        target=target, source=None if spec.get("from") is None else str(spec["from"]).strip(),
        default=None if spec.get("default") is None else _text(spec["default"]),
        optional=bool(spec.get("optional", False)), trim=bool(spec.get("trim", trim)),
        map={_text(k): None if v is None else _text(v) for k, v in mapping.items()} if mapping else None,
        date=None if spec.get("date") in (None, "%Y-%m-%d") else spec["date"],
        datetime=spec.get("datetime"), timezone=str(zone), true_values=true_values,
        false_values=false_values, invert=bool(spec.get("invert", False)))


def parse_profile(data: Any, name: str, path: Path | None = None) -> Profile:
    """A :class:`Profile` from the YAML's data; :class:`ProfileError` listing every problem."""
    where = str(path) if path else name
    if not isinstance(data, dict):
        raise ProfileError(f"profile {where}: expected a mapping with 'columns'")
    problems = [f"unknown key {k!r} (known: {', '.join(sorted(_TOP_KEYS))})" for k in sorted(set(data) - _TOP_KEYS)]
    encoding = str(data.get("encoding", "utf-8")).lower()
    try:
        canonical = codecs.lookup(encoding).name
    except LookupError:
        canonical = ""
    allowed = {codecs.lookup(e).name for e in ENCODINGS}
    if canonical not in allowed:
        problems.append(f"encoding: {encoding!r} is not one of {', '.join(ENCODINGS)}")
    dialect = data.get("csv") or {}
    if not isinstance(dialect, dict):
        problems.append("csv: expected delimiter/quote/double_quote/escape")
        dialect = {}
    problems += [f"csv: unknown key {k!r} (known: {', '.join(sorted(_CSV_KEYS))})"
                 for k in sorted(set(dialect) - _CSV_KEYS)]
    for key in ("delimiter", "quote", "escape"):
        value = dialect.get(key)
        if value is not None and (not isinstance(value, str) or len(value) != 1 or value in "\r\n"):
            problems.append(f"csv.{key}: one character, not a line break")
    columns_spec = data.get("columns")
    columns: dict[str, Column] = {}
    if not isinstance(columns_spec, dict) or not columns_spec:
        problems.append("columns: expected contract column: source mappings")
    else:
        for target, spec in columns_spec.items():
            column = _column(str(target), spec, bool(data.get("trim", False)), problems)
            if column:
                columns[column.target] = column
        missing = [c for c in REQUIRED_COLUMNS if c not in columns_spec]
        if missing:
            problems.append(f"columns: required contract column(s) not mapped: {', '.join(missing)}")
    if problems:
        raise ProfileError(f"profile {where}: " + "; ".join(problems))
    return Profile(name=str(data.get("name", name)), description=str(data.get("description", "")).strip(),
                   encoding="utf-8" if canonical == "utf-8" else encoding,
                   delimiter=dialect.get("delimiter", ","), quote=dialect.get("quote", '"'),
                   double_quote=bool(dialect.get("double_quote", True)), escape=dialect.get("escape"),
                   columns=columns, path=path)


def available(profiles_dir: Path | str | None = None) -> dict[str, Path]:
    """Every profile name and its file: ``profiles_dir`` first, then the built-in ones."""
    found: dict[str, Path] = {}
    for folder in (BUILTIN_DIR, Path(profiles_dir) if profiles_dir else None):
        if folder and folder.is_dir():
            found.update({p.stem: p for p in sorted(folder.glob("*.yaml"))})
    return found


def load(name: str | Profile | None = None, profiles_dir: Path | str | None = None) -> Profile:
    """The profile called ``name`` (default ``contract``), or one given as a path to its YAML file."""
    import yaml

    if isinstance(name, Profile):
        return name
    name = name or DEFAULT_PROFILE
    path = Path(name) if name.endswith((".yaml", ".yml")) else available(profiles_dir).get(name)
    if path is None or not path.is_file():
        known = ", ".join(sorted(available(profiles_dir)))
        raise ProfileError(f"no profile {name!r} (available: {known})")
    from milestones.ingest.gate import load_yaml

    try:  # through the file gate: a regular UTF-8 file of sane size, few aliases
        data = load_yaml(path)
    except yaml.YAMLError as exc:
        raise ProfileError(f"profile {path}: not valid YAML ({exc})") from None
    return parse_profile(data, path.stem, path)


def name_prefix(file_name: str) -> str | None:
    """``salesforce_customers_2026-11-22.csv`` -> ``salesforce``; ``None`` without a prefix."""
    from milestones.core.contract import FILENAME_PATTERN

    match = FILENAME_PATTERN.match(Path(file_name).name)
    return match.group("prefix") if match else None


def parse_rules(rules: str) -> dict[str, str]:
    """``"sf=salesforce, hs=hubspot"`` (setting ``extract_profile_rules``) -> {prefix: profile}."""
    out = {}
    for item in filter(None, (part.strip() for part in rules.split(","))):
        prefix, sep, profile = item.partition("=")
        if not sep or not prefix.strip() or not profile.strip():
            raise ProfileError(f"extract_profile_rules: {item!r} is not PREFIX=PROFILE")
        out[prefix.strip()] = profile.strip()
    return out


def select(extract: Path | str, settings, explicit: str | None = None) -> Profile:
    """The profile for ``extract``: ``explicit`` (--profile), else its name prefix's rule, else the setting."""
    name = explicit
    if not name:
        prefix = name_prefix(str(extract))
        rules = parse_rules(settings.extract_profile_rules)
        if prefix and prefix not in rules:
            raise ProfileError(f"{Path(extract).name}: no extract_profile_rules entry for prefix {prefix!r} "
                               f"(rules: {settings.extract_profile_rules or 'none'})")
        name = rules.get(prefix) if prefix else settings.extract_profile
    return load(name, settings.profiles_dir)


# --- reading and mapping -------------------------------------------------------------------

@dataclass
class Mapped:
    """An extract in contract shape, with what it came from.

    ``table``: contract columns as strings; ``source``: the file's own columns
    (the quarantine keeps these), ``None`` when the file is the contract itself;
    ``errors``: per row, the reasons a transform could not read a value (null: none).
    """

    table: pa.Table
    profile: Profile
    source: pa.Table | None = None
    errors: pa.ChunkedArray | None = None


def read_mapped(path: Path | str, profile: Profile | str | None = None) -> Mapped:
    """Read ``path`` whole as ``profile`` declares it and map it onto the contract.

    The header is checked against the profile before any row is read. Validation reads a
    file in chunks instead (:func:`milestones.ingest.stream.stream_mapped`).
    """
    from milestones.ingest.extract import read_header, read_table

    profile = load(profile)
    path = Path(path)
    if profile.passthrough:
        return Mapped(read_table(path), profile)
    header = read_header(path, encoding=profile.encoding, csv_options=profile.csv_options())
    profile.check_header(header, path.name)
    source = read_table(path, encoding=profile.encoding, csv_options=profile.csv_options(), required=())
    table, errors = apply(profile, source)
    return Mapped(table, profile, source, errors)


def apply(profile: Profile, source: pa.Table) -> tuple[pa.Table, pa.ChunkedArray | None]:
    """``source`` mapped onto the contract's columns, and the per-row reasons of unreadable values."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc

    columns: dict[str, pa.ChunkedArray] = {}
    reasons: list[pa.ChunkedArray] = []
    # Columns are independent and Arrow's kernels release the GIL: one thread per core.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="profile") as pool:
        done = pool.map(lambda c: _transform(c, _source_column(source, c), profile.name), profile.columns.values())
        for column, (values, bad) in zip(profile.columns.values(), done, strict=True):
            columns[column.target] = values
            if bad is not None:
                reasons.append(bad)
    table = pa.table(columns) if columns else pa.table({})
    if not reasons:
        return table, None
    joined = reasons[0]
    for more in reasons[1:]:
        # Pairwise: binary_join_element_wise's null_handling="skip" drops rows where all are null.
        both = pc.binary_join_element_wise(joined, more, pa.scalar("; ", pa.large_string()))
        joined = pc.if_else(pc.is_null(joined), more, pc.if_else(pc.is_null(more), joined, both))
    return table, joined


def mapped_column(profile: Profile, source: pa.Table, target: str) -> pa.ChunkedArray:
    """The contract column ``target`` filled from ``source`` as :func:`apply` fills it (its values only)."""
    column = profile.columns[target]
    return _transform(column, _source_column(source, column), profile.name)[0]


def _source_column(source: pa.Table, column: Column) -> pa.ChunkedArray:
    import pyarrow as pa

    if column.source and column.source in source.column_names:
        return source.column(column.source)
    return pa.chunked_array([pa.nulls(source.num_rows, pa.large_string())], type=pa.large_string())


def _empty_to_null(values):
    import pyarrow as pa
    import pyarrow.compute as pc

    empty = pc.equal(values, "")
    if not pc.any(empty).as_py():
        return values  # nothing to blank: no copy of the strings
    return pc.if_else(empty, pa.scalar(None, pa.large_string()), values)


def _transform(column: Column, values, profile_name: str):
    """``(contract values, reasons or None)`` for one column: trim, default, map, parse, invert."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if column.trim:
        values = _empty_to_null(pc.utf8_trim_whitespace(values))
    if column.default is not None:
        values = pc.fill_null(values, pa.scalar(column.default, pa.large_string()))
    if column.map:
        keys = pa.array(list(column.map), pa.large_string())
        targets = pa.array(list(column.map.values()), pa.large_string())
        index = pc.index_in(values, value_set=keys)
        values = pc.if_else(pc.is_null(index), values, pc.take(targets, index))
    parsed = None
    if column.date:
        parsed, fmt = _by_distinct(values, lambda d: _parse_date(d, column.date)), column.date
    elif column.datetime:
        # Datetimes are nearly all distinct: parsed row by row (vectorised), not per distinct text.
        parsed, fmt = _parse_datetime(values, column), column.datetime
    elif column.true_values:
        parsed = _by_distinct(values, lambda d: _parse_boolean(d, column))
        fmt = "true=" + "/".join(column.true_values) + " false=" + "/".join(column.false_values)
    if parsed is None:
        return values, None
    kind = "not_boolean" if column.true_values else "unparseable"
    failed = pc.and_(pc.is_valid(values), pc.is_null(parsed))
    reason = pa.scalar(f"{column.target}:{kind} (profile {profile_name}: {fmt})", pa.large_string())
    return parsed, pc.if_else(failed, reason, pa.scalar(None, pa.large_string()))


def _by_distinct(values, parse):
    """``parse`` applied to each distinct text once (a dictionary per chunk), then taken back to the rows."""
    import pyarrow as pa

    chunks = []
    for chunk in values.chunks:
        encoded = chunk.dictionary_encode()
        parsed = parse(pa.chunked_array([encoded.dictionary], type=pa.large_string())).combine_chunks()
        chunks.append(parsed.take(encoded.indices))
    return pa.chunked_array(chunks, type=pa.large_string())


def _unpadded(values):
    """Lower case, leading zeros of numbers dropped: ``03/05/1980`` and ``3/5/1980`` compare equal."""
    import pyarrow.compute as pc

    return pc.replace_substring_regex(pc.utf8_lower(values), r"(^|[^0-9])0+([0-9])", r"\1\2")


def _parse_date(values, fmt: str):
    """Texts in ``fmt`` to ``YYYY-MM-DD``; null unless the text is exactly a real day in that format.

    Arrow's ``strptime`` rolls 02/30 over to 03/01: the day is written back in
    ``fmt`` and compared with the text (leading zeros and case aside).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    parsed = pc.strptime(values, format=fmt, unit="s", error_is_null=True)
    exact = pc.equal(_unpadded(pc.strftime(parsed, format=fmt)), _unpadded(values))
    exact = pc.and_(exact, pc.greater_equal(parsed, pa.scalar(dt.datetime(1, 1, 1), pa.timestamp("s"))))
    iso = pc.strftime(parsed, format="%Y-%m-%d")
    return pc.if_else(exact, iso, pa.scalar(None, pa.large_string())).cast(pa.large_string())


def _parse_datetime(values, column: Column):
    """Datetimes to the contract: a date column gets the day in ``column.timezone``, ``updated_at`` UTC ISO.

    ``iso8601``: ``2015-03-03T10:00:00.000+0000`` (fraction optional; ``Z``,
    ``+0000`` or ``+02:00``; ``T`` or a space). A strptime format without ``%z``
    is a local time in ``column.timezone``.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from milestones.ingest.dates import parse_exact

    fmt = column.datetime
    if fmt == ISO8601 and column.timezone == "UTC":
        utc = _utc_iso(values, column.target in TIMESTAMP_COLUMNS)
        if utc is not None:
            return utc
    if fmt == ISO8601:
        shaped = pc.match_substring_regex(values, _ISO_PATTERN)
        text = pc.replace_substring_regex(values, _ISO_PATTERN, r"\1T\2\3")
        parsed = pc.strptime(text, format="%Y-%m-%dT%H:%M:%S%z", unit="s", error_is_null=True)
        # The calendar day as written must be real (strptime rolls 02-30 over).
        real_day = pc.is_valid(parse_exact(pc.utf8_slice_codeunits(values, 0, 10)))
        parsed = pc.if_else(pc.and_(shaped, real_day), parsed, pa.scalar(None, parsed.type))
    else:
        plain = fmt.replace(".%f", "")
        text = pc.replace_substring_regex(values, r"(\d{2}:\d{2}:\d{2})\.\d{1,9}", r"\1") if ".%f" in fmt else values
        parsed = pc.strptime(text, format=plain, unit="s", error_is_null=True)
        if "%z" not in plain:
            exact = pc.equal(_unpadded(pc.strftime(parsed, format=plain)), _unpadded(text))
            parsed = pc.if_else(exact, parsed, pa.scalar(None, parsed.type))
            parsed = pc.assume_timezone(parsed, timezone=column.timezone, ambiguous="earliest",
                                        nonexistent="earliest")
    if column.target in TIMESTAMP_COLUMNS:
        out = pc.strftime(pc.cast(parsed, pa.timestamp("s", tz="UTC")), format="%Y-%m-%dT%H:%M:%SZ")
    else:
        local = pc.local_timestamp(pc.cast(parsed, pa.timestamp("s", tz=column.timezone)))
        out = pc.strftime(local, format="%Y-%m-%d")
    return out.cast(pa.large_string())


def _utc_iso(values, timestamp: bool):
    """ISO 8601 texts all in UTC (Salesforce's ``...+0000``): the day is the text's own; else ``None``.

    No parse and no formatting of a million timestamps, one regex pass: a date
    column gets the day sliced out of the text (validation then checks it is a
    real day, as for any contract date), a timestamp column the text itself
    (already ISO 8601 in UTC, which the contract asks for and does not check further).
    """
    import pyarrow.compute as pc

    if not pc.all(pc.or_kleene(pc.match_substring_regex(values, _UTC_PATTERN), pc.is_null(values))).as_py():
        return None
    return values if timestamp else pc.utf8_slice_codeunits(values, 0, 10)


def _parse_boolean(values, column: Column):
    import pyarrow as pa
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(values)
    is_true = pc.is_in(lowered, value_set=pa.array(column.true_values, pa.large_string()))
    is_false = pc.is_in(lowered, value_set=pa.array(column.false_values, pa.large_string()))
    yes, no = ("false", "true") if column.invert else ("true", "false")
    null = pa.scalar(None, pa.large_string())
    return pc.if_else(is_true, pa.scalar(yes, pa.large_string()),
                      pc.if_else(is_false, pa.scalar(no, pa.large_string()), null))
