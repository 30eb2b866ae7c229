"""Writes of the marketplace app (O5): products, service-provider enrolment, product links and the
storefront's orders.

An order placed through a partner's link associates a *new* customer with that partner as a
reseller customer. An existing association is never replaced: the order is recorded and answered
"unchanged" with the reason. Each order id is kept once; a repeat answers the first result."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction

from partnercenter import scoping
from partnercenter.core import audit, clock, money
from partnercenter.core.errors import Forbidden, NotFound, ValidationFailed
from partnercenter.partners import services as partner_services
from partnercenter.partners.models import AssociationType, Customer, CustomerAssociation, Partner, PartnerKind

from .models import MarketplaceOrder, MarketplaceProduct, ProductLink, ServiceProvider

if TYPE_CHECKING:
    from partnercenter.accounts.models import User

ONE = Decimal(1)
# Text only, never a float or an exponent: the storefront's amount as its order shows it.
_AMOUNT_RE = re.compile(r"\d{1,15}(\.\d{1,6})?")


def create_product(
    *, code: str, name: str, service_name: str, share_rate: Decimal, publisher_code: str | None = None
) -> MarketplaceProduct:
    problems: list[str] = []
    if not (0 <= share_rate <= ONE):
        problems.append(f"share_rate: {share_rate} is not between 0 and 1")
    publisher = None
    if publisher_code:
        publisher = Partner.objects.filter(code=publisher_code).first()
        if publisher is None:
            problems.append(f"publisher: no partner with code {publisher_code!r}")
    if problems:
        raise ValidationFailed("The product is not valid.", details=problems)
    return MarketplaceProduct.objects.create(
        code=code,
        name=name,
        service_name=service_name,
        publisher=publisher,
        share_rate=share_rate,
        created_at=clock.now(),
    )


def enrol_provider(partner_code: str, *, since: dt.datetime | None = None) -> ServiceProvider:
    """Enrol a partner as a marketplace customer service provider (idempotent)."""
    partner = Partner.objects.filter(code=partner_code).first()
    if partner is None:
        raise NotFound(f"No partner with code {partner_code!r}.")
    if partner.kind == PartnerKind.REFERRAL:
        raise ValidationFailed("A referral partner cannot hold the reseller customers its links bring.")
    enrolment, _created = ServiceProvider.objects.get_or_create(
        partner=partner, defaults={"since": since or clock.now()}
    )
    return enrolment


def share_link(user: User, product_code: str) -> tuple[ProductLink, bool]:
    """The caller's partner's link of ``product_code``, made on first request."""
    partner = user.partner if user.partner_id is not None else None
    ids = scoping.partner_ids_for(user, scoping.Purpose.ACT)
    if partner is None or not ids or partner.pk not in ids:
        raise Forbidden("Only a partner's users share product links.")
    product = MarketplaceProduct.objects.filter(code=product_code, active=True).first()
    if product is None:
        raise NotFound(f"No product {product_code!r} on sale.")
    if not ServiceProvider.objects.filter(partner=partner).exists():
        raise Forbidden("Your partner is not enrolled as a marketplace customer service provider.", code="not_enrolled")
    with transaction.atomic():
        Partner.objects.select_for_update().filter(pk=partner.pk).values_list("pk", flat=True).first()
        link = ProductLink.objects.filter(partner=partner, product=product).first()
        if link is not None:
            return link, False
        link = ProductLink.objects.create(
            partner=partner, product=product, token=secrets.token_urlsafe(16), created_at=clock.now()
        )
        audit.record(user, "marketplace.link", partner=partner, target=product.code)
    return link, True


@dataclass(frozen=True)
class OrderIn:
    order_id: str
    product_code: str
    account_id: str
    customer_name: str
    amount: str
    currency: str
    ref: str = ""
    partner_code: str = ""
    email: str = ""
    mobile: str = ""


def _resolve_link(order: OrderIn) -> tuple[ProductLink, Decimal]:
    problems: list[str] = []
    if not order.order_id.strip():
        problems.append("order_id: must not be empty")
    amount = Decimal(0)
    if not money.is_currency(order.currency):
        problems.append(f"currency: {order.currency!r} is not a currency code")
    elif not _AMOUNT_RE.fullmatch(order.amount):
        problems.append(f"amount: {order.amount!r} is not a decimal amount such as 699.00")
    else:
        amount = money.amount(order.amount)
        if money.round_minor(amount, order.currency) != amount:
            problems.append(f"amount: {order.amount!r} has more decimals than {order.currency.upper()} allows")
    link = (
        ProductLink.objects.select_related("partner", "product")
        .filter(token=order.ref, product__code=order.product_code)
        .first()
    )
    if link is None:
        problems.append(f"ref: no link {order.ref!r} of product {order.product_code!r}")
    elif order.partner_code and order.partner_code != link.partner.code:
        problems.append(f"partner: the link belongs to {link.partner.code!r}, not {order.partner_code!r}")
    if problems:
        raise ValidationFailed("The order is not valid.", details=problems)
    assert link is not None
    return link, amount


def _attribute(order: OrderIn, link: ProductLink, actor: User | None) -> tuple[Customer, str, str]:
    customer = Customer.objects.filter(account_id=order.account_id).first()
    partner = link.partner
    if customer is None:
        customer = partner_services.create_customer(
            account_id=order.account_id,
            name=order.customer_name,
            email=order.email,
            mobile=order.mobile,
            partner_code=partner.code,
            association_type=AssociationType.RESELLER,
            actor=actor,
        )
        return customer, "created", f"new customer associated with {partner.code!r} as a reseller customer"
    current = (
        CustomerAssociation.objects.select_related("partner").filter(customer=customer, valid_to__isnull=True).first()
    )
    if current is None:
        reason = "the customer has no current association; a link never reassigns an existing customer"
    elif current.partner_id == partner.pk:
        reason = f"the customer is already associated with {partner.code!r} ({current.association_type})"
    else:
        reason = (
            f"the customer is already associated with another partner ({current.association_type}); "
            "an order through a link never replaces an existing association"
        )
    return customer, "unchanged", reason


def record_order(order: OrderIn, *, actor: User | None = None) -> tuple[MarketplaceOrder, bool]:
    """Record a storefront order; ``created`` is False when the order id was already recorded."""
    earlier = MarketplaceOrder.objects.filter(order_id=order.order_id).first()
    if earlier is not None:
        return earlier, False
    link, amount = _resolve_link(order)
    try:
        with transaction.atomic():
            # The link's partner row first (the lock order of every partner write), then the rest.
            Partner.objects.select_for_update().filter(pk=link.partner_id).values_list("pk", flat=True).first()
            customer, association, reason = _attribute(order, link, actor)
            row = MarketplaceOrder.objects.create(
                order_id=order.order_id,
                product=link.product,
                link=link,
                partner=link.partner,
                customer=customer,
                amount=amount,
                currency=order.currency.upper(),
                association=association,
                reason=reason,
                received_at=clock.now(),
            )
            audit.record(
                actor, "marketplace.order", partner=link.partner, target=order.order_id, association=association
            )
    except IntegrityError:
        # The same order id recorded meanwhile by a concurrent request: answer that one.
        earlier = MarketplaceOrder.objects.filter(order_id=order.order_id).first()
        if earlier is None:
            raise
        return earlier, False
    return row, True
