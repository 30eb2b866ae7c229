"""Reads of the Customer Bills page and its API (C1, C2): the two levels of a month's customer
bills — Bill by Instance and Bill Details — for what the user may see.

Scope (``scoping``): the line items of partners in the user's view scope (a distributor sees its
second-level resellers' customers too) under a **reseller** association (stored on each line item
as in force at charge time; referral customers pay the cloud directly and never appear). An
account manager sees only the customers assigned to them (``scoping.customers_for``). Other users
see every customer their partners billed that month, including one that has since moved to another
partner: its past charges stay on the bills of the partner that resold them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.masking import customer_search_q, mask_name
from partnercenter.partners.models import Customer
from partnercenter.usage import resource_months
from partnercenter.usage.models import ResourceMonthBuild
from partnercenter.usage.resource_months import DetailsPage, Facets, Filters, InstancePage, Scope, Totals

SEARCH_LIMIT = 20
ANY = Filters()  # no filter


def scope_for(user: User, customer: Customer | None = None, at: dt.datetime | None = None) -> Scope:
    """The partners and customers whose bills the user may see; narrowed to ``customer`` if given
    (the caller found it through :func:`find_customer`, so it is in scope)."""
    partner_ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    customer_ids: list[int] | None = None
    if user.is_account_manager:
        customer_ids = list(scoping.customers_for(user, scoping.Purpose.VIEW, at).values_list("pk", flat=True))
    if customer is not None:
        customer_ids = [customer.pk] if customer_ids is None or customer.pk in customer_ids else []
    return Scope.of(partner_ids, customer_ids)


def _customers(user: User) -> tuple[Scope, list[int] | None]:
    scope = scope_for(user)
    return scope, None if scope.partner_ids is None else list(scope.partner_ids)


def find_customer(user: User, account_id: str) -> Customer | None:
    """The customer with this account id whose bills the user may see: an account manager's
    assigned customer, or a customer that has (or had) a reseller association with one of the
    user's partners; None otherwise (not yours and does not exist look the same)."""
    scope, partner_ids = _customers(user)
    qs = Customer.objects.filter(account_id=account_id)
    if scope.customer_ids is not None:
        qs = qs.filter(pk__in=scope.customer_ids)
    if partner_ids is not None:
        qs = qs.filter(associations__partner_id__in=partner_ids, associations__association_type="reseller")
    return qs.distinct().first()


@dataclass(frozen=True)
class CustomerChoice:
    account_id: str
    name: str  # masked (E5): the page shows account ids and masked names only


def search_customers(user: User, text: str) -> list[CustomerChoice]:
    """Customers for the customer picker: by account id, or by name as the user may search it
    (``masking.customer_search_q``), at most :data:`SEARCH_LIMIT`."""
    scope, partner_ids = _customers(user)
    qs = Customer.objects.filter(customer_search_q(user, text))
    if scope.customer_ids is not None:
        qs = qs.filter(pk__in=scope.customer_ids)
    if partner_ids is not None:
        qs = qs.filter(associations__partner_id__in=partner_ids, associations__association_type="reseller")
    found = qs.distinct().order_by("account_id").values_list("account_id", "name")[:SEARCH_LIMIT]
    return [CustomerChoice(a, mask_name(n)) for a, n in found]


def months(user: User, at: dt.datetime | None = None) -> list[dt.date]:
    """Months with customer bill data in the user's partners, newest first."""
    scope = scope_for(user, at=at)
    return resource_months.months_with_data(scope.partner_ids, at)


def build(month: dt.date, at: dt.datetime | None = None) -> ResourceMonthBuild:
    """The month's Bill by Instance build, current (built first when missing or stale)."""
    return resource_months.ensure_current(month, at or clock.now())


def count(user: User, build: ResourceMonthBuild, scope: Scope, filters: Filters = ANY) -> int:
    return resource_months.summary(build, scope, filters)[0]


def totals(user: User, build: ResourceMonthBuild, scope: Scope, filters: Filters = ANY) -> list[Totals]:
    """Per currency over every row of the scope and filters (the same line items as Bill Details)."""
    return resource_months.summary(build, scope, filters)[1]


def instance_page(
    user: User, build: ResourceMonthBuild, scope: Scope, filters: Filters = ANY, *, limit: int = 50, offset: int = 0
) -> InstancePage:
    """One page of Bill by Instance for ``scope`` (from :func:`scope_for`)."""
    return resource_months.instance_page(build, scope, filters, limit=limit, offset=offset)


def details_page(
    user: User, build: ResourceMonthBuild, scope: Scope, filters: Filters = ANY, *, after: int = 0, limit: int = 50
) -> DetailsPage:
    return resource_months.details_page(build, scope, filters, after=after, limit=limit)


def facets(user: User, build: ResourceMonthBuild, scope: Scope) -> Facets:
    return resource_months.facets(build, scope)
