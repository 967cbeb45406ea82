"""Validation of a CRM extract with Great Expectations: quarantine bad rows, gate bad files.

The suite is declared as data (:data:`RULES`): each rule names the column GX
checks, the expectation, and the reason recorded for a failing row.  Values
that need parsing (dates, booleans) are parsed once, vectorised, into helper
columns, and GX checks those; GX's own datetime ``between`` on strings maps
rows one by one in Python, so bounds are always ``pd.Timestamp``.

GX is imported inside :func:`run_suite`, never at module import: importing it
costs seconds and would slow down DAG parsing.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from milestones.checks import invalid_emails, unknown_locales
from milestones.contract import (
    BOOLEAN_COLUMNS,
    DATE_COLUMNS,
    EMPLOYMENT_STATUSES,
    FALSE_LITERALS,
    MARITAL_STATUSES,
    TRUE_LITERALS,
)
from milestones.extract import ExtractError, read_extract

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = logging.getLogger(__name__)

PLACEHOLDER_DATES = ("1900-01-01", "1970-01-01")
MAX_AGE_YEARS = 120


@dataclass(frozen=True)
class Rule:
    """One expectation: GX type name, its kwargs, and the reason a failing row gets."""

    reason: str
    expectation: str
    kwargs: dict[str, Any]


@dataclass
class ValidationResult:
    valid: pd.DataFrame
    quarantine: pd.DataFrame
    rows: int
    reasons: Counter = field(default_factory=Counter)
    gate_passed: bool = True
    gate_message: str = ""
    #: GX's validation results (one per column group), for Data Docs.
    gx_results: list = field(default_factory=list, repr=False)

    def summary(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": len(self.valid),
            "quarantined": len(self.quarantine),
            "reasons": dict(sorted(self.reasons.items())),
            "gate_passed": self.gate_passed,
            "gate_message": self.gate_message,
        }


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


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
        Rule("customer_id:duplicate", "ExpectColumnValuesToBeUnique", {"column": "customer_id"}),
        Rule(
            "customer_id:too_long",
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "customer_id", "min_value": 1, "max_value": 64},
        ),
        Rule("email:invalid", "ExpectColumnValuesToBeNull", {"column": "_email_invalid"}),
        Rule("locale:unknown", "ExpectColumnValuesToBeNull", {"column": "_locale_unknown"}),
        Rule("timezone:unknown", "ExpectColumnValuesToBeInSet", {"column": "timezone", "value_set": sorted(_timezones())}),
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


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the parsed helper columns the rules check (vectorised, once per column)."""
    import pandas as pd

    work = frame.copy()
    for col in ("locale", "timezone", "marital_status", "employment_status", "children_count",
                "last_name", "deceased", "updated_at"):
        if col not in work.columns:
            work[col] = pd.Series(pd.NA, index=work.index, dtype="string")
    work["_email_invalid"] = invalid_emails(work["email"])
    work["_locale_unknown"] = unknown_locales(work["locale"])
    for col in DATE_COLUMNS:
        raw = work[col] if col in work.columns else pd.Series(pd.NA, index=work.index, dtype="string")
        # Nanosecond precision on purpose: GX compares datetime64[ns] columns
        # vectorised, any other unit row by row in Python (about 2 s per 1M rows).
        parsed = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")
        # pandas also takes 1990-1-5; the contract says YYYY-MM-DD.
        parsed = parsed.where(raw.str.match(r"^\d{4}-\d{2}-\d{2}$").fillna(False).astype(bool))
        work[f"_{col}"] = parsed
        work[f"_{col}_bad"] = raw.where(raw.notna() & parsed.isna())
        work[f"_{col}_placeholder"] = raw.where(raw.isin(PLACEHOLDER_DATES))
    for col in BOOLEAN_COLUMNS:
        raw = work[col] if col in work.columns else pd.Series(pd.NA, index=work.index, dtype="string")
        work[f"_{col}_lower"] = raw.str.lower()
    return work


def _is_cheap(rule: Rule) -> bool:
    return rule.expectation == "ExpectColumnValuesToBeNull" and rule.kwargs["column"].startswith("_")


def _columns(rule: Rule) -> tuple[str, ...]:
    return tuple(rule.kwargs[k] for k in ("column", "column_A", "column_B") if k in rule.kwargs)


def run_suite(work: pd.DataFrame, rules: list[Rule]):
    """Validate ``work`` with GX, one batch per group of rules on the same columns.

    Returns ``(failures, results)``: {row position: [reasons]} for failing rows,
    and GX's validation results (for Data Docs).

    Each batch holds only the columns its rules name: GX filters the whole
    batch frame (every column, about 3 ms per column per million rows) several
    times per expectation, so a batch of one column instead of the extract's
    thirty-odd keeps that cost proportional to the suite, not to the file.
    """
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
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
    definition = (context.data_sources.add_pandas("crm").add_dataframe_asset("extract")
                  .add_batch_definition_whole_dataframe("whole"))
    groups: dict[tuple[str, ...], list[Rule]] = {}
    for rule in rules:
        groups.setdefault(_columns(rule), []).append(rule)
    # Null checks on helper columns (null for every good row) filter only the bad
    # rows, so they share one batch instead of paying a batch each.
    cheap = [k for k, g in groups.items() if all(_is_cheap(r) for r in g)]
    if len(cheap) > 1:
        merged = [r for k in cheap for r in groups.pop(k)]
        groups[tuple(dict.fromkeys(c for r in merged for c in _columns(r)))] = merged
    failures: dict[int, list[str]] = {}
    results = []
    for n, (columns, group) in enumerate(groups.items()):
        suite = gx.ExpectationSuite(name=f"crm_extract.{n}.{'.'.join(columns)}")
        for rule in group:
            # The reason travels in the expectation's meta: results come back
            # grouped by column, not in suite order.
            suite.add_expectation(
                getattr(gx.expectations, rule.expectation)(**rule.kwargs, meta={"reason": rule.reason}))
        batch = definition.get_batch(batch_parameters={"dataframe": work[list(columns)]})
        result = batch.validate(suite, result_format={"result_format": "COMPLETE"})
        results.append(result)
        for res in result.results:
            if res.exception_info and res.exception_info.get("raised_exception"):
                raise RuntimeError(
                    f"expectation {res.expectation_config.type} could not run: "
                    f"{res.exception_info.get('exception_message')}"
                )
            if res.success:
                continue
            reason = res.expectation_config.meta["reason"]
            for idx in res.result.get("unexpected_index_list") or []:
                failures.setdefault(int(idx), []).append(reason)
    return failures, results


def write_data_docs(results: list, docs_root: Path, extract_name: str) -> Path:
    """Render GX Data Docs (static HTML) for one validated extract; return its page.

    The per-group results of :func:`run_suite` are merged into one suite result
    named ``crm_extract`` so the extract has a single page listing every
    expectation, and the site index under ``docs_root`` lists every extract.
    """
    import great_expectations as gx
    from great_expectations.core.expectation_validation_result import (
        ExpectationSuiteValidationResult,
    )
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )

    checks = [r for result in results for r in result.results]
    passed = sum(r.success for r in checks)
    merged = ExpectationSuiteValidationResult(
        success=passed == len(checks),
        results=checks,
        suite_name="crm_extract",
        statistics={"evaluated_expectations": len(checks), "successful_expectations": passed,
                    "unsuccessful_expectations": len(checks) - passed,
                    "success_percent": 100.0 * passed / max(len(checks), 1)},
        meta={"extract": extract_name},
    )
    context = gx.get_context(mode="file", project_root_dir=str(docs_root))
    run_id = RunIdentifier(run_name=extract_name, run_time=dt.datetime.now(dt.UTC))
    key = ValidationResultIdentifier(
        expectation_suite_identifier=ExpectationSuiteIdentifier(name="crm_extract"),
        run_id=run_id, batch_identifier=Path(extract_name).stem)
    context.validation_results_store.set(key, merged)
    context.build_data_docs()
    site = Path(docs_root) / "gx" / "uncommitted" / "data_docs" / "local_site"
    pages = sorted((site / "validations" / "crm_extract").glob(f"{extract_name}/*/{Path(extract_name).stem}.html"))
    return pages[-1] if pages else site / "index.html"


def validate_frame(
    frame: pd.DataFrame,
    *,
    as_of: dt.date,
    extract_name: str,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
) -> ValidationResult:
    """Split ``frame`` into valid rows and a quarantine with reasons, then apply the file gate.

    The quarantine keeps each bad row's raw values, with the extract name, its
    line number in the file (header = line 1) and every reason it failed.
    """
    import numpy as np

    frame = frame.reset_index(drop=True)
    work = prepare(frame)
    failures, results = run_suite(work, build_rules(as_of))
    bad_positions = sorted(failures)
    reasons: Counter = Counter(r for rs in failures.values() for r in rs)
    quarantine = frame.iloc[bad_positions].copy()
    quarantine.insert(0, "reasons", ["; ".join(sorted(failures[i])) for i in bad_positions])
    # Row number as a human counts it in the file: header is line 1.
    quarantine.insert(0, "row_number", [i + 2 for i in bad_positions])
    quarantine.insert(0, "extract", extract_name)
    valid_mask = np.ones(len(frame), dtype=bool)
    valid_mask[bad_positions] = False
    valid = normalise(work, valid_mask)
    result = ValidationResult(valid=valid, quarantine=quarantine, rows=len(frame), reasons=reasons,
                              gx_results=results)

    share = len(quarantine) / len(frame)
    if share > max_invalid_share:
        result.gate_passed = False
        result.gate_message = (
            f"{extract_name}: {len(quarantine)} of {len(frame)} rows invalid "
            f"({share:.1%} > max_invalid_share {max_invalid_share:.1%})"
        )
    elif previous_rows and len(frame) < previous_rows * (1 - max_row_drop_share):
        drop = 1 - len(frame) / previous_rows
        result.gate_passed = False
        result.gate_message = (
            f"{extract_name}: row count fell from {previous_rows} to {len(frame)} "
            f"({drop:.1%} > max_row_drop_share {max_row_drop_share:.1%})"
        )
    return result


def normalise(work: pd.DataFrame, keep) -> pd.DataFrame:
    """The rows ``keep`` selects in their typed form: dates, booleans, counts as ints.

    Typed columns replace their raw strings before filtering, so each column is
    filtered once and the helper columns never are.
    """

    out = work[[c for c in work.columns if not c.startswith("_")]].copy()
    for col in DATE_COLUMNS:
        out[col] = work[f"_{col}"].astype("datetime64[s]")
    for col in BOOLEAN_COLUMNS:
        out[col] = work[f"_{col}_lower"].isin(TRUE_LITERALS).astype(bool)
    out = out[keep].reset_index(drop=True)
    # Only valid rows reach the cast: their counts matched ^\d{1,3}$.
    out["children_count"] = out["children_count"].astype("int64[pyarrow]").astype("Int64")
    return out


def validate_extract(
    path: Path | str,
    *,
    as_of: dt.date | None = None,
    previous_rows: int | None = None,
    max_invalid_share: float = 0.05,
    max_row_drop_share: float = 0.20,
) -> ValidationResult:
    """Read and validate one extract file. Raises :class:`ExtractError` for an unreadable file."""
    from milestones.extract import snapshot_date_from_name

    path = Path(path)
    frame = read_extract(path)
    as_of = as_of or snapshot_date_from_name(path) or dt.date.today()
    return validate_frame(
        frame,
        as_of=as_of,
        extract_name=path.name,
        previous_rows=previous_rows,
        max_invalid_share=max_invalid_share,
        max_row_drop_share=max_row_drop_share,
    )


__all__ = ["ExtractError", "Rule", "ValidationResult", "build_rules", "validate_extract", "validate_frame"]
