"""Reads for usage: batches, rollup sums. Sums are exact on both engines (ExactSum)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.db import connection
from django.db.models import Count, F, Func, Max, Min, QuerySet, TextField

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.money import ExactSum

from .models import ClosedMonth, DailyRollup, IngestBatch, LineItem
from .pipeline.write import ADVISORY_LOCK_KEY as INGEST_LOCK_KEY


def batches_for(user: User) -> QuerySet[IngestBatch]:
    """Ingestion batches are operator data: platform operators see them all, partners none."""
    if user.is_authenticated and user.is_active and user.is_platform_operator:
        return IngestBatch.objects.order_by("-id")
    return IngestBatch.objects.none()


@dataclass(frozen=True)
class ChargeSpan:
    """The recorded charges of one customer from a moment on: how many, the first and the last
    ChargePeriodStart (UTC)."""

    count: int
    first: dt.datetime
    last: dt.datetime


def charges_at_or_after(customer_id: int, moment: dt.datetime) -> ChargeSpan | None:
    """The customer's recorded line items whose charge starts at or after ``moment`` (the instant
    ingestion compares with an association's ``valid_from``), or None when there are none."""
    found = LineItem.objects.filter(
        customer_id=customer_id,
        charge_day__gte=clock.billing_date(moment),  # lets the (customer, charge_day) index narrow the scan
        charge_period_start__gte=moment,
    ).aggregate(count=Count("pk"), first=Min("charge_period_start"), last=Max("charge_period_start"))
    if not found["count"]:
        return None
    return ChargeSpan(found["count"], found["first"], found["last"])


def closed_months_from(partner_ids: Iterable[int], month: dt.date) -> list[tuple[int, dt.date]]:
    """``(partner_id, month)`` of the months from ``month`` on (first day of a month in the billing
    time zone) whose partner bill has been generated, oldest first."""
    return list(
        ClosedMonth.objects.filter(partner_id__in=list(partner_ids), month__gte=month.replace(day=1))
        .order_by("month", "partner_id")
        .values_list("partner_id", "month")
    )


def is_month_closed(partner_id: int, month: dt.date) -> bool:
    """Whether the partner's bill for the month holding ``month`` has been generated."""
    return ClosedMonth.objects.filter(partner_id=partner_id, month=month.replace(day=1)).exists()


def hold_ledger_still() -> None:
    """Keep ingestion out until the caller's transaction ends, so that what the caller reads from
    the ledger next stays true until it commits.

    This is the serialisation ingestion itself takes: on PostgreSQL the same transaction-level
    advisory lock; on SQLite every write transaction already begins with ``BEGIN IMMEDIATE``
    (settings), which holds the database's one write lock from its first statement.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("hold_ledger_still() needs a transaction")
    if connection.vendor == "postgresql":
        with connection.cursor() as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", [INGEST_LOCK_KEY])


# ---- reads for the partner bill (billing reads the ledger only through these) ----------------

# The key of a bill line: what the partner bill groups a month's reseller line items by.
BILL_LINE_KEY = ("partner_id", "billing_currency", "customer_id", "service_type", "service_name", "region_id")


def ledger_watermark() -> int:
    """The id of the latest line item stored. Ingestion is serialised, so under
    :func:`hold_ledger_still` every line item committed so far has an id at or below it and every
    later one an id above it."""
    return LineItem.objects.aggregate(top=Max("pk"))["top"] or 0


def _reseller_items() -> QuerySet[LineItem]:
    # B1: the association in force at charge time, as stored on the row.
    return LineItem.objects.filter(association_type="reseller")


def reseller_month_lines(
    month: dt.date, through: int, partner_ids: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """One ``GROUP BY`` over ``month``'s reseller line items that are not corrections, with ids up
    to ``through``: per partner, currency, customer, product (service type and name), region and
    classification, the exact sum of BilledCost and the number of line items."""
    month = month.replace(day=1)
    qs = _reseller_items().filter(
        charge_day__gte=month, charge_day__lt=_next_month(month), is_correction=False, pk__lte=through
    )
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=list(partner_ids))
    return list(qs.values(*BILL_LINE_KEY, "classification").annotate(amount=ExactSum("billed_cost"), count=Count("pk")))


def reseller_corrections(after: int, through: int, partner_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The reseller line items flagged as corrections (they arrived after their month was closed)
    with ids in ``(after, through]``, grouped like :func:`reseller_month_lines` plus the month
    they correct (``charge_month``)."""
    if through <= after:
        return []
    qs = _reseller_items().filter(is_correction=True, pk__gt=after, pk__lte=through, partner_id__in=list(partner_ids))
    return list(
        qs.values(*BILL_LINE_KEY, "classification", "charge_month").annotate(
            amount=ExactSum("billed_cost"), count=Count("pk")
        )
    )


def reseller_month_totals(month: dt.date, partner_ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    """The month so far, per partner, currency and classification, from the daily rollups (the
    estimate of the current month, rule B3)."""
    month = month.replace(day=1)
    qs = DailyRollup.objects.filter(association_type="reseller", day__gte=month, day__lt=_next_month(month))
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=list(partner_ids))
    return [dict(r) for r in qs.values("partner_id", "currency", "classification").annotate(amount=ExactSum("amount"))]


def earliest_charge_month() -> dt.date | None:
    """The earliest charge month in the ledger (None when it is empty): where billing starts.
    Reads the whole ledger, so it is asked only until a first month is closed."""
    found = LineItem.objects.aggregate(first=Min("charge_day"))["first"]
    return found.replace(day=1) if found else None


def closed_month_counts(since: dt.date) -> dict[dt.date, int]:
    """How many partners have each month from ``since`` on closed."""
    rows = ClosedMonth.objects.filter(month__gte=since).values("month").annotate(n=Count("pk"))
    return {r["month"]: r["n"] for r in rows}


def earliest_closed_month() -> dt.date | None:
    return ClosedMonth.objects.aggregate(first=Min("month"))["first"]


def partners_with_month_closed(month: dt.date) -> set[int]:
    return set(ClosedMonth.objects.filter(month=month.replace(day=1)).values_list("partner_id", flat=True))


def bill_line_items(
    *,
    partner_id: int,
    currency: str,
    customer_id: int,
    service_type: str,
    service_name: str,
    region_id: str,
    classification: str,
    month: dt.date,
    corrects_month: dt.date | None,
    after: int,
    through: int,
) -> QuerySet[LineItem]:
    """The line items one bill line was computed from: the bill's month up to its watermark, or
    for a carried correction, the corrections of ``corrects_month`` in ``(after, through]``."""
    qs = _reseller_items().filter(
        partner_id=partner_id,
        billing_currency=currency,
        customer_id=customer_id,
        service_type=service_type,
        service_name=service_name,
        region_id=region_id,
        classification=classification,
        pk__lte=through,
    )
    if corrects_month is None:
        start = month.replace(day=1)
        return qs.filter(charge_day__gte=start, charge_day__lt=_next_month(start), is_correction=False)
    # The day range says the same as charge_month; it lets PostgreSQL prune month partitions.
    first = corrects_month.replace(day=1)
    return qs.filter(
        charge_month=first,
        charge_day__gte=first,
        charge_day__lt=_next_month(first),
        is_correction=True,
        pk__gt=after,
    )


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# ---- reads for the customer bills (customer_bills reads the ledger only through this) ---------


def customer_month_totals(month: dt.date, through: int) -> list[dict[str, Any]]:
    """One ``GROUP BY`` over ``month``'s reseller line items that are not corrections, with ids up
    to ``through``: per partner, customer and billing currency, the exact sum of BilledCost
    (``amount``) and the number of line items (``count``), ordered by those keys."""
    month = month.replace(day=1)
    qs = _reseller_items().filter(
        charge_day__gte=month, charge_day__lt=_next_month(month), is_correction=False, pk__lte=through
    )
    rows = qs.values("partner_id", "customer_id", "billing_currency").annotate(
        amount=ExactSum("billed_cost"), count=Count("pk")
    )
    return sorted((dict(r) for r in rows), key=lambda r: (r["partner_id"], r["customer_id"], r["billing_currency"]))


# ---- reads for customer bill downloads (C4) -----------------------------------------------------

# A customer bill's line item as the downloads write it: every stored field a bill detail shows.
CUSTOMER_BILL_LINE_FIELDS = (
    "id",
    "x_line_id",
    "partner__code",
    "partner__name",
    "customer__account_id",
    "customer__name",
    "charge_period_start",
    "charge_period_end",
    "provider_name",
    "publisher_name",
    "service_type",
    "service_name",
    "service_category",
    "sku_id",
    "x_project",
    "region_id",
    "region_name",
    "resource_id",
    "resource_name",
    "resource_type",
    "x_billing_mode",
    "x_order_id",
    "charge_category",
    "charge_class",
    "charge_frequency",
    "pricing_category",
    "classification",
    "charge_description",
    "pricing_quantity",
    "pricing_unit",
    "list_cost",
    "effective_cost",
    "billed_cost",
    "billing_currency",
    "is_correction",
)


def customer_bill_line_items(
    partner_ids: Iterable[int] | None,
    month: dt.date,
    customer_ids: Iterable[int] | None = None,
    through_day: dt.date | None = None,
) -> Iterable[dict[str, Any]]:
    """An iterator over the reseller line items of ``month`` (billing time zone) of the partners ``partner_ids``
    (None: every partner) and, when given, of the customers ``customer_ids``, streamed as
    ``values()`` dicts of :data:`CUSTOMER_BILL_LINE_FIELDS` in charge order (ChargePeriodStart,
    then id).

    Only charges up to ``through_day`` and never after yesterday (billing time zone, rule C1:
    the current month shows the data up to the previous day). Referral line items never: their
    customers pay the cloud directly. The filter leads with the indexed ``(partner, charge_day)``
    or ``(customer, charge_day)`` pair, and ordering by the day first lets both engines sort one
    day at a time when one partner or customer is read."""
    qs = _customer_bill_items(partner_ids, month, customer_ids, through_day)
    if qs is None:
        return iter(())
    rows = qs.values(*CUSTOMER_BILL_LINE_FIELDS).order_by("charge_day", "charge_period_start", "id")
    return rows.iterator(chunk_size=5000)


def _customer_bill_items(
    partner_ids: Iterable[int] | None,
    month: dt.date,
    customer_ids: Iterable[int] | None,
    through_day: dt.date | None,
) -> QuerySet[LineItem] | None:
    """The line items of :func:`customer_bill_line_items`, unordered; None when none can be."""
    start = month.replace(day=1)
    last = min(_next_month(start) - dt.timedelta(days=1), clock.today() - dt.timedelta(days=1))
    if through_day is not None:
        last = min(last, through_day)
    if last < start:
        return None
    qs = _reseller_items().filter(charge_day__gte=start, charge_day__lte=last)
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=list(partner_ids))
    if customer_ids is not None:
        qs = qs.filter(customer_id__in=list(customer_ids))
    return qs


# The columns of :func:`customer_bill_rows`, in the order of a customer bill file.
CUSTOMER_BILL_ROW_FIELDS = (
    "id",
    "x_line_id",
    "charge_period_start",
    "charge_period_end",
    "partner_id",
    "customer_id",
    "service_type",
    "service_name",
    "service_category",
    "x_project",
    "region_id",
    "region_name",
    "resource_id",
    "resource_name",
    "x_billing_mode",
    "x_order_id",
    "classification",
    "charge_category",
    "charge_description",
    "pricing_quantity",
    "pricing_unit",
    "list_cost",
    "effective_cost",
    "billed_cost",
    "billing_currency",
    "is_correction",
)
_TEXT_INSTANTS = ("charge_period_start", "charge_period_end")
_TEXT_AMOUNTS = ("pricing_quantity", "list_cost", "effective_cost", "billed_cost")


class _AsText(Func):
    """A column as the database's text of it: an instant in UTC, an amount as canonical decimal
    text. SQLite stores both as such text already (the instant is cast all the same: a bare
    ``datetime`` column would be parsed by the driver's converter); PostgreSQL casts
    (``trim_scale`` drops the numeric's trailing zeros, as ``ExactDecimalField`` reads it and
    ``money.canonical`` stores it)."""

    arity = 1
    output_field = TextField()

    def __init__(self, column: str, *, amount: bool) -> None:
        super().__init__(F(column))
        self.amount = amount

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "COALESCE(%(expressions)s, '')" if self.amount else "CAST(%(expressions)s AS TEXT)"
        return super().as_sql(compiler, connection, template=template, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = "COALESCE(trim_scale(%(expressions)s)::text, '')" if self.amount else "(%(expressions)s)::text"
        return super().as_sql(compiler, connection, template=template, **extra)


def instant_from_text(text: str) -> dt.datetime:
    """The aware instant of a timestamp as :func:`customer_bill_rows` gives it."""
    instant = dt.datetime.fromisoformat(text)
    return instant if instant.tzinfo is not None else instant.replace(tzinfo=dt.UTC)


def customer_bill_rows(
    partner_ids: Iterable[int] | None,
    month: dt.date,
    customer_ids: Iterable[int] | None = None,
    through_day: dt.date | None = None,
) -> Iterator[tuple[Any, ...]]:
    """The line items of :func:`customer_bill_line_items`, in the same order, as plain tuples of
    :data:`CUSTOMER_BILL_ROW_FIELDS` read with a bare cursor (a server-side one on PostgreSQL),
    without the ORM's per-value conversions: the timestamps as text of the UTC instant
    (:func:`instant_from_text`), the amounts as canonical decimal text (``money.canonical``:
    ``format(value, "f")`` of the ``Decimal`` the ORM would read; ``""`` when empty), the
    partner and the customer as ids, ``is_correction`` true or false (0/1 on SQLite).

    For files written at a million rows: ``values()`` spends more on converting each value than
    the database on reading it."""
    qs = _customer_bill_items(partner_ids, month, customer_ids, through_day)
    if qs is None:
        return iter(())
    text = {name: _AsText(name, amount=False) for name in _TEXT_INSTANTS}
    text |= {name: _AsText(name, amount=True) for name in _TEXT_AMOUNTS}
    named = {name: f"t_{name}" for name in text}
    qs = qs.annotate(**{named[name]: expr for name, expr in text.items()})
    columns = [named.get(name, name) for name in CUSTOMER_BILL_ROW_FIELDS]
    rows = qs.order_by("charge_day", "charge_period_start", "id").values_list(*columns)
    sql, params = rows.query.get_compiler(using=rows.db).as_sql()
    return chain.from_iterable(_fetched(sql, params))  # no Python frame per row


def _fetched(sql: str, params: Sequence[Any]) -> Iterator[list[tuple[Any, ...]]]:
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(5000):
            yield chunk


# ---- reads for incentives (incentives read the ledger only through this) -----------------------

# What an incentive line groups a period's line items by: partner, customer, order, service type
# and product type (ServiceCategory), with the classification kept apart so that a refund can be
# told from an expenditure (a refund of an order rewarded earlier is a clawback, not a netting).
INCENTIVE_KEY = ("partner_id", "customer_id", "x_order_id", "service_type", "service_category", "classification")
# Tax and adjustments never earn an incentive.
INCENTIVE_CLASSIFICATIONS = ("expenditure", "refund")


def incentive_base_rows(
    start: dt.date,
    end: dt.date,
    *,
    association_type: str,
    currency: str,
    service_types: Sequence[str] = (),
    product_types: Sequence[str] = (),
    partner_ids: Iterable[int] | None = None,
    through: int | None = None,
) -> list[dict[str, Any]]:
    """One ``GROUP BY`` over the line items charged on the days ``[start, end)`` (billing time
    zone) of ``association_type`` in ``currency`` that are expenditure or refunds, of the given
    service types and product types (empty: every one), of the partners ``partner_ids`` (None:
    every partner), with ids up to ``through`` (None: all stored): per :data:`INCENTIVE_KEY`, the
    exact sum of BilledCost (``amount``) and the number of line items (``count``), in key order.
    Corrections count in the period of their charge day like any other line item."""
    qs = LineItem.objects.filter(
        association_type=association_type,
        billing_currency=currency,
        charge_day__gte=start,
        charge_day__lt=end,
        classification__in=INCENTIVE_CLASSIFICATIONS,
    )
    if service_types:
        qs = qs.filter(service_type__in=list(service_types))
    if product_types:
        qs = qs.filter(service_category__in=list(product_types))
    if partner_ids is not None:
        qs = qs.filter(partner_id__in=list(partner_ids))
    if through is not None:
        qs = qs.filter(pk__lte=through)
    rows = qs.values(*INCENTIVE_KEY).annotate(amount=ExactSum("billed_cost"), count=Count("pk"))
    return sorted((dict(r) for r in rows), key=lambda r: tuple(r[k] for k in INCENTIVE_KEY))


def daily_expenditure(first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Per partner, customer, currency and day (billing time zone) of ``[first, last]``: the exact
    sum of the day's expenditure (``total``), from the daily rollups; days without any are absent.
    For customer alerts' spend spikes (O3)."""
    rows = (
        DailyRollup.objects.filter(day__gte=first, day__lte=last, classification="expenditure")
        .values("partner_id", "customer_id", "currency", "day")
        .annotate(total=ExactSum("amount"))
    )
    return sorted((dict(r) for r in rows), key=lambda r: (r["partner_id"], r["customer_id"], r["currency"], r["day"]))


def _marketplace_items(month: dt.date, service_names: Iterable[str]) -> QuerySet[LineItem]:
    # Sales are what the customers were charged for the product, refunds and adjustments included;
    # tax is the platform's to remit, never shared.
    month = month.replace(day=1)
    return LineItem.objects.filter(
        service_type="marketplace",
        service_name__in=list(service_names),
        charge_month=month,
        # the same month as a day range, so that PostgreSQL prunes month partitions
        charge_day__gte=month,
        charge_day__lt=_next_month(month),
    ).exclude(classification="tax")


def marketplace_sales(month: dt.date, service_names: Iterable[str]) -> list[dict[str, Any]]:
    """Marketplace sales (O5) of ``month`` (billing time zone) per service name and currency: the
    exact sum of BilledCost and the number of line items."""
    rows = (
        _marketplace_items(month, service_names)
        .values("service_name", "billing_currency")
        .annotate(amount=ExactSum("billed_cost"), count=Count("pk"))
        .order_by("service_name", "billing_currency")
    )
    return [dict(r) for r in rows]


def marketplace_line_items(month: dt.date, service_names: Iterable[str]) -> QuerySet[LineItem]:
    """The line items behind :func:`marketplace_sales`, oldest first (paginate with slices)."""
    return _marketplace_items(month, service_names).select_related("customer").order_by("charge_period_start", "pk")
