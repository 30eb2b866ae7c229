"""Reads of customer bills' two levels (C2): Bill by Instance from the stored per-resource month
rows (:class:`ResourceMonth`, built by ``services.build_resource_months``) and Bill Details from
the line items themselves, for the partners and customers a caller passes in (the caller scopes:
``customer_bills.bill_selectors``).

Both levels cover the same line items: the month's reseller line items that are not corrections,
charged on or before the build's ``through_day`` (the month's last day once it is over; yesterday
while it runs). Totals, counts and filter choices of a build are kept per process, keyed on the
build (its month, ledger version, day and time), so paging through a month sums it once.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from threading import Lock
from typing import Any

from django.db.models import Count, QuerySet, Sum

from partnercenter.core import clock
from partnercenter.core.money import ExactSum

from . import ingest, services
from .models import DailyRollup, LineItem, ResourceMonth, ResourceMonthBuild

AMOUNTS = ("expenditure", "refund", "adjustment", "tax", "amount")
MAX_PAGE = 500
_CACHE_SIZE = 512


@dataclass(frozen=True)
class Filters:
    """The page's filters: product (service name), project, region (id); empty = any."""

    product: str = ""
    project: str = ""
    region: str = ""


@dataclass(frozen=True)
class Scope:
    """Whose rows: partner ids (None = every partner) and customer ids (None = every customer of
    those partners)."""

    partner_ids: tuple[int, ...] | None
    customer_ids: tuple[int, ...] | None = None

    @classmethod
    def of(cls, partner_ids: Iterable[int] | None, customer_ids: Iterable[int] | None = None) -> Scope:
        return cls(
            None if partner_ids is None else tuple(sorted(set(partner_ids))),
            None if customer_ids is None else tuple(sorted(set(customer_ids))),
        )


@dataclass(frozen=True)
class Totals:
    currency: str
    expenditure: Decimal
    refund: Decimal
    adjustment: Decimal
    tax: Decimal
    amount: Decimal
    line_item_count: int


@dataclass(frozen=True)
class Facets:
    products: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class InstancePage:
    rows: list[ResourceMonth]
    count: int
    totals: list[Totals]
    through_day: dt.date


@dataclass(frozen=True)
class DetailsPage:
    rows: list[LineItem]
    next_after: int | None  # the id to pass as ``after`` for the next page; None on the last
    through_day: dt.date


# ---- builds ---------------------------------------------------------------------------------------


def is_current(build: ResourceMonthBuild | None, month: dt.date, at: dt.datetime) -> bool:
    """Whether a build still holds: nothing ingested since and the same day covered."""
    return (
        build is not None
        and build.ledger_version == ingest.ledger_version()
        and build.through_day == services.resource_month_through_day(month, at)
    )


def ensure_current(month: dt.date, at: dt.datetime | None = None) -> ResourceMonthBuild:
    """The month's build, built first when it is missing or stale (the ledger moved since, or
    the covered day did)."""
    at = at or clock.now()
    month = month.replace(day=1)
    build = ResourceMonthBuild.objects.filter(month=month).first()
    if is_current(build, month, at):
        assert build is not None
        return build
    return services.build_resource_months(month, at=at)


def refresh_stale(at: dt.datetime | None = None) -> list[dt.date]:
    """The worker's refresh (``partnercenter tick``): rebuild every built month that is stale,
    and build the current and the previous month when they have none, so that pages rarely build
    on request. Returns the months built."""
    at = at or clock.now()
    today = clock.billing_date(at)
    current = today.replace(day=1)
    previous = (current - dt.timedelta(days=1)).replace(day=1)
    builds = {b.month: b for b in ResourceMonthBuild.objects.all()}
    built = []
    for month in sorted(set(builds) | {previous, current}):
        if not is_current(builds.get(month), month, at):
            services.build_resource_months(month, at=at)
            built.append(month)
    return built


# ---- months -------------------------------------------------------------------------------------


def months_with_data(partner_ids: Sequence[int] | None, at: dt.datetime | None = None) -> list[dt.date]:
    """The months (first days) that have reseller charges of the partners covered at ``at``
    (the current month only from its second day), newest first: one index seek per month."""
    at = at or clock.now()
    rollups = DailyRollup.objects.filter(association_type="reseller")
    if partner_ids is not None:
        rollups = rollups.filter(partner_id__in=list(partner_ids))
    first = rollups.order_by("day").values_list("day", flat=True).first()
    if first is None:
        return []
    months = []
    month = first.replace(day=1)
    last = clock.billing_date(at).replace(day=1)
    while month <= last:
        through = services.resource_month_through_day(month, at)
        if through >= month and rollups.filter(day__gte=month, day__lte=through).exists():
            months.append(month)
        month = _next_month(month)
    return months[::-1]


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


# ---- Bill by Instance ---------------------------------------------------------------------------


def _scoped(qs: QuerySet[Any], scope: Scope) -> QuerySet[Any]:
    if scope.partner_ids is not None:
        qs = qs.filter(partner_id__in=scope.partner_ids)
    if scope.customer_ids is not None:
        qs = qs.filter(customer_id__in=scope.customer_ids)
    return qs


def _filtered(qs: QuerySet[Any], filters: Filters) -> QuerySet[Any]:
    if filters.product:
        qs = qs.filter(service_name=filters.product)
    if filters.project:
        qs = qs.filter(x_project=filters.project)
    if filters.region:
        qs = qs.filter(region_id=filters.region)
    return qs


def instances(build: ResourceMonthBuild, scope: Scope, filters: Filters = Filters()) -> QuerySet[ResourceMonth]:
    """The build's rows in scope and filters, in the page's order (customer, then row)."""
    qs = _filtered(_scoped(ResourceMonth.objects.filter(month=build.month), scope), filters)
    return qs.order_by("customer_id", "id")


_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_cache_lock = Lock()


def _cached(key: tuple[Any, ...], compute: Any) -> Any:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = compute()
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return value


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _build_key(build: ResourceMonthBuild) -> tuple[Any, ...]:
    return (build.month, build.ledger_version, build.through_day, build.built_at, build.rows)


def summary(build: ResourceMonthBuild, scope: Scope, filters: Filters = Filters()) -> tuple[int, list[Totals]]:
    """How many rows, and the totals per currency (exact), over the whole scope and filters."""

    def compute() -> tuple[int, list[Totals]]:
        qs = instances(build, scope, filters).order_by()
        sums: dict[str, Any] = {a: ExactSum(a) for a in AMOUNTS}
        grouped: Any = qs.values("currency").annotate(**sums, lines=Sum("line_item_count"), n=Count("pk"))
        rows: list[dict[str, Any]] = list(grouped)
        totals = [
            Totals(
                currency=r["currency"],
                expenditure=r["expenditure"],
                refund=r["refund"],
                adjustment=r["adjustment"],
                tax=r["tax"],
                amount=r["amount"],
                line_item_count=int(r["lines"]),
            )
            for r in sorted(rows, key=lambda r: r["currency"])
        ]
        return sum(r["n"] for r in rows), totals

    result: tuple[int, list[Totals]] = _cached(("summary", _build_key(build), scope, filters), compute)
    return result


def instance_page(
    build: ResourceMonthBuild, scope: Scope, filters: Filters = Filters(), *, limit: int = 50, offset: int = 0
) -> InstancePage:
    """One page of Bill by Instance (ORDER BY customer, row; LIMIT/OFFSET) with the count and totals."""
    limit = max(1, min(limit, MAX_PAGE))
    count, totals = summary(build, scope, filters)
    # Deferred join: the page's ids from the index alone, then only those rows (a deep OFFSET
    # skips index entries, not table rows).
    ids = list(instances(build, scope, filters).values_list("id", flat=True)[offset : offset + limit])
    found = ResourceMonth.objects.filter(id__in=ids).select_related("customer", "partner").in_bulk()
    rows = [found[i] for i in ids]
    return InstancePage(rows, count, totals, build.through_day)


def facets(build: ResourceMonthBuild, scope: Scope) -> Facets:
    """The products, projects and regions of the month in scope: the filters' choices."""

    def compute() -> Facets:
        qs = _scoped(ResourceMonth.objects.filter(month=build.month), scope)
        return Facets(
            *(
                sorted(v for v in qs.order_by(f).values_list(f, flat=True).distinct() if v)
                for f in ("service_name", "x_project", "region_id")
            )
        )

    result: Facets = _cached(("facets", _build_key(build), scope), compute)
    return result


# ---- Bill Details -------------------------------------------------------------------------------


def details(build: ResourceMonthBuild, scope: Scope, filters: Filters = Filters()) -> QuerySet[LineItem]:
    """The line items the build's rows were made of (same scope and filters), ordered by id."""
    qs = LineItem.objects.filter(
        association_type="reseller",
        charge_day__gte=build.month,
        charge_day__lte=build.through_day,
        is_correction=False,
    )
    return _filtered(_scoped(qs, scope), filters).order_by("id")


def details_page(
    build: ResourceMonthBuild, scope: Scope, filters: Filters = Filters(), *, after: int = 0, limit: int = 50
) -> DetailsPage:
    """One page of Bill Details by keyset: the line items with ids above ``after``."""
    limit = max(1, min(limit, MAX_PAGE))
    rows = list(details(build, scope, filters).filter(id__gt=after).select_related("customer")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return DetailsPage(rows, rows[-1].pk if more else None, build.through_day)
