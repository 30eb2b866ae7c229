"""Reads for partners and customers. Every list starts from the scoping module."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import OuterRef, Q, QuerySet, Subquery

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.accounts.names import person_name_sql
from partnercenter.core import clock, masking

from .models import AccountManagerAssignment, Customer, CustomerAssociation


@dataclass(frozen=True)
class CustomerFilter:
    search: str = ""
    association_type: str = ""
    manager_id: int | None = None
    unassigned: bool = False
    partner_code: str = ""


def customer_rows(
    user: User, f: CustomerFilter, purpose: scoping.Purpose = scoping.Purpose.VIEW, at: dt.datetime | None = None
) -> QuerySet[CustomerAssociation]:
    """Current associations in scope, annotated with the current account manager."""
    at = at or clock.now()
    # The latest assignment in force: after an unassignment or a reassignment the previous one
    # runs to the end of the day (rule E3), and the row shows what the customer is heading for.
    open_assignment = (
        AccountManagerAssignment.objects.filter(customer_id=OuterRef("customer_id"))
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at), assigned_at__lte=at)
        .order_by("-assigned_at", "-pk")
    )
    qs = (
        scoping.associations_for(user, purpose, at)
        .select_related("customer", "partner")
        .annotate(
            manager_id=Subquery(open_assignment.values("manager_id")[:1]),
            manager_username=Subquery(open_assignment.values("manager__username")[:1]),
            manager_name=Subquery(open_assignment.annotate(n=person_name_sql("manager__")).values("n")[:1]),
            manager_since=Subquery(open_assignment.values("effective_from")[:1]),
            manager_until=Subquery(open_assignment.values("ended_at")[:1]),
        )
        .order_by("customer__account_id")
    )
    if f.search:
        qs = qs.filter(masking.customer_search_q(user, f.search, prefix="customer__"))
    if f.association_type:
        qs = qs.filter(association_type=f.association_type)
    if f.partner_code:
        qs = qs.filter(partner__code=f.partner_code)
    if f.unassigned:
        qs = qs.filter(manager_id__isnull=True)
    elif f.manager_id:
        qs = qs.filter(manager_id=f.manager_id)
    return qs


def account_managers(user: User) -> QuerySet[User]:
    """Account managers the user may pick in filters and assignments (own partner only)."""
    return (
        scoping.partner_users_for(user, scoping.Purpose.ACT)
        .filter(role="account_manager", is_active=True)
        .order_by("username")
    )


def assignment_history(user: User, account_id: str) -> QuerySet[AccountManagerAssignment]:
    """Assignments of the customer made by partners in the user's scope (not a previous partner's)."""
    customer = scoping.get_customer(user, account_id)
    qs = AccountManagerAssignment.objects.filter(customer=customer).select_related("manager").order_by("-assigned_at")
    ids = scoping.partner_ids_for(user)
    return qs if ids is None else qs.filter(partner_id__in=ids)


def association_history(user: User, account_id: str) -> QuerySet[CustomerAssociation]:
    customer = scoping.get_customer(user, account_id)
    qs = CustomerAssociation.objects.filter(customer=customer).select_related("partner").order_by("-valid_from")
    ids = scoping.partner_ids_for(user)
    return qs if ids is None else qs.filter(partner_id__in=ids)


def ending_assignments(customers: Sequence[Customer], at: dt.datetime) -> list[AccountManagerAssignment]:
    """Per customer, the assignment in force at ``at`` that is due to end, when no later one
    follows it: the customers on their way to having no account manager."""
    ids = [c.pk for c in customers]
    current = AccountManagerAssignment.objects.filter(customer_id__in=ids, assigned_at__lte=at).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=at)
    )
    following = set(current.filter(ended_at__isnull=True).values_list("customer_id", flat=True))
    rows = current.filter(ended_at__isnull=False).exclude(customer_id__in=following)
    return sorted(rows.select_related("customer", "manager"), key=lambda a: (a.customer.account_id, a.ended_at))
