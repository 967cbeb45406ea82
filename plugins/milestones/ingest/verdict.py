"""The result of validating one extract and the file gate's verdict on it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


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


def gate(result: ValidationResult, extract_name: str, previous_rows: int | None,
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
