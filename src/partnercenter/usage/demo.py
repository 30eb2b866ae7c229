"""Thirteen months of rated usage for the demo organisation, loaded through the ingestion path.

Cloud and marketplace products, several regions and projects, prepaid (yearly and monthly),
pay-per-use and a monthly 95th-percentile bandwidth product; refunds from order cancellations
and specification changes, adjustments, taxes, and a few customers whose refunds exceed their
spend in one month. One native batch per month, as a billing system would deliver it.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Min

from partnercenter.core import clock
from partnercenter.partners.models import Customer, CustomerAssociation

from . import services
from .ingest import Report

MONTHS = 13
CURRENCY = "CNY"
TAX_RATE = Decimal("0.06")


@dataclass(frozen=True)
class Product:
    code: str
    name: str
    category: str
    mode: str  # pay_per_use | prepaid_monthly | prepaid_yearly | monthly_95th_bandwidth
    base: Decimal  # typical daily (pay-per-use) or per-period price in CNY
    publisher: str = ""  # marketplace products have a third-party publisher

    @property
    def service_type(self) -> str:
        return "marketplace" if self.publisher else "cloud"


PRODUCTS = (
    Product("ecs", "Elastic Cloud Server", "Compute", "pay_per_use", Decimal("86.4")),
    Product("ecs-m", "Elastic Cloud Server", "Compute", "prepaid_monthly", Decimal("1288")),
    Product("ecs-y", "Elastic Cloud Server", "Compute", "prepaid_yearly", Decimal("12880")),
    Product("evs", "Elastic Volume Service", "Storage", "pay_per_use", Decimal("12.6")),
    Product("obs", "Object Storage Service", "Storage", "pay_per_use", Decimal("23.75")),
    Product("rds", "Relational Database Service", "Databases", "prepaid_monthly", Decimal("2150")),
    Product("cdn", "Content Delivery Network", "Networking", "monthly_95th_bandwidth", Decimal("3600")),
    Product("eip", "Elastic IP", "Networking", "pay_per_use", Decimal("4.8")),
    Product("waf", "SecureWAF Pro", "Security", "prepaid_yearly", Decimal("9800"), publisher="SecureWAF Co., Ltd."),
    Product("bi", "DataViz BI", "Analytics", "prepaid_monthly", Decimal("699"), publisher="DataViz Software Ltd."),
)
REGIONS = (
    ("cn-north-4", "CN North-Beijing4"),
    ("cn-east-3", "CN East-Shanghai1"),
    ("cn-south-1", "CN South-Guangzhou"),
    ("ap-southeast-1", "CN-Hong Kong"),
)
PROJECTS = ("default", "web-shop", "data-platform", "mobile-app")
PROVIDER = "Partner Cloud"


@dataclass
class Subscription:
    product: Product
    region: tuple[str, str]
    project: str
    scale: Decimal
    resource_id: str


def _money(rng: random.Random, base: Decimal, places: int) -> Decimal:
    factor = Decimal(rng.randint(60_000, 140_000)) / Decimal(100_000)
    return (base * factor).quantize(Decimal(1).scaleb(-places))


def _month_starts(today: dt.date, months: int) -> list[dt.date]:
    first = today.replace(day=1)
    out = []
    y, m = first.year, first.month
    for _ in range(months):
        out.append(dt.date(y, m, 1))
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return sorted(out)


def _next_month(d: dt.date) -> dt.date:
    return dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)


@functools.lru_cache(maxsize=4096)
def _iso(day: dt.date) -> str:
    return clock.start_of_day(day).isoformat().replace("+00:00", "Z")


class _Generator:
    def __init__(self, rng: random.Random, today: dt.date, months: int = MONTHS) -> None:
        self.rng = rng
        self.today = today
        self.months = _month_starts(today, months)
        starts = (
            CustomerAssociation.objects.values("customer_id")
            .annotate(first=Min("valid_from"))
            .values_list("customer_id", "first")
        )
        first_day = {cid: clock.billing_date(at) for cid, at in starts}
        self.customers = [(c, first_day[c.pk]) for c in Customer.objects.order_by("account_id") if c.pk in first_day]
        self.subscriptions: dict[str, list[Subscription]] = {}
        for c, _ in self.customers:
            subs = []
            for product in rng.sample(PRODUCTS, rng.randint(1, 4)):
                region = rng.choice(REGIONS)
                subs.append(
                    Subscription(
                        product,
                        region,
                        rng.choice(PROJECTS),
                        Decimal(rng.choice((1, 1, 2, 3, 5, 8))) / 2,
                        f"{product.code}-{c.account_id[-6:]}-{rng.randrange(16**6):06x}",
                    )
                )
            self.subscriptions[c.account_id] = subs
        # A few customers whose refunds exceed their spend in one month.
        self.big_refunds = {
            c.account_id: rng.choice(self.months[3:-1] or self.months)
            for c, _ in rng.sample(self.customers, min(4, len(self.customers)))
        }
        self.order_seq = 0
        # Prepaid orders bought each month, some of which are cancelled early the next month.
        self.purchases: dict[dt.date, list[tuple[Customer, Subscription, str, Decimal]]] = {}

    def _order(self, month: dt.date) -> str:
        self.order_seq += 1
        return f"CS{month:%y%m}{self.order_seq:08d}"

    def _row(
        self,
        c: Customer,
        sub: Subscription,
        kind: str,
        day: dt.date,
        end: dt.date,
        category: str,
        amount: Decimal,
        **extra: Any,
    ) -> dict[str, Any]:
        p = sub.product
        return {
            "line_id": f"demo:{c.account_id}:{day.isoformat()}:{sub.resource_id}:{kind}",
            "account_id": c.account_id,
            "charge_period_start": _iso(day),
            "charge_period_end": _iso(end),
            "billing_period_start": _iso(day.replace(day=1)),
            "billing_period_end": _iso(_next_month(day.replace(day=1))),
            "charge_category": category,
            "billed_cost": format(amount, "f"),
            "list_cost": format(amount, "f") if category in ("Usage", "Purchase") and amount > 0 else "",
            "effective_cost": format(amount, "f"),
            "currency": CURRENCY,
            "provider_name": PROVIDER,
            "publisher_name": p.publisher or PROVIDER,
            "service_type": p.service_type,
            "service_name": p.name,
            "service_category": p.category,
            "region_id": sub.region[0],
            "region_name": sub.region[1],
            "resource_id": sub.resource_id,
            "resource_name": f"{p.code}-{sub.project}",
            "resource_type": p.category,
            "project": sub.project,
            "billing_mode": p.mode,
            **extra,
        }

    def month(self, month: dt.date) -> Iterator[dict[str, Any]]:
        last = min(_next_month(month), self.today)  # exclusive; nothing for today or later
        for c, first in self.customers:
            start = max(month, first)
            spend = Decimal(0)
            subs = self.subscriptions[c.account_id]
            if start < last:
                for sub in subs:
                    spend += yield from self._subscription(c, sub, month, first, start, last)
            if spend <= 0 or not subs:
                continue
            yield from self._customer_month_end(c, subs[0], month, start, spend)
        yield from self._late_cancellations(month, last)

    def _late_cancellations(self, month: dt.date, last: dt.date) -> Iterator[dict[str, Any]]:
        """Every 40th prepaid order of the month before, cancelled in part on the 3rd: a refund
        on an order billed (and rewarded by incentive programs) in an earlier month. Chosen without
        the random generator, so that the rest of the data stays as it was."""
        day = month + dt.timedelta(days=2)
        if day >= last:
            return
        previous = (month - dt.timedelta(days=1)).replace(day=1)
        for c, sub, order, amount in self.purchases.get(previous, [])[::40]:
            yield self._row(
                c,
                sub,
                "late",
                day,
                day + dt.timedelta(days=1),
                "Purchase",
                -(amount * Decimal("0.4")).quantize(Decimal("0.01")),
                order_id=order,
                description="Refund: order cancellation after the month it was bought",
                charge_frequency="One-Time",
            )

    def _subscription(
        self, c: Customer, sub: Subscription, month: dt.date, first: dt.date, start: dt.date, last: dt.date
    ) -> Generator[dict[str, Any], None, Decimal]:
        """One subscription's rows of the month from ``start`` to ``last`` (exclusive); returns
        their sum."""
        p = sub.product
        if p.mode == "pay_per_use":
            return (yield from self._daily_usage(c, sub, start, last))
        if p.mode == "prepaid_monthly" or (p.mode == "prepaid_yearly" and start.month == first.month):
            return (yield from self._purchase(c, sub, month, start, last))
        if p.mode == "monthly_95th_bandwidth" and last == _next_month(month):
            # Billed once the month is over, on the peak (95th percentile) bandwidth.
            amount = _money(self.rng, p.base * sub.scale, 6)
            yield self._row(
                c,
                sub,
                "p95",
                start,
                _next_month(month),
                "Usage",
                amount,
                pricing_quantity=str(self.rng.randint(50, 400)),
                pricing_unit="Mbps",
                charge_frequency="Recurring",
            )
            return amount
        return Decimal(0)

    def _daily_usage(
        self, c: Customer, sub: Subscription, start: dt.date, last: dt.date
    ) -> Generator[dict[str, Any], None, Decimal]:
        """A pay-per-use charge for each day from ``start`` to ``last`` (exclusive)."""
        rng = self.rng
        p = sub.product
        spend = Decimal(0)
        day = start
        while day < last:
            amount = _money(rng, p.base * sub.scale, rng.choice((2, 4, 6, 8)))
            spend += amount
            yield self._row(
                c,
                sub,
                "use",
                day,
                day + dt.timedelta(days=1),
                "Usage",
                amount,
                pricing_quantity="24",
                pricing_unit="Hours",
                charge_frequency="Usage-Based",
            )
            day += dt.timedelta(days=1)
        return spend

    def _purchase(
        self, c: Customer, sub: Subscription, month: dt.date, start: dt.date, last: dt.date
    ) -> Generator[dict[str, Any], None, Decimal]:
        """A prepaid period bought on ``start`` and, now and then, a partial refund of it."""
        rng = self.rng
        p = sub.product
        amount = (p.base * sub.scale).quantize(Decimal("0.01"))
        order = self._order(month)
        self.purchases.setdefault(month, []).append((c, sub, order, amount))
        yield self._row(
            c,
            sub,
            "buy",
            start,
            _next_month(month),
            "Purchase",
            amount,
            order_id=order,
            description=f"{p.name} subscription",
            charge_frequency="One-Time",
        )
        if rng.random() >= 0.04:
            return amount
        # Order cancelled or downgraded later that month: a refund of part of it.
        reason = rng.choice(("order cancellation", "specification change"))
        refund = -(amount * Decimal(rng.randint(10, 90)) / 100).quantize(Decimal("0.01"))
        when = min(start + dt.timedelta(days=rng.randint(1, 20)), last - dt.timedelta(days=1))
        yield self._row(
            c,
            sub,
            "refund",
            when,
            when + dt.timedelta(days=1),
            "Purchase",
            refund,
            order_id=order,
            description=f"Refund: {reason}",
            charge_frequency="One-Time",
        )
        return amount + refund

    def _customer_month_end(
        self, c: Customer, sub: Subscription, month: dt.date, anchor: dt.date, spend: Decimal
    ) -> Iterator[dict[str, Any]]:
        """After a customer's charges of the month (``spend`` > 0): the planned refund larger
        than the spend, now and then a service credit, and the tax on what remains."""
        rng = self.rng
        if self.big_refunds.get(c.account_id) == month:
            refund = -(spend * Decimal("1.35")).quantize(Decimal("0.01"))
            yield self._row(
                c,
                sub,
                "bigrefund",
                anchor,
                anchor + dt.timedelta(days=1),
                "Purchase",
                refund,
                order_id=self._order(month),
                description="Refund: order cancellation (annual plan)",
            )
            spend += refund
        if rng.random() < 0.03:
            adj = -Decimal(rng.choice(("50", "100", "200.50")))
            yield self._row(
                c,
                sub,
                "adj",
                anchor,
                anchor + dt.timedelta(days=1),
                "Credit",
                adj,
                description="Service credit (SLA compensation)",
            )
        if spend > 0:
            tax = (spend * TAX_RATE).quantize(Decimal("0.01"))
            yield self._row(c, sub, "tax", anchor, _next_month(month), "Tax", tax, description="VAT 6%")


def load_usage(*, seed: int, today: dt.date | None = None, months: int = MONTHS) -> list[Report]:
    """Generate and ingest the demo's usage, one batch per month, then generate the partner bills
    that are due (and the current month's estimate). Raises if a batch is rejected."""
    gen = _Generator(random.Random(seed + 1), today or clock.today(), months)
    reports = []
    for month in gen.months:
        records = list(gen.month(month))
        if not records:
            continue
        report = services.ingest_records(records, fmt="native", source="demo", file_name=f"demo-{month:%Y-%m}.json")
        if not report.accepted:
            raise RuntimeError(f"demo usage for {month:%Y-%m} was rejected: {[e.as_dict() for e in report.errors[:5]]}")
        reports.append(report)
    # The past months' partner bills exist as they would in production, where the worker
    # generates them on the 5th: the console shows bills right after the demo loads.
    from partnercenter.billing.services import catch_up

    catch_up()
    return reports
