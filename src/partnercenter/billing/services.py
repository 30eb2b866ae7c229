"""Writes of the partner bill: the monthly close (B1, B2, B5, B6) and the estimate (B3).

The bill of month M is due from 00:00 on the 5th of M+1 in the billing time zone (it must exist
before 12:00 that day). :func:`catch_up` generates every bill whose time has come and that does
not exist yet; the worker runs it every minute and ``partnercenter close-month`` by hand, so a
missed run (worker down on the 5th) is made good by the next one. Running it again changes
nothing: a month is closed per partner once (``usage.ClosedMonth``), inside the transaction that
writes its bills, under the ingestion lock.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction

from partnercenter.core import audit, clock
from partnercenter.core.money import CONTEXT, ZERO
from partnercenter.partners.models import Customer, Partner
from partnercenter.usage import freshness
from partnercenter.usage import selectors as usage
from partnercenter.usage import services as usage_services

from . import payment_services, summaries
from .models import Bill, BillCustomerTotal, BillEstimate, BillLine, BillProductTotal, Invoice, InvoiceSequence

DUE_DAY = 5  # the bill of M is generated on the 5th of M+1 (B2)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def previous_month(month: dt.date) -> dt.date:
    return (month.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def due_at(month: dt.date) -> dt.datetime:
    """The instant from which the bill of ``month`` is generated: 00:00 of the 5th of the next
    month in the billing time zone."""
    return clock.start_of_day(next_month(month).replace(day=DUE_DAY))


def last_due_month(at: dt.datetime) -> dt.date:
    """The latest month whose bill is due at ``at``."""
    month = previous_month(month_start(clock.billing_date(at)))
    return month if at >= due_at(month) else previous_month(month)


def invoice_issuer() -> str:
    return str(getattr(settings, "INVOICE_ISSUER", "PC"))


@dataclass
class _Draft:
    """A bill being built: its lines and figures, before it is written once."""

    partner_id: int
    currency: str
    after: int
    lines: list[tuple[Any, ...]] = field(default_factory=list)  # _LINE_COLUMNS without the bill
    figures: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    count: int = 0

    def add(self, row: dict[str, Any], corrects: dt.date | None) -> None:
        amount, cls = row["amount"], row["classification"]
        # A late line item is carried as an adjustment of this bill, whatever it was (B2).
        slot = "adjustment" if corrects else cls
        self.figures[slot] = CONTEXT.add(self.figures[slot], amount)
        self.count += row["count"]
        self.lines.append(
            (corrects, row["customer_id"], row["service_type"], row["service_name"], row["region_id"], cls, amount,
             row["count"])
        )  # fmt: skip

    def bill(self, month: dt.date, through: int, at: dt.datetime) -> Bill:
        f = self.figures
        refund = CONTEXT.minus(f["refund"])  # refunds are negative charges, shown as a positive amount returned
        return Bill(
            partner_id=self.partner_id,
            month=month,
            currency=self.currency,
            generated_at=at,
            after_line_item_id=self.after,
            through_line_item_id=through,
            expenditure=f["expenditure"],
            refund=refund,
            adjustment=f["adjustment"],
            tax=f["tax"],
            amount=_exact_total(f["expenditure"], f["refund"], f["adjustment"], f["tax"]),
            line_item_count=self.count,
        )


def _exact_total(*parts: Decimal) -> Decimal:
    """The bill amount from its signed parts (refunds are negative here), in the 60-digit money
    context: the default 28 digits would round a sum of large amounts with 15 places."""
    total = ZERO
    for part in parts:
        total = CONTEXT.add(total, part)
    return total


def _afters(partner_ids: Iterable[int]) -> dict[int, int]:
    """Each partner's watermark so far: the corrections up to it were carried by its earlier bills.
    A close without a bill had no correction to carry, so the latest bill's watermark is enough."""
    rows = Bill.objects.filter(partner_id__in=list(partner_ids)).values_list("partner_id", "through_line_item_id")
    found: dict[int, int] = {}
    for partner_id, through in rows:
        found[partner_id] = max(found.get(partner_id, 0), through)
    return found


def _drafts(month: dt.date, partner_ids: set[int], through: int) -> list[_Draft]:
    afters = _afters(partner_ids)
    drafts: dict[tuple[int, str], _Draft] = {}

    def draft(row: dict[str, Any]) -> _Draft:
        key = (row["partner_id"], row["billing_currency"])
        if key not in drafts:
            drafts[key] = _Draft(key[0], key[1], afters.get(key[0], 0))
        return drafts[key]

    for row in usage.reseller_month_lines(month, through):
        if row["partner_id"] in partner_ids:
            draft(row).add(row, None)
    by_after: dict[int, list[int]] = defaultdict(list)
    for p in partner_ids:
        by_after[afters.get(p, 0)].append(p)
    for after, ids in sorted(by_after.items()):
        for row in usage.reseller_corrections(after, through, ids):
            draft(row).add(row, row["charge_month"])
    return [drafts[k] for k in sorted(drafts)]


_LINE_COLUMNS = (
    "bill",
    "corrects_month",
    "customer",
    "service_type",
    "service_name",
    "region_id",
    "classification",
    "amount",
    "line_item_count",
)
_PRODUCT_COLUMNS = (
    "bill",
    "service_type",
    "service_name",
    "region_id",
    "classification",
    "corrects_month",
    "amount",
    "line_item_count",
    "line_count",
)
_CUSTOMER_COLUMNS = (
    "bill",
    "customer",
    "position",
    "expenditure",
    "refund",
    "adjustment",
    "tax",
    "total",
    "line_item_count",
    "line_count",
)
_PREPARED = ("ExactDecimalField", "DateField")  # the values the engine's adapter needs prepared


def _insert(model: type[models.Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Write rows of ``columns`` into the model's table: COPY on PostgreSQL, one prepared INSERT
    run over all rows on SQLite. A month for all partners has hundreds of thousands of bill lines;
    model instances and ``bulk_create`` (SQL compiled per batch of ~100 rows on SQLite, an INSERT
    per batch to parse on PostgreSQL) took more than twice the close's GROUP BY on top of it."""
    by_name = {f.name: f for f in model._meta.concrete_fields}
    fields = [by_name[name] for name in columns]
    prep = [(i, f.get_db_prep_save) for i, f in enumerate(fields) if f.get_internal_type() in _PREPARED]
    params = []
    for row in rows:
        values = list(row)
        for i, prepare in prep:
            if values[i] is not None:
                values[i] = prepare(values[i], connection)
        params.append(values)
    qn = connection.ops.quote_name
    # Table and column names come from the model; every value is a parameter.
    target = f"{qn(model._meta.db_table)} ({', '.join(qn(str(f.column)) for f in fields)})"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {target} FROM STDIN") as copy:
                for values in params:
                    copy.write_row(values)
            return
        sql = f"INSERT INTO {target} VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608
        for start in range(0, len(params), 20_000):
            cursor.executemany(sql, params[start : start + 20_000])


def _insert_summaries(bills: list[Bill], drafts: list[_Draft]) -> None:
    """Each bill's totals per product and per customer (``summaries``), from the lines in memory:
    written once with the lines, so the breakdowns never re-aggregate them."""
    customer_ids = {line[1] for d in drafts for line in d.lines}
    account_ids = dict(Customer.objects.filter(pk__in=customer_ids).values_list("pk", "account_id"))
    products: list[tuple[Any, ...]] = []
    customers: list[tuple[Any, ...]] = []
    for bill, draft in zip(bills, drafts, strict=True):
        products += [(bill.pk, *p) for p in summaries.product_totals(draft.lines)]
        customers += [(bill.pk, *c) for c in summaries.customer_totals(draft.lines, account_ids)]
    _insert(BillProductTotal, _PRODUCT_COLUMNS, products)
    _insert(BillCustomerTotal, _CUSTOMER_COLUMNS, customers)


def _number_invoices(bills: list[Bill], at: dt.datetime) -> list[Invoice]:
    """Invoice numbers for the bills with a positive amount, from the issuer's sequence under a row
    lock: gap-free and never twice, even when two closes run at once (B6)."""
    payable = [b for b in bills if b.amount > 0]
    if not payable:
        return []
    issuer = invoice_issuer()
    InvoiceSequence.objects.bulk_create(
        [InvoiceSequence(issuer=issuer, prefix=f"{issuer}-", next_number=1)], ignore_conflicts=True
    )
    seq = InvoiceSequence.objects.select_for_update().get(issuer=issuer)
    first = seq.next_number
    seq.next_number = first + len(payable)
    seq.save(update_fields=["next_number"])
    return Invoice.objects.bulk_create(
        [
            Invoice(bill=b, issuer=issuer, number=f"{seq.prefix}{first + i:010d}", issued_at=at)
            for i, b in enumerate(payable)
        ]
    )


def generate_bills(month: dt.date, *, at: dt.datetime | None = None) -> list[Bill]:
    """Close ``month`` for every partner that has not had it closed: one GROUP BY over the month's
    reseller line items plus the corrections that arrived since each partner's previous bill,
    written once as bills, bill lines and invoices. Returns the bills written now."""
    at = at or clock.now()
    month = month_start(month)
    if at < due_at(month):
        raise ValueError(f"the bill of {month:%Y-%m} is due from {due_at(month).isoformat()}, not before")
    with transaction.atomic():
        usage.hold_ledger_still()
        todo = set(Partner.objects.values_list("pk", flat=True)) - usage.partners_with_month_closed(month)
        if not todo:
            return []
        through = usage.ledger_watermark()
        drafts = _drafts(month, todo, through)
        bills = Bill.objects.bulk_create([d.bill(month, through, at) for d in drafts])
        _insert(
            BillLine, _LINE_COLUMNS, [(b.pk, *line) for b, d in zip(bills, drafts, strict=True) for line in d.lines]
        )
        _insert_summaries(bills, drafts)
        invoices = _number_invoices(bills, at)
        refunds = payment_services.refund_negative_bills(bills)
        closed = usage_services.close_month(month, todo, at=at)
        audit.record(
            None,
            "billing.close_month",
            target=f"{month:%Y-%m}",
            partners=closed,
            bills=len(bills),
            invoices=len(invoices),
            refunds=len(refunds),
            through_line_item_id=through,
        )
    return bills


def months_to_close(at: dt.datetime, through: dt.date | None = None) -> list[dt.date]:
    """The due months that some partner has not had closed, oldest first. Months are closed in
    order from the ledger's first charge month (found once, before anything is closed); a line
    item for an earlier month arriving later is a correction (usage ingestion), never a reason to
    close a month behind a closed one."""
    last = min(last_due_month(at), through) if through else last_due_month(at)
    first = usage.earliest_closed_month() or usage.earliest_charge_month()
    if first is None:
        return []
    partners = Partner.objects.count()
    counts = usage.closed_month_counts(first)
    months, month = [], first
    while month <= last:
        if counts.get(month, 0) < partners:
            months.append(month)
        month = next_month(month)
    return months


def refresh_estimates(at: dt.datetime | None = None, *, force: bool = False) -> int:
    """The current month's estimate per partner and currency (B3): expenditure, refunds and
    adjustments so far, no tax, no coupon deduction. Refreshed once a day (billing time zone), or
    now with ``force``; returns the rows written."""
    at = at or clock.now()
    month = month_start(clock.billing_date(at))
    today = clock.start_of_day(clock.billing_date(at))
    if not force and BillEstimate.objects.filter(month=month, computed_at__gte=today).exists():
        return 0
    figures: dict[tuple[int, str], dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for row in usage.reseller_month_totals(month):
        slot = figures[(row["partner_id"], row["currency"])]
        slot[row["classification"]] = CONTEXT.add(slot[row["classification"]], row["amount"])
    as_of = min(at, freshness.complete_until() or at)
    rows = []
    for (partner_id, currency), f in sorted(figures.items()):
        refund = CONTEXT.minus(f["refund"])
        rows.append(
            BillEstimate(
                partner_id=partner_id,
                month=month,
                currency=currency,
                as_of=as_of,
                computed_at=at,
                expenditure=f["expenditure"],
                refund=refund,
                adjustment=f["adjustment"],
                amount=_exact_total(f["expenditure"], f["refund"], f["adjustment"]),
            )
        )
    BillEstimate.objects.bulk_create(rows)
    return len(rows)


@dataclass(frozen=True)
class CatchUp:
    months: list[dt.date]
    bills: int
    estimates: int


def catch_up(at: dt.datetime | None = None, *, through: dt.date | None = None) -> CatchUp:
    """Generate every bill whose time has come and that does not exist yet, oldest month first
    (only up to the month ``through`` if given), then refresh the estimate if it is not from
    today. Idempotent."""
    at = at or clock.now()
    months = months_to_close(at, through)
    bills = sum(len(generate_bills(m, at=at)) for m in months)
    return CatchUp(months, bills, refresh_estimates(at))
