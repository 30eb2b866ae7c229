"""Reads for customer expenditure (rules E1-E6): the summary per customer and the line items
behind it. Every query starts from the scoping module and the E2 visibility rule.

* Scope: rows carry the partner that held the customer when the charge happened; the user sees
  rows whose partner is in ``scoping.partner_ids_for(user)`` (a distributor also views its
  second-level resellers' customers).
* E2: days after ``usage.freshness.last_visible_day(at)`` are never returned.
* E3: an account manager sees only customers assigned to them, and only from the day the
  assignment took effect (``scoping.assignment_windows``).
* Sums are exact: the summary adds split integers (core.money.split) in SQL, details are
  exact decimals.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import Q, QuerySet

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.accounts.names import person_name
from partnercenter.core import clock, masking
from partnercenter.core.money import CONTEXT, ZERO, from_scaled, scaled
from partnercenter.partners.models import AccountManagerAssignment, Customer
from partnercenter.usage import freshness, running
from partnercenter.usage.models import LineItem

CLASSES = ("expenditure", "refund", "adjustment", "tax")
SUMMARY_SORTS = ("account", "name", "expenditure", "refund", "net")


def default_period(at: dt.datetime | None = None) -> tuple[dt.date, dt.date]:
    """The latest month with queryable data (E2), in the billing time zone: this month, or last
    month on the days when none of this month is queryable yet (the 1st and the 2nd)."""
    at = at or clock.now()
    today = clock.billing_date(at)
    visible = freshness.last_visible_day(at)
    if visible >= today.replace(day=1):
        return today.replace(day=1), today
    return visible.replace(day=1), today.replace(day=1) - dt.timedelta(days=1)


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # inclusive, already clamped to the last visible day (E2)
    last_visible_day: dt.date
    complete_through: dt.date | None
    # True when no date was given and this month had nothing queryable yet: last month is shown.
    fell_back: bool = False

    @property
    def empty(self) -> bool:
        return self.start > self.end


def period(start: dt.date | None, end: dt.date | None, at: dt.datetime | None = None) -> Period:
    at = at or clock.now()
    d_start, d_end = default_period(at)
    fell_back = start is None and end is None and d_start < clock.billing_date(at).replace(day=1)
    start = start or d_start
    end = end or d_end
    visible = freshness.last_visible_day(at)
    return Period(start, min(end, visible), visible, freshness.data_complete_through(at), fell_back)


def _window_q(user: User, at: dt.datetime, day_field: str) -> Q | None:
    """E3 for account managers: (customer, from-day) pairs; None when no time restriction applies."""
    windows = scoping.assignment_windows(user, at)
    if windows is None:
        return None
    if not windows:
        return Q(pk__in=[])
    parts = [
        Q(customer_id=w.customer_id, **{f"{day_field}__gte": clock.billing_date(w.start)})
        if w.start is not None
        else Q(customer_id=w.customer_id)
        for w in windows
    ]
    return functools.reduce(operator.or_, parts)


def _scoped(qs: QuerySet[Any], user: User, at: dt.datetime, day_field: str) -> QuerySet[Any]:
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    window = _window_q(user, at, day_field)
    if window is not None:
        qs = qs.filter(window)
    return qs


def _managed_by(manager_id: int, at: dt.datetime) -> QuerySet[AccountManagerAssignment, int]:
    return (
        AccountManagerAssignment.objects.filter(manager_id=manager_id, assigned_at__lte=at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .values_list("customer_id", flat=True)
    )


# --------------------------------------------------------------------------------------------
# Summary (E1)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SummaryFilter:
    name: str = ""  # fuzzy, on the real name (never the masked one)
    start: dt.date | None = None
    end: dt.date | None = None
    manager_id: int | None = None
    association_type: str = ""
    sort: str = "-expenditure"

    def as_params(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            "manager_id": self.manager_id,
            "association_type": self.association_type,
            "sort": self.sort,
        }

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> SummaryFilter:
        return cls(
            name=p.get("name") or "",
            start=dt.date.fromisoformat(p["start"]) if p.get("start") else None,
            end=dt.date.fromisoformat(p["end"]) if p.get("end") else None,
            manager_id=p.get("manager_id") or None,
            association_type=p.get("association_type") or "",
            sort=p.get("sort") or "-expenditure",
        )


@dataclass
class SummaryRow:
    customer_id: int
    account_id: str
    name: str
    email: str
    mobile: str
    association_type: str
    currency: str
    expenditure: Decimal
    refund: Decimal  # shown positive
    adjustment: Decimal
    tax: Decimal
    net: Decimal  # expenditure - refund + adjustment + tax = sum of BilledCost
    manager_username: str = ""
    manager_name: str = ""
    line_count: int = 0


@dataclass
class Summary:
    period: Period
    rows: list[SummaryRow]  # the requested page
    total: int  # rows matching the filter
    # per currency: expenditure, refund, adjustment, tax, net over the whole filter
    totals: dict[str, dict[str, Decimal]] = field(default_factory=dict)


@dataclass(slots=True)
class _Group:
    """A summary line before it is shown: amounts as exact integers in units of 10^-15."""

    customer_id: int
    account_id: str
    name: str
    association_type: str
    currency: str
    expenditure: int
    refund: int  # positive
    adjustment: int
    tax: int
    net: int
    line_count: int

    def row(self) -> SummaryRow:
        return SummaryRow(
            customer_id=self.customer_id,
            account_id=self.account_id,
            name=self.name,
            email="",
            mobile="",
            association_type=self.association_type,
            currency=self.currency,
            expenditure=from_scaled(self.expenditure),
            refund=from_scaled(self.refund),
            adjustment=from_scaled(self.adjustment),
            tax=from_scaled(self.tax),
            net=from_scaled(self.net),
            line_count=self.line_count,
        )


@dataclass(frozen=True)
class _Reach:
    """What a summary's figures depend on besides the ledger and the filter's text fields.

    ``starts`` (account managers, E3 with E2): customer id → first day shown, only for customers
    with at least one day inside [period start, last queryable day]; a customer assigned so
    recently that its first visible day is after the period's end has no figures at all.
    ``managed``: the customers of the "Account manager" filter at ``at``.
    """

    partner_ids: tuple[int, ...] | None
    starts: tuple[tuple[int, dt.date], ...] | None
    managed: tuple[int, ...] | None


def _reach(user: User, f: SummaryFilter, at: dt.datetime, p: Period) -> _Reach:
    ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    windows = scoping.assignment_windows(user, at)
    starts = None
    if windows is not None:
        first = {w.customer_id: max(clock.billing_date(w.start), p.start) if w.start else p.start for w in windows}
        starts = tuple(sorted((c, d) for c, d in first.items() if d <= p.end))
    managed = None
    if f.manager_id:
        managed = tuple(sorted(set(_managed_by(f.manager_id, at))))
    return _Reach(None if ids is None else tuple(sorted(ids)), starts, managed)


def _summary_groups(user: User, f: SummaryFilter, p: Period, reach: _Reach) -> list[_Group]:
    if p.empty or reach.starts == () or reach.managed == ():
        return []
    subqueries = []
    if f.name:
        found = Customer.objects.filter(masking.customer_search_q(user, f.name, name_only=True))
        subqueries.append(found.values("pk").query.sql_with_params())
    if reach.managed is not None:
        subqueries.append(Customer.objects.filter(pk__in=reach.managed).values("pk").query.sql_with_params())
    grouped = running.period_rows(
        None if reach.partner_ids is None else list(reach.partner_ids),
        p.start,
        p.end,
        association_type=f.association_type,
        customer_subqueries=subqueries,
        windows=None if reach.starts is None else dict(reach.starts),
    )
    groups = []
    make = _Group
    # Hot loop over every customer of the filter: plain integer arithmetic, no Decimal.
    for c, acct, name, assoc, cur, eu, eh, el, ru, rh, rl, au, ah, al, tu, th, tl, n in grouped:
        e = scaled(eu, eh, el)
        r = scaled(ru, rh, rl)
        a = scaled(au, ah, al)
        t = scaled(tu, th, tl)
        groups.append(make(c, acct, name, assoc, cur, e, -r, a, t, e + r + a + t, n))
    return groups


def _sort(groups: list[_Group], sort: str) -> None:
    key = sort.lstrip("-")
    if key not in SUMMARY_SORTS:
        key = "expenditure"
    reverse = sort.startswith("-")
    if key == "account":
        groups.sort(key=lambda r: (r.account_id, r.currency), reverse=reverse)
    elif key == "name":
        groups.sort(key=lambda r: (r.name, r.account_id), reverse=reverse)
    else:
        # Ties broken by account id so paging is stable.
        groups.sort(key=operator.attrgetter("account_id"))
        groups.sort(key=operator.attrgetter(key), reverse=reverse)


def _totals(groups: list[_Group]) -> dict[str, dict[str, Decimal]]:
    sums: dict[str, list[int]] = {}
    for g in groups:
        t = sums.setdefault(g.currency, [0, 0, 0, 0, 0])
        t[0] += g.expenditure
        t[1] += g.refund
        t[2] += g.adjustment
        t[3] += g.tax
        t[4] += g.net
    return {cur: {k: from_scaled(v) for k, v in zip((*CLASSES, "net"), t, strict=True)} for cur, t in sums.items()}


def _fill_contacts(rows: list[SummaryRow]) -> None:
    """Email and mobile for the rows about to be shown (the grouped rows carry only the name)."""
    info = dict(
        (pk, (email, mobile))
        for pk, email, mobile in Customer.objects.filter(pk__in={r.customer_id for r in rows}).values_list(
            "pk", "email", "mobile"
        )
    )
    for r in rows:
        r.email, r.mobile = info[r.customer_id]


def _fill_managers(rows: list[SummaryRow], user: User, at: dt.datetime) -> None:
    ids = scoping.partner_ids_for(user)
    qs = (
        AccountManagerAssignment.objects.filter(customer_id__in={r.customer_id for r in rows}, assigned_at__lte=at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .values_list("customer_id", "manager__username", "manager__first_name", "manager__last_name")
    )
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    managers = {c: (u, person_name(fn, ln) or u) for c, u, fn, ln in qs}
    for r in rows:
        r.manager_username, r.manager_name = managers.get(r.customer_id, ("", ""))


# Grouped summary rows of recent filters, per process. Paging, sorting and revealing a column
# re-use them instead of seeking every customer's running totals again. An entry is valid while
# the ledger version (bumped by every ingestion batch), the user's scope (with an account
# manager's first visible day per customer), the customers of the manager filter, the filter and
# the period are unchanged; entries also age out after a few minutes so out-of-band edits (a
# customer renamed in the admin) show up.
_CACHE_SIZE = 32
_CACHE_SECONDS = 300.0
_cache: OrderedDict[tuple[Any, ...], tuple[float, list[_Group]]] = OrderedDict()
_cache_lock = threading.Lock()


def clear_summary_cache() -> None:
    with _cache_lock:
        _cache.clear()


def _cache_key(user: User, f: SummaryFilter, p: Period, reach: _Reach) -> tuple[Any, ...]:
    from partnercenter.usage.ingest import ledger_version

    # Everything the grouped rows are computed from: the ledger, the scope with each account
    # manager's first visible days, the customers of the manager filter, the filter and the period.
    # What a name search may match depends on whether the user may reveal names (E5).
    return (ledger_version(), reach, f.name, masking.may_reveal(user), f.association_type, p.start, p.end)


def _groups(user: User, f: SummaryFilter, at: dt.datetime, p: Period) -> list[_Group]:
    """The filter's grouped rows (a fresh list the caller may sort)."""
    reach = _reach(user, f, at, p)
    key = _cache_key(user, f, p, reach)
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and now - hit[0] < _CACHE_SECONDS:
            _cache.move_to_end(key)
            return list(hit[1])
    groups = _summary_groups(user, f, p, reach)
    with _cache_lock:
        _cache[key] = (now, groups)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return list(groups)


def summary(
    user: User, f: SummaryFilter, *, limit: int = 20, offset: int = 0, at: dt.datetime | None = None
) -> Summary:
    """One row per customer, association type and currency; totals over the whole filter."""
    at = at or clock.now()
    p = period(f.start, f.end, at)
    groups = _groups(user, f, at, p)
    _sort(groups, f.sort)
    page = [g.row() for g in groups[offset : offset + limit]]
    _fill_contacts(page)
    _fill_managers(page, user, at)
    return Summary(period=p, rows=page, total=len(groups), totals=_totals(groups))


def iter_summary(
    user: User, f: SummaryFilter, at: dt.datetime | None = None, chunk: int = 2000
) -> Iterator[SummaryRow]:
    """Every summary row for the filter, in the page order, for exports."""
    at = at or clock.now()
    p = period(f.start, f.end, at)
    groups = _groups(user, f, at, p)
    _sort(groups, f.sort)
    for i in range(0, len(groups), chunk):
        part = [g.row() for g in groups[i : i + chunk]]
        _fill_contacts(part)
        _fill_managers(part, user, at)
        yield from part


# --------------------------------------------------------------------------------------------
# Details (E6): the line items behind the numbers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DetailFilter:
    account_id: str = ""
    start: dt.date | None = None
    end: dt.date | None = None
    product: str = ""  # service name
    service_type: str = ""  # cloud / marketplace
    region_id: str = ""
    billing_mode: str = ""
    classification: str = ""
    order_id: str = ""
    resource_id: str = ""
    project: str = ""

    def as_params(self) -> dict[str, Any]:
        d = {k: getattr(self, k) for k in self.__dataclass_fields__}
        d["start"] = self.start.isoformat() if self.start else None
        d["end"] = self.end.isoformat() if self.end else None
        return d

    @classmethod
    def from_params(cls, p: dict[str, Any]) -> DetailFilter:
        values = {k: (p.get(k) or "") for k in cls.__dataclass_fields__ if k not in ("start", "end")}
        return cls(
            start=dt.date.fromisoformat(p["start"]) if p.get("start") else None,
            end=dt.date.fromisoformat(p["end"]) if p.get("end") else None,
            **values,
        )


DETAIL_FIELDS = (
    "id",
    "charge_day",
    "charge_period_start",
    "charge_period_end",
    "customer__account_id",
    "customer__name",
    "association_type",
    "partner__code",
    "service_name",
    "service_category",
    "service_type",
    "region_id",
    "region_name",
    "x_project",
    "x_billing_mode",
    "x_order_id",
    "resource_id",
    "resource_name",
    "charge_category",
    "classification",
    "charge_description",
    "billing_currency",
    "billed_cost",
    "list_cost",
    "effective_cost",
    "pricing_quantity",
    "pricing_unit",
    "is_correction",
)


def details_queryset(user: User, f: DetailFilter, at: dt.datetime | None = None) -> tuple[QuerySet[LineItem], Period]:
    at = at or clock.now()
    p = period(f.start, f.end, at)
    qs = LineItem.objects.filter(charge_day__gte=p.start, charge_day__lte=p.end)
    if p.empty:
        qs = qs.none()
    qs = _scoped(qs, user, at, "charge_day")
    if f.account_id:
        qs = qs.filter(customer__account_id=f.account_id)
    exact = {
        "service_name": f.product,
        "service_type": f.service_type,
        "region_id": f.region_id,
        "x_billing_mode": f.billing_mode,
        "classification": f.classification,
        "x_order_id": f.order_id,
        "resource_id": f.resource_id,
        "x_project": f.project,
    }
    qs = qs.filter(**{k: v for k, v in exact.items() if v})
    return qs.order_by("-charge_period_start", "-id"), p


@dataclass
class Details:
    period: Period
    rows: list[dict[str, Any]]
    total: int
    totals: dict[str, dict[str, Decimal]]


def details(user: User, f: DetailFilter, *, limit: int = 50, offset: int = 0, at: dt.datetime | None = None) -> Details:
    qs, p = details_queryset(user, f, at)
    rows = list(qs.values(*DETAIL_FIELDS)[offset : offset + limit])
    totals: dict[str, dict[str, Decimal]] = {}
    from partnercenter.core.money import ExactSum

    for t in qs.order_by().values("billing_currency", "classification").annotate(s=ExactSum("billed_cost")):
        cur = totals.setdefault(t["billing_currency"], {k: ZERO for k in (*CLASSES, "net")})
        cur[t["classification"]] = -t["s"] if t["classification"] == "refund" and t["s"] else t["s"]
        cur["net"] = CONTEXT.add(cur["net"], t["s"])
    return Details(period=p, rows=rows, total=qs.count(), totals=totals)


def iter_details(user: User, f: DetailFilter, at: dt.datetime | None = None) -> Iterator[tuple[Any, ...]]:
    """Every line item for the filter, as tuples in DETAIL_FIELDS order, streamed for exports.

    Amounts come as exact decimal text on SQLite (the stored canonical form) and as Decimal on
    PostgreSQL. On SQLite the rows are read with a plain cursor and the repeated day and timestamp
    texts are converted once each: the ORM's per-cell converters were most of an export's time.
    """
    qs, _ = details_queryset(user, f, at)
    rows = qs.values_list(*DETAIL_FIELDS)
    if connection.vendor != "sqlite":
        yield from rows.iterator(chunk_size=5000)
        return
    try:
        sql, params = rows.query.sql_with_params()
    except EmptyResultSet:  # a scope that can match nothing (no customer, no partner)
        return
    days: dict[Any, dt.date] = {}
    times: dict[Any, dt.datetime] = {}

    # Django's SQLite converters may already have parsed the value (naive UTC); text otherwise.
    def day(raw: Any) -> dt.date:
        value = days.get(raw)
        if value is None:
            if len(days) > 50_000:
                days.clear()
            value = days[raw] = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(raw)
        return value

    def instant(raw: Any) -> dt.datetime:
        value = times.get(raw)
        if value is None:
            if len(times) > 50_000:
                times.clear()
            parsed = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(raw)
            value = times[raw] = parsed.replace(tzinfo=dt.UTC)
        return value

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        while batch := cursor.fetchmany(5000):
            for r in batch:
                yield (r[0], day(r[1]), instant(r[2]), instant(r[3]), *r[4:27], bool(r[27]))


def filter_choices(user: User, at: dt.datetime | None = None) -> dict[str, list[str]]:
    """Distinct products, regions and projects in the user's scope, for filter drop-downs."""
    at = at or clock.now()
    from partnercenter.usage.models import DailyRollup

    qs = _scoped(DailyRollup.objects.all(), user, at, "day")
    return {
        "products": sorted(set(qs.values_list("service_name", flat=True).distinct())),
        "regions": sorted(set(qs.values_list("region_id", flat=True).distinct()) - {""}),
        "projects": sorted(set(qs.values_list("x_project", flat=True).distinct()) - {""}),
    }
