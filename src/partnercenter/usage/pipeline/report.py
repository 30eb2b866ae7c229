"""What a batch did: its counts, totals and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from partnercenter.core.money import CONTEXT

MAX_REPORTED_ERRORS = 100
MAX_LISTED_ACCOUNTS = 1_000
CLASSES = ("expenditure", "refund", "adjustment", "tax")


@dataclass
class RowError:
    row: int
    column: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "reason": self.reason}


@dataclass
class Report:
    """What a batch did; ``batch_id`` is None when it was rejected."""

    source: str
    file_name: str
    format: str
    checksum: str
    rows_total: int = 0
    rows_new: int = 0
    rows_present: int = 0
    rows_corrections: int = 0
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    error_count: int = 0
    unknown_accounts: list[str] = field(default_factory=list)
    batch_id: int | None = None

    @property
    def accepted(self) -> bool:
        return self.error_count == 0

    def error(self, row: int, column: str, reason: str) -> None:
        """Count a problem; the first MAX_REPORTED_ERRORS are listed."""
        self.error_count += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(row, column, reason))

    def set_totals(self, totals: dict[tuple[str, str], Decimal]) -> None:
        """The totals per currency from sums per (currency, classification), with their net."""
        by_currency: dict[str, dict[str, Decimal]] = {}
        for (currency, cls), value in totals.items():
            by_currency.setdefault(currency, {})[cls] = value
        for t in by_currency.values():
            for cls in CLASSES:
                t.setdefault(cls, Decimal(0))
            t["net"] = CONTEXT.add(CONTEXT.add(t["expenditure"], t["refund"]), CONTEXT.add(t["adjustment"], t["tax"]))
            # refunds are negative rows; shown as a positive refund amount
            t["refund"] = -t["refund"] if t["refund"] else Decimal(0)
        self.totals = by_currency

    def discard_writes(self) -> None:
        """A rejected batch wrote nothing."""
        self.batch_id = None
        self.rows_new = self.rows_present = self.rows_corrections = 0
        self.totals = {}

    def totals_as_strings(self) -> dict[str, dict[str, str]]:
        return {cur: {k: format(v, "f") for k, v in sorted(t.items())} for cur, t in sorted(self.totals.items())}

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_id": self.batch_id,
            "status": "accepted" if self.accepted else "rejected",
            "source": self.source,
            "file_name": self.file_name,
            "format": self.format,
            "checksum": self.checksum,
            "rows_total": self.rows_total,
            "rows_new": self.rows_new,
            "rows_present": self.rows_present,
            "rows_corrections": self.rows_corrections,
            "totals": self.totals_as_strings(),
            "error_count": self.error_count,
            "errors": [e.as_dict() for e in self.errors],
            "unknown_accounts": self.unknown_accounts,
        }
