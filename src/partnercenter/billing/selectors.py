"""Reads of the partner bill: bills in scope, their figures (B5), breakdowns by product and by
customer (B7), the estimate (B3) and the line items behind each bill line."""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import overload

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import masking
from partnercenter.core.errors import NotFound
from partnercenter.core.money import CONTEXT, ZERO
from partnercenter.partners.models import Partner
from partnercenter.usage import selectors as usage
from partnercenter.usage.models import LineItem

from .models import Bill, BillCustomerTotal, BillEstimate, BillLine, BillProductTotal, Invoice

CLOUD, MARKETPLACE = "cloud", "marketplace"
MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one names no bill


def bills_for(user: User) -> QuerySet[Bill]:
    """The bills of the partners the user may view, newest month first."""
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    qs = Bill.objects.select_related("partner", "invoice").order_by("-month", "currency", "partner__code")
    return qs if ids is None else qs.filter(partner_id__in=ids)


def get_bill(user: User, bill_id: int) -> Bill:
    """One bill in scope; another partner's bill answers like a missing one."""
    if not 0 < bill_id <= MAX_ID:
        raise NotFound(f"No partner bill with id {bill_id}.")
    try:
        return bills_for(user).get(pk=bill_id)
    except Bill.DoesNotExist:
        raise NotFound(f"No partner bill with id {bill_id}.") from None


def months_of(bills: QuerySet[Bill]) -> list[dt.date]:
    return list(bills.order_by("-month").values_list("month", flat=True).distinct())


@dataclass(frozen=True)
class Figures:
    """What a bill shows (B5). A negative amount is shown as such; its amount due is 0."""

    expenditure: Decimal
    refund: Decimal
    adjustment: Decimal
    tax: Decimal
    amount: Decimal
    amount_due: Decimal
    negative: bool
    invoice_number: str


def figures(bill: Bill) -> Figures:
    try:
        number = bill.invoice.number
    except Invoice.DoesNotExist:
        number = ""
    return Figures(
        expenditure=bill.expenditure,
        refund=bill.refund,
        adjustment=bill.adjustment,
        tax=bill.tax,
        amount=bill.amount,
        amount_due=max(bill.amount, ZERO),
        negative=bill.amount < 0,
        invoice_number=number,
    )


@dataclass(frozen=True)
class ProductRow:
    service_type: str
    service_name: str
    amount: Decimal
    line_item_count: int

    @property
    def label(self) -> str:
        return self.service_name or "—"


@dataclass(frozen=True)
class OtherRow:
    """Refunds, adjustments, tax, and corrections of earlier months carried on the bill."""

    kind: str  # "refund", "adjustment", "tax" or "correction"
    corrects_month: dt.date | None
    amount: Decimal
    line_item_count: int

    @property
    def label(self) -> str:
        if self.corrects_month is not None:
            return str(_("Correction of %(month)s") % {"month": f"{self.corrects_month:%Y-%m}"})
        return str(_OTHER_LABELS[self.kind])


_OTHER_LABELS = {"refund": _("Refunds"), "adjustment": _("Adjustments"), "tax": _("Tax")}


@dataclass
class ByProduct:
    region: str
    regions: list[str]
    cloud: list[ProductRow] = field(default_factory=list)
    marketplace: list[ProductRow] = field(default_factory=list)
    others: list[OtherRow] = field(default_factory=list)

    @property
    def cloud_total(self) -> Decimal:
        return sum((r.amount for r in self.cloud), ZERO)

    @property
    def marketplace_total(self) -> Decimal:
        return sum((r.amount for r in self.marketplace), ZERO)

    @property
    def others_total(self) -> Decimal:
        return sum((r.amount for r in self.others), ZERO)

    @property
    def total(self) -> Decimal:
        return self.cloud_total + self.marketplace_total + self.others_total

    @property
    def areas(self) -> list[tuple[str, list[ProductRow] | list[OtherRow], Decimal]]:
        return [
            (CLOUD, self.cloud, self.cloud_total),
            (MARKETPLACE, self.marketplace, self.marketplace_total),
            ("others", self.others, self.others_total),
        ]


def regions_of(bill: Bill) -> list[str]:
    return sorted(set(BillProductTotal.objects.filter(bill=bill).values_list("region_id", flat=True)))


def by_product(bill: Bill, region: str = "") -> ByProduct:
    """B7 by product: the month's expenditure per product, cloud and marketplace apart; refunds,
    adjustments, tax and carried corrections in "Others". ``region`` narrows every row to it.
    Read from the bill's stored totals per product and region (``BillProductTotal``, the exact
    sums of its lines), a few rows per product whatever the number of customers."""
    totals = list(BillProductTotal.objects.filter(bill=bill).order_by("service_type", "service_name"))
    result = ByProduct(region=region, regions=sorted({t.region_id for t in totals}))
    products: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    others: dict[tuple[str, dt.date | None], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for t in totals:
        if region and t.region_id != region:
            continue
        if t.corrects_month is None and t.classification == "expenditure":
            slot = products[(t.service_type, t.service_name)]
        else:
            kind = "correction" if t.corrects_month else t.classification
            slot = others[(kind, t.corrects_month)]
        slot[0] = CONTEXT.add(slot[0], t.amount)
        slot[1] += t.line_item_count
    for (stype, name), (amount, items) in products.items():
        row = ProductRow(stype, name, amount, int(items))
        (result.marketplace if stype == MARKETPLACE else result.cloud).append(row)
    order = {"refund": 0, "adjustment": 1, "tax": 2, "correction": 3}
    for (kind, month), (amount, items) in sorted(
        others.items(), key=lambda kv: (order[kv[0][0]], kv[0][1] or dt.date.min)
    ):
        result.others.append(OtherRow(kind, month, amount, int(items)))
    return result


@dataclass(frozen=True)
class CustomerRow:
    customer_id: int
    account_id: str
    name: str
    expenditure: Decimal
    refund: Decimal
    adjustment: Decimal
    tax: Decimal
    total: Decimal

    @property
    def masked_name(self) -> str:
        return masking.mask_name(self.name)


class ByCustomer(Sequence[CustomerRow]):
    """B7 by customer: each customer's figures on the bill (carried corrections as adjustments),
    largest total first, then by account id. Read from the bill's stored customer totals
    (``BillCustomerTotal``), numbered in that order when the bill was written: ``len()`` counts
    them, a slice reads only that range of positions (one indexed range query). Django's
    ``Paginator`` and the API's limit/offset take it as a sequence."""

    def __init__(self, bill: Bill) -> None:
        self._rows = BillCustomerTotal.objects.filter(bill=bill)
        self._count: int | None = None

    def count(self) -> int:  # type: ignore[override]  # Paginator asks for count() first
        if self._count is None:
            self._count = self._rows.count()
        return self._count

    def __len__(self) -> int:
        return self.count()

    @overload
    def __getitem__(self, index: int) -> CustomerRow: ...

    @overload
    def __getitem__(self, index: slice) -> list[CustomerRow]: ...

    def __getitem__(self, index: int | slice) -> CustomerRow | list[CustomerRow]:
        if isinstance(index, int):
            found = self[index : index + 1] if index >= 0 else []
            if not found:
                raise IndexError(index)
            return found[0]
        first, stop, step = index.indices(self.count())
        if step != 1:
            raise ValueError("pages of customers are read in order")
        rows = (
            self._rows.filter(position__gt=first, position__lte=stop)
            .order_by("position")
            .values_list("customer_id", "customer__account_id", "customer__name", *_FIGURES)
        )
        return [CustomerRow(*r) for r in rows]

    def __iter__(self) -> Iterator[CustomerRow]:
        return iter(self[:])


_FIGURES = ("expenditure", "refund", "adjustment", "tax", "total")


def by_customer(bill: Bill) -> ByCustomer:
    return ByCustomer(bill)


def month_end(month: dt.date) -> dt.date:
    return month.replace(day=calendar.monthrange(month.year, month.month)[1])


def latest_estimates(partner: Partner | int) -> list[BillEstimate]:
    """The latest estimate of the partner's current estimated month, one per currency."""
    pid = partner if isinstance(partner, int) else partner.pk
    latest = BillEstimate.objects.filter(partner_id=pid).order_by("-month", "-computed_at").first()
    if latest is None:
        return []
    rows = BillEstimate.objects.filter(partner_id=pid, month=latest.month).order_by("currency", "-computed_at")
    found: dict[str, BillEstimate] = {}
    for e in rows:
        found.setdefault(e.currency, e)
    # A currency missing from the latest refresh has no charge left this month: drop it.
    return [e for e in found.values() if e.computed_at == latest.computed_at]


def line_items_of(line: BillLine) -> QuerySet[LineItem]:
    """The line items a bill line was computed from (B2 traceability)."""
    bill = line.bill
    return usage.bill_line_items(
        partner_id=bill.partner_id,
        currency=bill.currency,
        customer_id=line.customer_id,
        service_type=line.service_type,
        service_name=line.service_name,
        region_id=line.region_id,
        classification=line.classification,
        month=bill.month,
        corrects_month=line.corrects_month,
        after=bill.after_line_item_id,
        through=bill.through_line_item_id,
    )
