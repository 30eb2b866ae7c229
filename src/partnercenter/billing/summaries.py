"""The stored summaries of a bill (``BillProductTotal``, ``BillCustomerTotal``), computed from its
lines. A bill never changes, so its breakdowns by product and by customer are summed once, when
the bill is written (``services.generate_bills``, from the lines it has in memory; migration
``0004`` for the bills written before), and the console and the API read them instead of
re-aggregating tens of thousands of lines per request.

Sums are exact: ``Decimal`` additions in :data:`core.money.CONTEXT` (60 digits), which no sum of
stored amounts reaches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from partnercenter.core.money import CONTEXT, ZERO

# A bill line as the close holds it: (corrects_month, customer_id, service_type, service_name,
# region_id, classification, amount, line_item_count).
Line = tuple[dt.date | None, int, str, str, str, str, Decimal, int]
ProductKey = tuple[str, str, str, str, dt.date | None]  # service type, name, region, classification, corrects

CLASSES = ("expenditure", "refund", "adjustment", "tax")


@dataclass
class _Sum:
    amount: Decimal = ZERO
    line_item_count: int = 0
    line_count: int = 0

    def add(self, amount: Decimal, items: int) -> None:
        self.amount = CONTEXT.add(self.amount, amount)
        self.line_item_count += items
        self.line_count += 1


@dataclass
class _Customer:
    by_class: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(CLASSES, ZERO))
    line_item_count: int = 0
    line_count: int = 0


class ProductTotal(NamedTuple):
    service_type: str
    service_name: str
    region_id: str
    classification: str
    corrects_month: dt.date | None
    amount: Decimal
    line_item_count: int
    line_count: int


class CustomerTotal(NamedTuple):
    customer_id: int
    position: int
    expenditure: Decimal
    refund: Decimal  # positive amount returned
    adjustment: Decimal
    tax: Decimal
    total: Decimal
    line_item_count: int
    line_count: int


def product_totals(lines: Iterable[Line]) -> list[ProductTotal]:
    """The lines summed per (service type, product, region, classification, corrected month)."""
    sums: dict[ProductKey, _Sum] = {}
    for corrects, _customer, stype, name, region, cls, amount, items in lines:
        key = (stype, name, region, cls, corrects)
        s = sums.get(key)
        if s is None:
            s = sums[key] = _Sum()
        s.add(amount, items)
    return [ProductTotal(*key, s.amount, s.line_item_count, s.line_count) for key, s in sums.items()]


def customer_totals(lines: Iterable[Line], account_ids: Mapping[int, str]) -> list[CustomerTotal]:
    """Each customer's figures, numbered largest total first, then by account id. A line carrying a
    correction of an earlier month counts as an adjustment, as it does in the bill's figures."""
    per: dict[int, _Customer] = {}
    for corrects, customer, _stype, _name, _region, cls, amount, items in lines:
        c = per.get(customer)
        if c is None:
            c = per[customer] = _Customer()
        kind = "adjustment" if corrects else cls
        c.by_class[kind] = CONTEXT.add(c.by_class[kind], amount)
        c.line_item_count += items
        c.line_count += 1
    rows = []
    for customer, c in per.items():
        e, r, a, t = (c.by_class[k] for k in CLASSES)
        total = CONTEXT.add(CONTEXT.add(e, r), CONTEXT.add(a, t))
        rows.append((customer, e, CONTEXT.minus(r), a, t, total, c.line_item_count, c.line_count))
    rows.sort(key=lambda row: (CONTEXT.minus(row[5]), account_ids[row[0]]))
    return [CustomerTotal(row[0], i, *row[1:]) for i, row in enumerate(rows, start=1)]
