"""The rules run by Great Expectations: one suite per batch of columns, built once, run per chunk.

GX is imported inside :class:`Suite`, never at module import: importing it
costs seconds and would slow down DAG parsing.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import logging
import threading
from collections import Counter
from typing import TYPE_CHECKING, Any

from milestones.core.contract import DATE_COLUMNS
from milestones.ingest.rules import CATEGORY_COLUMNS, Rule, build_rules

if TYPE_CHECKING:  # pragma: no cover
    from milestones.ingest.prepare import Prepared


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


_run = threading.local()
_patched = threading.Lock()


def _configuration_once() -> None:
    """Let an expectation build its configuration once per :meth:`Suite.run`, not once per look-up.

    GX's ``Expectation.configuration`` is a property that serialises the expectation
    (pydantic ``dict()``) and builds a new ``ExpectationConfiguration`` on every access,
    and validating one expectation reads it dozens of times (each success and domain kwarg
    separately): about 4,000 builds per run of this suite, half of GX's bookkeeping for a
    chunk. Inside :meth:`Suite.run` (and only on the thread running it) each expectation
    object gets one configuration, built by GX's own property, and the same object is
    handed out after that; outside, the property is GX's. The objects are GX's per-run
    copies (made from the suite's configurations for each validation), and are kept
    referenced until the run ends, so an address is never reused for another one.
    """
    from great_expectations.expectations.expectation import Expectation

    with _patched:
        original = Expectation.__dict__["configuration"]
        if getattr(original.fget, "once", False):
            return

        def configuration(self):
            made = getattr(_run, "made", None)
            if made is None:
                return original.fget(self)
            held = made.get(id(self))
            if held is None or held[0] is not self:
                held = made[id(self)] = (self, original.fget(self))
            return held[1]

        configuration.once = True
        configuration.__doc__ = original.__doc__
        Expectation.configuration = property(configuration)


#: GX's own graph builder (set by :func:`_graphs_once`).
_gx_graphs: Any = None


def _graphs_once() -> None:
    """Let a :class:`Suite` build GX's metric dependency graph of each batch once, not per chunk.

    Before it computes anything, GX's validator turns every expectation into the graph of
    metrics it needs (``_generate_metric_dependency_subgraphs_for_each_expectation_configuration``):
    thousands of ``MetricConfiguration`` objects, each id a JSON serialisation and a hash,
    more than half of a small chunk's validation time. The graph depends only on the
    expectations, the batch id, the execution engine and the result format, and for one
    batch of a :class:`Suite` those are the same for every chunk (the batch definition hands
    out one id and one engine for every dataframe); the values are computed per chunk,
    from the graph, as before. Inside :meth:`Suite.run` (on its thread) the first chunk's
    graphs and processed configurations are kept in the suite and handed out again; an
    expectation whose graph could not be built is never kept. Outside, GX's own method runs.
    """
    from great_expectations.validator.validator import Validator

    with _patched:
        original = Validator.__dict__["_generate_metric_dependency_subgraphs_for_each_expectation_configuration"]
        if getattr(original, "once", False):
            return
        global _gx_graphs
        _gx_graphs = original

        def generate(self, expectation_configurations, processed_configurations, catch_exceptions,
                     runtime_configuration=None):
            slot = getattr(_run, "graphs", None)
            key = None if slot is None else (slot[1], self.active_batch_id, id(self._execution_engine),
                                             repr(runtime_configuration))
            held = None if key is None else slot[0].get(key)
            if held is not None and len(held[1]) == len(expectation_configurations):
                processed_configurations.extend(held[1])
                return held[0], [], processed_configurations
            graphs, evrs, processed = _gx_graphs(
                self, expectation_configurations=expectation_configurations,
                processed_configurations=processed_configurations, catch_exceptions=catch_exceptions,
                runtime_configuration=runtime_configuration)
            if key is not None and not evrs:
                slot[0][key] = (graphs, list(processed))
            return graphs, evrs, processed

        generate.once = True
        Validator._generate_metric_dependency_subgraphs_for_each_expectation_configuration = generate


_definitions: list = []


def _batch_definition(gx, progress_bars):
    """The in-memory GX context and its whole-dataframe batch definition: made once per process.

    Every :class:`Suite` hands its frames to it (``get_batch`` with the frame as a batch
    parameter keeps nothing between batches), so a second suite in the process (yesterday's
    extract, then today's) does not pay for a context and a data source again.
    """
    with _patched:
        if not _definitions:
            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = progress_bars(globally=False)
            _definitions.append(context.data_sources.add_pandas("crm").add_dataframe_asset("extract")
                                .add_batch_definition_whole_dataframe("whole"))
        return _definitions[0]


@functools.lru_cache(maxsize=8)
def suite_for(as_of: dt.date) -> Suite:
    """The extract contract's suite for one snapshot date, built once per process and date."""
    return Suite(build_rules(as_of))


@contextlib.contextmanager
def _one_configuration_each(graphs: dict, batch: int):
    _run.made = {}
    _run.graphs = (graphs, batch)
    try:
        yield
    finally:
        _run.made = None
        _run.graphs = None


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
        _configuration_once()
        _graphs_once()
        self._graphs: dict = {}  # see _graphs_once
        # This module forces its own logger to INFO at import; keep it quiet.
        logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

        self._definition = _batch_definition(gx, ProgressBarsConfig)
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
        for index, (columns, suite) in enumerate(self._suites):
            batch = self._definition.get_batch(batch_parameters={"dataframe": prepared.frame(columns)})
            with _one_configuration_each(self._graphs, index):
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
#: Samples of the failing cell values: never on a Data Docs page (personal data, e.g. a
#: mistyped address); counts, columns and the rows' indexes stay.
_VALUES = ("partial_unexpected_list", "partial_unexpected_counts")
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
        result: dict[str, Any] = {k: v for k, v in first.result.items() if k not in _ROW_DETAIL + _VALUES}
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
