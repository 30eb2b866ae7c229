"""Reads of the marketplace app (O5): the products a partner may share, and revenue-sharing
statements of publisher partners.

Revenue sharing, per publisher partner, per product and month (billing time zone): *sales* is the
exact sum of the product's marketplace line items of the month (refunds and adjustments included,
tax excluded; see ``usage.selectors.marketplace_sales``); the *platform share* is
``money.round_minor(sales × share_rate, currency)`` rounded half up, per product per month — the one
rounding point of the statement; the *partner share* is ``sales − platform share``, so the two
shares always add up to the sales exactly."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from partnercenter import scoping
from partnercenter.core import money
from partnercenter.core.errors import NotFound
from partnercenter.partners.models import Partner
from partnercenter.usage import selectors as usage
from partnercenter.usage.models import LineItem

from .models import MarketplaceProduct, ProductLink, ServiceProvider

if TYPE_CHECKING:
    from partnercenter.accounts.models import User


@dataclass(frozen=True)
class LinkRow:
    product: MarketplaceProduct
    link: ProductLink | None


@dataclass(frozen=True)
class LinkPage:
    partner: Partner | None
    enrolled_since: dt.datetime | None
    rows: list[LinkRow]


def link_page(user: User) -> LinkPage:
    """The products on sale and the caller's partner's links (none for platform operators)."""
    products = list(MarketplaceProduct.objects.filter(active=True).select_related("publisher"))
    partner = user.partner if user.partner_id is not None else None
    if partner is None:
        return LinkPage(None, None, [LinkRow(p, None) for p in products])
    enrolment = ServiceProvider.objects.filter(partner=partner).first()
    links = {link.product_id: link for link in ProductLink.objects.filter(partner=partner)}
    return LinkPage(partner, enrolment.since if enrolment else None, [LinkRow(p, links.get(p.pk)) for p in products])


def publishers_for(user: User) -> QuerySet[Partner]:
    """Publisher partners in the caller's scope."""
    return scoping.partners_for(user).filter(published_products__isnull=False).distinct().order_by("code")


def get_publisher(user: User, code: str) -> Partner:
    partner = publishers_for(user).filter(code=code).first()
    if partner is None:
        raise NotFound(f"No publisher partner {code!r}.")
    return partner


@dataclass(frozen=True)
class StatementLine:
    product: MarketplaceProduct
    currency: str
    sales: Decimal
    count: int
    platform_share: Decimal
    partner_share: Decimal


@dataclass
class Statement:
    partner: Partner
    month: dt.date
    lines: list[StatementLine] = field(default_factory=list)

    def totals(self) -> list[dict[str, object]]:
        """Per currency, the exact sums of the lines."""
        out: dict[str, dict[str, object]] = {}
        for line in self.lines:
            t = out.setdefault(
                line.currency,
                {
                    "currency": line.currency,
                    "sales": Decimal(0),
                    "platform_share": Decimal(0),
                    "partner_share": Decimal(0),
                },
            )
            for key in ("sales", "platform_share", "partner_share"):
                t[key] = t[key] + getattr(line, key)  # type: ignore[operator]
        return list(out.values())


def _products(partner: Partner) -> dict[str, MarketplaceProduct]:
    return {p.service_name: p for p in MarketplaceProduct.objects.filter(publisher=partner)}


def statement(user: User, partner_code: str, month: dt.date) -> Statement:
    partner = get_publisher(user, partner_code)
    products = _products(partner)
    out = Statement(partner=partner, month=month.replace(day=1))
    for row in usage.marketplace_sales(month, products):
        product = products[row["service_name"]]
        currency = row["billing_currency"]
        sales = row["amount"]
        platform = money.round_minor(money.CONTEXT.multiply(sales, product.share_rate), currency)
        out.lines.append(StatementLine(product, currency, sales, row["count"], platform, sales - platform))
    return out


def statement_items(user: User, partner_code: str, month: dt.date) -> QuerySet[LineItem]:
    """The transaction details: the line items behind the statement."""
    partner = get_publisher(user, partner_code)
    return usage.marketplace_line_items(month, _products(partner))


def product_by_service_name(partner: Partner) -> dict[str, MarketplaceProduct]:
    return _products(partner)
