"""Every rule a row must pass, and the message each problem is reported with.

Problems are reported to the batch's :class:`~.report.Report` with the row number and the
column's name in the source's format; the checks carry on after a problem so that one pass
reports every row's problems.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from partnercenter.core import limits
from partnercenter.core.money import InvalidAmount, is_currency, parse_ledger_amount, parse_quantity

from .. import formats
from ..models import BillingMode
from . import transform
from .read import Layout
from .report import MAX_LISTED_ACCOUNTS, Report
from .transform import CONTENT_AT, CONTENT_COLUMNS, Checked, CustomerEntry, Customers, Instant, Times

CATEGORIES = {"Usage", "Purchase", "Tax", "Credit", "Adjustment"}
BILLING_MODES = set(BillingMode.values)
SERVICE_TYPES = {"cloud", "marketplace"}
_new_tuple: Any = tuple.__new__
_SORTED_CATEGORIES = ", ".join(sorted(CATEGORIES))
_SORTED_MODES = ", ".join(sorted(BILLING_MODES))


def time_problem(text: str, e: ValueError) -> str:
    if isinstance(e, limits.OutOfRange):
        return f"{text!r} is {e}"
    return f"{text!r} is not an ISO 8601 timestamp ({e})"


def repeated_line_id(line_id: str, prior_row: int, differences: list[str]) -> str:
    return f"line id {line_id!r} already appears on row {prior_row} with a different {', '.join(differences)}"


def stored_line_id(line_id: str, where: str, differences: list[str]) -> str:
    return f"line id {line_id!r} is already stored ({where}) with a different {', '.join(differences)}"


class Validator:
    """The row checks of one batch; problems go to ``report``, unknown accounts to ``unknown``."""

    def __init__(self, layout: Layout, report: Report, customers: Customers, times: Times) -> None:
        self.layout = layout
        self.report = report
        self.customers = customers
        self.times = times
        self.col_name = layout.col_name
        self.native = layout.native
        self.unknown: set[str] = set()

    def shape(self, row_no: int, row: list[str], source: formats.Source) -> bool:
        """A row has the header's width and no NUL; it is then padded for absent columns."""
        width = self.layout.width
        if len(row) != width:
            # A short row, an extra (unquoted) comma or a quote swallowing a line shifts columns:
            # nothing in it can be trusted.
            line = source.line or row_no
            self.report.error(row_no, "", f"line {line} has {len(row)} field(s); the header has {width}")
            return False
        if "\x00" in "".join(row):  # one search rather than one per column
            i = next(i for i, v in enumerate(row) if "\x00" in v)
            # No stored value contains it, and PostgreSQL text cannot hold it.
            self.report.error(row_no, self.layout.header[i], "contains the NUL character (U+0000)")
            return False
        row.append("")
        return True

    def check(self, row_no: int, row: list[str]) -> Checked:
        """Every rule on one row, in the order its problems are listed."""
        (account, category, billed_text, currency, start_text, end_text, lc_text, ec_text, q_text,
         mode, frequency, provider, publisher, service_type, line_id) = self.layout.pick(row)  # fmt: skip
        error, name = self.report.error, self.col_name
        account = account.strip()
        entry = self._customer(row_no, account)
        if category not in CATEGORIES:
            error(row_no, name["category"], f"{category!r} is not one of {_SORTED_CATEGORIES}")
        billed = self._amount(row_no, "billed_cost", billed_text)
        currency = self._currency(row_no, currency)
        start, end = self._period(row_no, start_text, end_text)
        # List and effective cost are often the billed cost's very text: parsed once then.
        list_cost = billed if lc_text and lc_text == billed_text and billed is not None else None
        if lc_text and list_cost is None:
            list_cost = self._amount(row_no, "list_cost", lc_text)
        effective_cost = billed if ec_text and ec_text == billed_text and billed is not None else None
        if ec_text and effective_cost is None:
            effective_cost = self._amount(row_no, "effective_cost", ec_text)
        quantity = self._amount(row_no, "quantity", q_text, parse_quantity) if q_text else None
        mode = transform.billing_mode(mode, frequency, category)
        if mode not in BILLING_MODES:
            error(row_no, name["billing_mode"], f"{mode!r} is not one of {_SORTED_MODES}")
        service_type = transform.service_type(service_type, provider, publisher)
        if service_type not in SERVICE_TYPES:
            error(row_no, name["service_type"], f"{service_type!r} is not cloud or marketplace")
        if self.native and not line_id:
            error(row_no, name["line_id"], "missing value")
        partner_id, association_type = self._association(row_no, account, entry, start)
        return _new_tuple(Checked, (  # Checked(...) without its Python-level __new__: once per row
            entry[0] if entry is not None else 0, partner_id, association_type, category,
            billed if billed is not None else Decimal(0), currency, start, end,
            list_cost, effective_cost, quantity, mode, frequency, provider, publisher, service_type, line_id,
        ))  # fmt: skip

    def _customer(self, row_no: int, account: str) -> CustomerEntry | None:
        if not account:
            self.report.error(row_no, self.col_name["account"], "missing value")
            return None
        entry = self.customers.entries.get(account)
        if entry is None:
            entry = self.customers.get(account)
        if entry is None:
            if len(self.unknown) < MAX_LISTED_ACCOUNTS:
                self.unknown.add(account)
            self.report.error(row_no, self.col_name["account"], f"unknown customer account {account!r}")
        return entry

    def _amount(self, row_no: int, field: str, text: str, parse: Any = parse_ledger_amount) -> Decimal | None:
        try:
            value: Decimal = parse(text)
        except InvalidAmount as e:
            self.report.error(row_no, self.col_name[field], f"{text!r}: {e}")
            return None
        return value

    def _currency(self, row_no: int, text: str) -> str:
        currency = text.strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            self.report.error(row_no, self.col_name["currency"], f"{currency!r} is not a 3-letter currency code")
        elif not is_currency(currency):
            self.report.error(row_no, self.col_name["currency"], f"{currency!r} is not an ISO 4217 currency code")
        return currency

    def instant(self, row_no: int, field: str, text: str) -> Instant | None:
        try:
            return self.times.cache.get(text) or self.times.parse(text)
        except ValueError as e:
            self.report.error(row_no, self.col_name[field], time_problem(text, e))
            return None

    def _period(self, row_no: int, start_text: str, end_text: str) -> tuple[Instant | None, Instant | None]:
        start = self.instant(row_no, "start", start_text)
        end = self.instant(row_no, "end", end_text)
        if start is not None and end is not None and end[0] < start[0]:
            self.report.error(row_no, self.col_name["end"], "ends before ChargePeriodStart")
        return start, end

    def _association(
        self, row_no: int, account: str, entry: CustomerEntry | None, start: Instant | None
    ) -> tuple[Any, Any]:
        if entry is None or start is None:
            return None, None
        found = transform.association_at(entry, start[0])
        if found is None:
            self.report.error(
                row_no, self.col_name["start"], f"customer {account!r} has no partner association in force then"
            )
            return None, None
        return found

    def billing_periods(self, row_no: int, start_text: str, end_text: str) -> tuple[Any, Any] | None:
        """The billing period's instants (each None when absent); None after a problem.

        Checked only while the batch has no problem: a batch already rejected is not told
        about these columns (as before the pipeline was split into stages)."""
        start = end = None
        if start_text:
            start = self.instant(row_no, "billing_period_start", start_text)
            if start is None:
                return None
        if end_text:
            end = self.instant(row_no, "billing_period_end", end_text)
            if end is None:
                return None
        return start, end


def differences(new: tuple[Any, ...], old: tuple[Any, ...] | list[Any], col_name: dict[str, str]) -> list[str]:
    """The columns in which a row's content (``new``, a LINE_COLUMNS tuple) differs from ``old``
    (CONTENT_COLUMNS values). Values compare as values: 1.50 equals 1.5, instants by the instant."""
    names = CONTENT_COLUMNS.values()
    return [col_name[logical] for i, o, logical in zip(CONTENT_AT, old, names, strict=True) if new[i] != o]
