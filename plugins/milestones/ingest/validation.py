"""Validation of a CRM extract with Great Expectations: quarantine bad rows, gate bad files.

The suite is declared as data (:func:`build_rules`): each rule names the column GX
checks, the expectation, and the reason recorded for a failing row.  Values
that need parsing (dates, booleans, e-mail addresses, locales) are parsed once,
vectorised in Arrow, into helper columns, and GX checks those; GX's own datetime
``between`` on strings maps rows one by one in Python, so bounds are always
``pd.Timestamp`` on ``datetime64[ns]`` columns.

An extract is read into Arrow (columnar, compact) and validated in chunks of
``chunk_rows``: GX sees one pandas chunk at a time, valid rows and quarantined
rows stream to Parquet, and only whole-file facts (repeated customer ids, the
row count) are computed over the whole column.  Memory follows the chunk size,
not the file size.

GX is imported inside :class:`Suite`, never at module import: importing it
costs seconds and would slow down DAG parsing.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milestones.core.contract import (
    ALL_COLUMNS,
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    EMPLOYMENT_STATUSES,
    FALSE_LITERALS,
    MARITAL_STATUSES,
    TRUE_LITERALS,
)
from milestones.ingest.checks import (
    invalid_emails,
    keep_where,
    text_problems,
    unknown_locales,
    unknown_timezones,
)
from milestones.ingest.extract import ExtractError, to_pandas

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger(__name__)

PLACEHOLDER_DATES = ("1900-01-01", "1970-01-01")
MAX_AGE_YEARS = 120
#: Rows GX validates at once; peak memory grows with it, not with the file.
DEFAULT_CHUNK_ROWS = 1_000_000
#: Longest customer_id (the contract) and names (a subject line must stay a line).
TEXT_LIMITS = {"customer_id": 64, "first_name": 100, "last_name": 100}
#: Bounds of the date columns the older rules leave open, in years before and after the
#: snapshot date: no 9999-12-31 wedding, no retirement in the year 1200, no 2,025th customer
#: anniversary. (date_of_birth has its own: in_future, too_old; customer_since's upper bound
#: is in_future: ``None`` here.)
DATE_BOUNDS = {"customer_since": (150, None), "wedding_date": (MAX_AGE_YEARS, 2),
               "retirement_date": (MAX_AGE_YEARS, 60), "graduation_date": (MAX_AGE_YEARS, 20)}


def _out_of_range(column: str) -> str:
    return "too_old" if DATE_BOUNDS[column][1] is None else "out_of_range"


#: Columns GX reads as categories: few distinct values, so set checks and the
#: row filters GX runs per expectation work on small integer codes.
CATEGORY_COLUMNS = ("marital_status", "employment_status")


@dataclass(frozen=True)
class Rule:
    """One expectation: GX type name, its kwargs, and the reason a failing row gets."""

    reason: str
    expectation: str
    kwargs: dict[str, Any]


@dataclass
class ValidationResult:
    """Counts, reasons and gate verdict of one extract.

    ``valid`` and ``quarantine`` are pandas frames when validated in memory;
    when streamed to files (``out_dir``) they are ``None`` and the files hold the rows.
    """

    valid: pd.DataFrame | None
    quarantine: pd.DataFrame | None
    rows: int
    quarantined: int = 0
    reasons: Counter = field(default_factory=Counter)
    gate_passed: bool = True
    gate_message: str = ""
    #: GX's results, one per expectation, summed over the chunks (for Data Docs).
    gx_results: list = field(default_factory=list, repr=False)
    #: The extract profile the file was read with (``contract``: as it is).
    profile: str = "contract"

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.rows - self.quarantined,
            "quarantined": self.quarantined,
            "reasons": dict(sorted(self.reasons.items())),
            "gate_passed": self.gate_passed,
            "gate_message": self.gate_message,
            "profile": self.profile,
        }


def build_rules(as_of: dt.date) -> list[Rule]:
    """The whole contract as GX expectations, bounded by the snapshot date."""
    import pandas as pd

    today = pd.Timestamp(as_of)
    oldest = today - pd.DateOffset(years=MAX_AGE_YEARS)
    rules = [
        Rule(f"{c}:missing", "ExpectColumnValuesToNotBeNull", {"column": c})
        for c in ("customer_id", "first_name", "email", "customer_since", "marketing_opt_in")
    ]
    rules += [
        # Over the whole file, not one chunk: the helper holds every id that occurs twice.
        Rule("customer_id:duplicate", "ExpectColumnValuesToBeNull", {"column": "_customer_id_repeated"}),
        # Names and ids reach subjects, headers and file names: control characters, bidi
        # overrides, zero-width characters, blank values and over-long ones are refused.
        # The helper holds the kind of problem, so the reason is `column:kind`
        # (customer_id:too_long, first_name:blank, last_name:control_characters).
        *(Rule(f"{column}:*", "ExpectColumnValuesToBeNull", {"column": f"_{column}_problem"})
          for column in TEXT_LIMITS),
        Rule("email:invalid", "ExpectColumnValuesToBeNull", {"column": "_email_invalid"}),
        Rule("locale:unknown", "ExpectColumnValuesToBeNull", {"column": "_locale_unknown"}),
        # Checked per distinct value into a helper: as a GX value set, the ~600 IANA
        # names are copied on every one of GX's many reads of the expectation.
        Rule("timezone:unknown", "ExpectColumnValuesToBeNull", {"column": "_timezone_unknown"}),
        Rule("marital_status:unknown", "ExpectColumnValuesToBeInSet", {"column": "marital_status", "value_set": list(MARITAL_STATUSES)}),
        Rule("employment_status:unknown", "ExpectColumnValuesToBeInSet", {"column": "employment_status", "value_set": list(EMPLOYMENT_STATUSES)}),
        Rule("children_count:not_a_count", "ExpectColumnValuesToMatchRegex", {"column": "children_count", "regex": r"^\d{1,3}$"}),
    ]
    for col in BOOLEAN_COLUMNS:
        rules.append(
            Rule(f"{col}:not_boolean", "ExpectColumnValuesToBeInSet",
                 {"column": f"_{col}_lower", "value_set": list(TRUE_LITERALS + FALSE_LITERALS)})
        )
    for col in DATE_COLUMNS:
        rules.append(Rule(f"{col}:unparseable", "ExpectColumnValuesToBeNull", {"column": f"_{col}_bad"}))
        rules.append(Rule(f"{col}:placeholder", "ExpectColumnValuesToBeNull", {"column": f"_{col}_placeholder"}))
    for col in DATE_BOUNDS:
        rules.append(Rule(f"{col}:{_out_of_range(col)}", "ExpectColumnValuesToBeNull",
                          {"column": f"_{col}_out_of_range"}))
    rules += [
        Rule("date_of_birth:in_future", "ExpectColumnValuesToBeBetween",
             {"column": "_date_of_birth", "max_value": today}),
        Rule("date_of_birth:too_old", "ExpectColumnValuesToBeBetween",
             {"column": "_date_of_birth", "min_value": oldest}),
        Rule("customer_since:in_future", "ExpectColumnValuesToBeBetween",
             {"column": "_customer_since", "max_value": today}),
        Rule("wedding_date:before_birth", "ExpectColumnPairValuesAToBeGreaterThanB",
             {"column_A": "_wedding_date", "column_B": "_date_of_birth", "or_equal": False,
              "ignore_row_if": "either_value_is_missing"}),
    ]
    return rules


def repeated_ids(ids: pa.ChunkedArray) -> pa.Array:
    """Every customer_id occurring more than once in the whole extract (all copies are quarantined)."""
    import pyarrow.compute as pc

    counts = pc.value_counts(ids.drop_null())
    return counts.field("values").filter(pc.greater(counts.field("counts"), 1))


def _column(table: pa.Table, name: str) -> pa.ChunkedArray:
    import pyarrow as pa

    if name in table.column_names:
        return table.column(name)
    return pa.chunked_array([pa.nulls(table.num_rows, pa.large_string())])


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


def _ns_range(parsed: pa.ChunkedArray) -> pa.ChunkedArray:
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
        f"_{name}": _ns_range(parsed),
        f"_{name}_bad": keep_where(pc.and_(pc.is_valid(raw), pc.is_null(parsed)), raw),
        f"_{name}_placeholder": keep_where(placeholder, raw),
    }
    if name in DATE_BOUNDS:
        back, ahead = DATE_BOUNDS[name]
        low, high = (pa.scalar(dt.datetime.combine(_years_from(as_of, n), dt.time()), pa.timestamp("s"))
                     for n in (-back, ahead or 0))
        outside = pc.less(parsed, low) if ahead is None else pc.or_(pc.less(parsed, low), pc.greater(parsed, high))
        helpers[f"_{name}_out_of_range"] = keep_where(outside, raw)
    return helpers


def _years_from(day: dt.date, years: int) -> dt.date:
    """``day`` moved by whole years (29 February -> 28 February in a common year)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def _boolean_helpers(name: str, raw: pa.ChunkedArray) -> dict[str, pa.ChunkedArray]:
    import pyarrow.compute as pc

    lowered = pc.utf8_lower(raw)
    return {f"{name}:lower": lowered, f"_{name}_lower": pc.dictionary_encode(lowered)}


def prepare(table: pa.Table, repeated: Callable[[], pa.Array], pool: Executor,
            first_row: int = 0, *, as_of: dt.date) -> Prepared:
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
        lambda: {"_email_invalid": invalid_emails(raw["email"])},
        lambda: {"_locale_unknown": unknown_locales(raw["locale"])},
        lambda: {"_timezone_unknown": unknown_timezones(raw["timezone"])},
        # Last: it waits for the whole-file repeated ids.
        lambda: {"_customer_id_repeated": keep_where(pc.is_in(ids, value_set=repeated()), ids)},
    ]
    # Category columns reach GX encoded (the first job), never as raw strings.
    ready = {name: column for name, column in raw.items() if name not in CATEGORY_COLUMNS}
    return Prepared(ready, [pool.submit(job) for job in jobs], first_row)


_BATCH_ORDER = {"required": 0, "categories": 2, "dates": 3, "helpers": 4}  # others: 1


def batch_of(rule: Rule) -> str:
    """Which GX batch checks ``rule``: rules whose row filters are cheap share one.

    GX filters the batch frame per expectation (every column of it), and each
    batch costs a fixed ~10 ms. Columns whose filters cost little, because the
    rule's failing rows are few (null checks) or the values are small integers
    (categories, datetimes), share a batch; a rule on a long string column that
    GX filters whole (lengths, regexes) gets its own.
    """
    columns = _columns(rule)
    if rule.expectation == "ExpectColumnValuesToBeNull" and all(c.startswith("_") for c in columns):
        return "helpers"
    if rule.expectation == "ExpectColumnValuesToNotBeNull":
        return "required"
    if all(c in CATEGORY_COLUMNS or c.endswith("_lower") for c in columns):
        return "categories"
    if all(c.lstrip("_") in DATE_COLUMNS and c.startswith("_") for c in columns):
        return "dates"
    return ".".join(columns)


def _columns(rule: Rule) -> tuple[str, ...]:
    return tuple(rule.kwargs[k] for k in ("column", "column_A", "column_B") if k in rule.kwargs)


class Suite:
    """The rules as GX suites, built once per extract and run on each chunk.

    One GX batch per group of rules (:func:`batch_of`), holding only the
    columns its rules name: GX filters the whole batch frame several times per
    expectation, so a batch of a few columns instead of the extract's
    thirty-odd keeps that cost proportional to the suite, not to the file.
    """

    def __init__(self, rules: list[Rule]):
        from milestones.ingest import gx_import

        gx = gx_import.load()
        from great_expectations.data_context.types.base import ProgressBarsConfig
        from great_expectations.execution_engine import pandas_execution_engine

        # GX fingerprints every batch under 1 GB by hashing the whole frame (about
        # 3 s per million rows, twice per validation) for a batch marker nothing
        # here reads. The expectations themselves are unaffected.
        pandas_execution_engine.HASH_THRESHOLD = 0
        # This module forces its own logger to INFO at import; keep it quiet.
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self._definition = (context.data_sources.add_pandas("crm").add_dataframe_asset("extract")
                            .add_batch_definition_whole_dataframe("whole"))
        groups: dict[str, list[Rule]] = {}
        for rule in rules:
            groups.setdefault(batch_of(rule), []).append(rule)
        self._suites = []
        # Batches on raw columns first: GX checks them while the helper columns
        # the later batches need are still being computed (see Prepared).
        for name, group in sorted(groups.items(), key=lambda item: _BATCH_ORDER.get(item[0], 1)):
            suite = gx.ExpectationSuite(name=f"crm_extract.{name}")
            for rule in group:
                # The reason travels in the expectation's meta: results come back
                # grouped by column, not in suite order.
                suite.add_expectation(
                    getattr(gx.expectations, rule.expectation)(**rule.kwargs, meta={"reason": rule.reason}))
            self._suites.append((list(dict.fromkeys(c for r in group for c in _columns(r))), suite))

    def run(self, prepared: Prepared) -> tuple[dict[int, list[str]], list]:
        """``({row position in the extract: [reasons]}, GX results)`` for one chunk."""
        failures: dict[int, list[str]] = {}
        results = []
        for columns, suite in self._suites:
            batch = self._definition.get_batch(batch_parameters={"dataframe": prepared.frame(columns)})
            result = batch.validate(suite, result_format=RESULT_FORMAT)
            for res in result.results:
                if res.exception_info and res.exception_info.get("raised_exception"):
                    raise RuntimeError(
                        f"expectation {res.expectation_config.type} could not run: "
                        f"{res.exception_info.get('exception_message')}"
                    )
                results.append(res)
                if res.success:
                    continue
                reason = res.expectation_config.meta["reason"]
                indices = res.result.get("unexpected_index_list") or []
                if reason.endswith(":*"):  # the helper holds the kind: `column:kind` per row
                    kinds = res.result.get("unexpected_list") or []
                    for idx, kind in zip(indices, kinds, strict=True):
                        failures.setdefault(int(idx), []).append(f"{reason[:-1]}{kind}")
                    continue
                for idx in indices:
                    failures.setdefault(int(idx), []).append(reason)
        return failures, results


#: Every failing row's index (the quarantine needs them all), without the
#: pandas query string GX would otherwise build from them for each expectation.
RESULT_FORMAT = {"result_format": "COMPLETE", "return_unexpected_index_query": False}

#: Per-row detail GX returns with COMPLETE results: used for the quarantine, too
#: large for the Data Docs page of a million-row extract.
_ROW_DETAIL = ("unexpected_list", "unexpected_index_list", "unexpected_rows", "unexpected_index_query")
_PARTIAL = 20


def merge_results(chunks: list[list]) -> list:
    """One result per expectation over all chunks: counts summed, samples of the first bad values.

    ``chunks`` holds, per chunk, the results of :meth:`Suite.run` (same
    expectations in the same order).
    """
    from milestones.ingest import gx_import

    gx_import.load()
    from great_expectations.core.expectation_validation_result import ExpectationValidationResult

    merged = []
    for per_chunk in zip(*chunks, strict=True):
        first = per_chunk[0]
        result: dict[str, Any] = {k: v for k, v in first.result.items() if k not in _ROW_DETAIL}
        for later in per_chunk[1:]:
            for key in ("element_count", "missing_count", "unexpected_count"):
                if key in result:
                    result[key] += later.result.get(key, 0)
            for key in ("partial_unexpected_list", "partial_unexpected_index_list"):
                if key in result:
                    result[key] = (result[key] + list(later.result.get(key) or []))[:_PARTIAL]
            if "partial_unexpected_counts" in result:
                counts = Counter({c["value"]: c["count"] for c in result["partial_unexpected_counts"]})
                counts.update({c["value"]: c["count"] for c in later.result.get("partial_unexpected_counts") or []})
                result["partial_unexpected_counts"] = [
                    {"value": v, "count": c} for v, c in counts.most_common(_PARTIAL)]
        if "element_count" in result and "unexpected_count" in result:
            total, missing = result["element_count"], result.get("missing_count", 0)
            share = 100.0 * result["unexpected_count"]
            result["unexpected_percent_total"] = share / total if total else 0.0
            nonmissing = total - missing
            result["unexpected_percent"] = share / nonmissing if nonmissing else 0.0
            result["unexpected_percent_nonmissing"] = result["unexpected_percent"]
            if "missing_percent" in result:
                result["missing_percent"] = 100.0 * missing / total if total else 0.0
        merged.append(ExpectationValidationResult(
            success=all(r.success for r in per_chunk), expectation_config=first.expectation_config,
            result=result, meta=first.meta, exception_info=first.exception_info))
    return merged


def write_data_docs(results: list, docs_root: Path, extract_name: str, suite_name: str = "crm_extract",
                    profile: str | None = None, unreadable: dict[str, int] | None = None) -> Path:
    """Render GX Data Docs (static HTML) for one validated extract; return its page.

    ``results`` (:attr:`ValidationResult.gx_results`, one per expectation) become
    one suite result named ``suite_name`` (``crm_extract``, ``outcomes``) so the extract has a single page
    listing every expectation, and the site index under ``docs_root`` lists
    every extract. ``profile`` and ``unreadable`` (rows per reason of values the
    extract profile could not read, which no expectation saw) are shown with it.
    """
    from milestones.ingest import gx_import

    gx = gx_import.load()
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    checks = list(results)
    passed = sum(r.success for r in checks)
    merged = ExpectationSuiteValidationResult(
        success=passed == len(checks),
        results=checks,
        suite_name=suite_name,
        statistics={"evaluated_expectations": len(checks), "successful_expectations": passed,
                    "unsuccessful_expectations": len(checks) - passed,
                    "success_percent": 100.0 * passed / max(len(checks), 1)},
        # Data Docs shows a result's batch spec ("Show more info"): the extract profile read it.
        meta={"extract": extract_name, **({"batch_spec": {
            "data_asset_name": extract_name, "extract_profile": profile,
            "rows with values the profile could not read": unreadable or "none"}} if profile else {})},
    )
    context = gx.get_context(mode="file", project_root_dir=str(docs_root))
    run_id = RunIdentifier(run_name=extract_name, run_time=dt.datetime.now(dt.UTC))
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name=suite_name),
        run_id=run_id, batch_identifier=Path(extract_name).stem)
    context.validation_results_store.set(key, merged)
    # This extract's page and the index (which lists every extract), not every page again:
    # by default GX re-renders every validation result it holds on each build.
    context.build_data_docs(resource_identifiers=[key])
    site = Path(docs_root) / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = sorted((site / "validations" / suite_name).glob(f"{extract_name}/*/{Path(extract_name).stem}.html"))
    return pages[-1] if pages else site / "index.html"


def _gate(result: ValidationResult, extract_name: str, previous_rows: int | None,
          max_invalid_share: float, max_row_drop_share: float) -> ValidationResult:
    share = result.quarantined / result.rows
    if share > max_invalid_share:
        result.gate_passed = False
        result.gate_message = (
            f"{extract_name}: {result.quarantined} of {result.rows} rows invalid "
            f"({share:.1%} > max_invalid_share {max_invalid_share:.1%})"
        )
    elif previous_rows and result.rows < previous_rows * (1 - max_row_drop_share):
        drop = 1 - result.rows / previous_rows
        result.gate_passed = False
        result.gate_message = (
            f"{extract_name}: row count fell from {previous_rows} to {result.rows} "
            f"({drop:.1%} > max_row_drop_share {max_row_drop_share:.1%})"
        )
    return result


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


def quarantine_rows(table: pa.Table, failures: dict[int, list[str]], first_row: int,
                    extract_name: str) -> pa.Table:
    """The failing rows' raw values, with the extract name, line number and every reason.

    The line number is the row as a human counts it in the file: header is line 1.
    """
    import pyarrow as pa

    positions = sorted(failures)
    rows = table.take(pa.array([p - first_row for p in positions], pa.int64()))
    front = pa.table({
        "extract": pa.array([extract_name] * len(positions), pa.large_string()),
        "row_number": pa.array([p + 2 for p in positions], pa.int64()),
        "reasons": pa.array(["; ".join(sorted(failures[p])) for p in positions], pa.large_string()),
    })
    # An extract column named like one of ours (``reasons``...) is kept under another name.
    names = [f"{n} (extract column)" if n in front.column_names else n for n in rows.column_names]
    return pa.Table.from_arrays([*front.columns, *rows.columns], names=[*front.column_names, *names])


def validate_table(
    table: pa.Table,
    *,
    as_of: dt.date,
    extract_name: str,
    on_valid: Callable[[pa.Table], None],
    on_quarantine: Callable[[pa.Table], None],
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    source: pa.Table | None = None,
    errors: pa.ChunkedArray | None = None,
) -> ValidationResult:
    """Validate ``table`` chunk by chunk, handing each chunk's valid and quarantined rows on.

    Then apply the file gate. The callbacks receive Arrow tables of the same
    schema for every chunk (possibly empty). With an extract profile, ``table``
    is the mapped extract, ``source`` the file's own rows (the quarantine keeps
    them) and ``errors`` the reasons of values the profile could not read
    (:class:`milestones.ingest.profiles.Mapped`).
    """
    import numpy as np

    as_of = as_of if isinstance(as_of, dt.date) else dt.date.fromisoformat(str(as_of)[:10])
    result = ValidationResult(valid=None, quarantine=None, rows=table.num_rows)
    per_chunk = []
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2, thread_name_prefix="validate") as pool:
        # Hashing every id takes a while: it runs beside building the suite and
        # the first chunk's other helper columns.
        repeated = pool.submit(repeated_ids, table.column("customer_id"))
        suite = Suite(build_rules(as_of))
        for first_row, chunk in _chunks(table, chunk_rows):
            prepared = prepare(chunk, repeated.result, pool, first_row, as_of=as_of)
            failures, results = suite.run(prepared)
            if errors is not None:
                failures = with_profile_errors(failures, errors.slice(first_row, chunk.num_rows), first_row)
            per_chunk.append(results)
            result.quarantined += len(failures)
            result.reasons.update(r for rs in failures.values() for r in rs)
            keep = np.ones(chunk.num_rows, dtype=bool)
            keep[[p - first_row for p in failures]] = False
            on_valid(normalise(chunk, prepared, keep, pool))
            raw = chunk if source is None else source.slice(first_row, chunk.num_rows)
            on_quarantine(quarantine_rows(raw, failures, first_row, extract_name))
            del prepared
    result.gx_results = merge_results(per_chunk)
    return _gate(result, extract_name, previous_rows, max_invalid_share, max_row_drop_share)


def with_profile_errors(failures: dict[int, list[str]], errors: pa.ChunkedArray,
                        first_row: int) -> dict[int, list[str]]:
    """``failures`` plus the reasons of values an extract profile could not read.

    Such a value is missing in the mapped extract: its own reason replaces the
    ``<column>:missing`` a required column would otherwise also get.
    """
    import pyarrow.compute as pc

    rows = pc.indices_nonzero(pc.is_valid(errors))
    for row, text in zip(rows.to_pylist(), errors.take(rows).to_pylist(), strict=True):
        own = text.split("; ")
        columns = {reason.split(":", 1)[0] for reason in own}
        kept = [r for r in failures.get(first_row + row, []) if r not in {f"{c}:missing" for c in columns}]
        failures[first_row + row] = kept + own
    return failures


def _chunks(table: pa.Table, size: int) -> Iterator[tuple[int, pa.Table]]:
    if size < 1:
        raise ValueError(f"chunk_rows must be at least 1, not {size}")
    for start in range(0, table.num_rows, size):
        yield start, table.slice(start, size)


def validate_frame(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    extract_name: str,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> ValidationResult:
    """Split ``frame`` (strings) into valid rows and a quarantine with reasons, then gate the file."""
    import pyarrow as pa

    frame = frame.reset_index(drop=True)
    table = pa.Table.from_pandas(frame.astype("string[pyarrow]"), preserve_index=False)
    return _in_memory(table, as_of=as_of, extract_name=extract_name, previous_rows=previous_rows,
                      max_invalid_share=max_invalid_share, max_row_drop_share=max_row_drop_share,
                      chunk_rows=chunk_rows)


def _in_memory(table: pa.Table, **options: Any) -> ValidationResult:
    import pyarrow as pa

    valid: list[pa.Table] = []
    quarantine: list[pa.Table] = []
    result = validate_table(table, on_valid=valid.append, on_quarantine=quarantine.append, **options)
    result.valid = to_pandas(pa.concat_tables(valid))
    result.quarantine = to_pandas(pa.concat_tables(quarantine))
    return result


class _ParquetSink:
    """Appends chunks to a Parquet file under a temporary name; :meth:`publish` renames it."""

    def __init__(self, path: Path):
        from milestones.core.storage import atomic_target

        self.path = path
        self.tmp = atomic_target(path)
        self.writer = None

    def __call__(self, chunk: pa.Table) -> None:
        import pyarrow.parquet as pq

        if self.writer is None:
            self.writer = pq.ParquetWriter(self.tmp, _with_pandas_types(chunk.schema))
        self.writer.write_table(chunk.cast(self.writer.schema))

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def publish(self) -> Path:
        self.close()
        os.replace(self.tmp, self.path)
        return self.path

    def discard(self) -> None:
        self.close()
        self.tmp.unlink(missing_ok=True)


def _with_pandas_types(schema: pa.Schema) -> pa.Schema:
    """``schema`` with pandas metadata, so readers get the nullable dtypes of :func:`to_pandas`."""
    import pyarrow as pa

    meta = pa.Schema.from_pandas(to_pandas(schema.empty_table()), preserve_index=False).metadata
    return schema.with_metadata(meta)


def validate_extract(
    path: Path | str,
    *,
    as_of: dt.date | None = None,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    out_dir: Path | str | None = None,
    profile=None,
    follow_symlinks: bool = False,
) -> ValidationResult:
    """Read and validate one extract file. Raises :class:`ExtractError` for an unreadable file.

    Without ``out_dir`` the valid rows and the quarantine are returned as
    frames. With it, they stream to ``out_dir/quarantine.parquet`` (always) and
    ``out_dir/snapshot.parquet`` (only when the gate passes; a failed gate
    leaves no snapshot), and the result carries counts only.

    ``profile`` (a :class:`milestones.ingest.profiles.Profile` or its name; default
    the contract itself) says how the file is read and mapped onto the contract.
    """
    from milestones.ingest.extract import snapshot_date_from_name
    from milestones.ingest.profiles import read_mapped

    path = Path(path)
    # A symbolic link is read only when asked (--follow-symlinks), and then as its target;
    # the link's name still names the extract and its snapshot date.
    from milestones.ingest import intake

    intake.check_regular_file(path, follow_symlinks=follow_symlinks)
    mapped = read_mapped(path.resolve() if follow_symlinks and path.is_symlink() else path, profile)
    table = mapped.table
    as_of = as_of or snapshot_date_from_name(path) or dt.date.today()
    options = dict(as_of=as_of, extract_name=path.name, previous_rows=previous_rows,
                   max_invalid_share=max_invalid_share, max_row_drop_share=max_row_drop_share,
                   chunk_rows=chunk_rows, source=mapped.source, errors=mapped.errors)
    if out_dir is None:
        result = _in_memory(table, **options)
        result.profile = mapped.profile.name
        return result
    snapshot = _ParquetSink(Path(out_dir) / "snapshot.parquet")
    quarantine = _ParquetSink(Path(out_dir) / "quarantine.parquet")
    try:
        result = validate_table(table, on_valid=snapshot, on_quarantine=quarantine, **options)
    except BaseException:
        snapshot.discard()
        quarantine.discard()
        raise
    quarantine.publish()
    result.profile = mapped.profile.name
    if result.gate_passed:
        snapshot.publish()
    else:
        snapshot.discard()
        (Path(out_dir) / "snapshot.parquet").unlink(missing_ok=True)
    return result


__all__ = ["ExtractError", "Rule", "Suite", "ValidationResult", "build_rules", "validate_extract",
           "validate_frame", "validate_table"]
