"""Access scoping: the one place that says which partners and customers a user may touch.

Every view, API route, export and job asks here; nothing filters by partner on its own.

* A platform operator sees and acts on everything.
* A partner user sees its own partner. A distributor's users additionally *view* (never act on)
  its second-level resellers and their customers.
* An account manager sees only the customers currently assigned to them; their expenditure is
  visible from each assignment's ``effective_from`` (rule E3, see :func:`assignment_windows`).
* Menus gate whole areas: :func:`has_menu`.

"Not yours" and "does not exist" answer the same 404, so ids of other partners leak nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from django.db.models import Q, QuerySet

from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.errors import Forbidden, NotFound
from partnercenter.partners.models import (
    AccountManagerAssignment,
    Customer,
    CustomerAssociation,
    Partner,
    PartnerKind,
)


class Purpose(StrEnum):
    VIEW = "view"
    ACT = "act"


def _is_operator(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_platform_operator)


def _is_partner_user(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.partner_id is not None)


def partner_ids_for(user: User, purpose: Purpose = Purpose.VIEW) -> list[int] | None:
    """Partner ids in scope; ``None`` means every partner (platform operator)."""
    if _is_operator(user):
        return None
    if not _is_partner_user(user):
        return []
    own = user.partner
    assert own is not None
    ids = [own.pk]
    if purpose is Purpose.VIEW and own.kind == PartnerKind.DISTRIBUTOR:
        ids += list(Partner.objects.filter(parent_id=own.pk).values_list("pk", flat=True))
    return ids


def partners_for(user: User, purpose: Purpose = Purpose.VIEW) -> QuerySet[Partner]:
    ids = partner_ids_for(user, purpose)
    qs = Partner.objects.all()
    return qs if ids is None else qs.filter(pk__in=ids)


def associations_for(
    user: User, purpose: Purpose = Purpose.VIEW, at: dt.datetime | None = None
) -> QuerySet[CustomerAssociation]:
    """Associations in force at ``at`` (now by default) whose partner is in scope."""
    at = at or clock.now()
    qs = CustomerAssociation.objects.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at), valid_from__lte=at)
    ids = partner_ids_for(user, purpose)
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    if _is_partner_user(user) and user.is_account_manager:
        qs = qs.filter(customer_id__in=_assigned_customer_ids(user, at))
    return qs


def _assigned_customer_ids(user: User, at: dt.datetime) -> QuerySet[AccountManagerAssignment, int]:
    return (
        AccountManagerAssignment.objects.filter(manager=user, partner=user.partner, assigned_at__lte=at)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gt=at))
        .values_list("customer_id", flat=True)
    )


def customers_for(user: User, purpose: Purpose = Purpose.VIEW, at: dt.datetime | None = None) -> QuerySet[Customer]:
    if _is_operator(user):
        return Customer.objects.all()
    return Customer.objects.filter(pk__in=associations_for(user, purpose, at).values("customer_id"))


@dataclass(frozen=True)
class Window:
    """A customer's figures are visible to the user over [start, end); ``None`` is unbounded."""

    customer_id: int
    start: dt.datetime | None
    end: dt.datetime | None


def assignment_windows(user: User, at: dt.datetime | None = None) -> list[Window] | None:
    """For an account manager, the periods whose expenditure they may see (rule E3);
    ``None`` for everyone else (no time restriction beyond the partner scope)."""
    if not (_is_partner_user(user) and user.is_account_manager):
        return None
    at = at or clock.now()
    rows = AccountManagerAssignment.objects.filter(manager=user, partner=user.partner, assigned_at__lte=at).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=at)
    )
    return [Window(r.customer_id, r.effective_from, None) for r in rows]


def has_menu(user: User, menu: str) -> bool:
    return bool(user.is_authenticated and menu in user.menu_codes())


def require_menu(user: User, menu: str) -> None:
    if not has_menu(user, menu):
        raise Forbidden("You do not have permission for this menu.", code="menu_forbidden")


def get_partner(user: User, code: str, purpose: Purpose = Purpose.VIEW) -> Partner:
    try:
        return partners_for(user, purpose).get(code=code)
    except Partner.DoesNotExist:
        raise NotFound(f"No partner with code {code!r}.") from None


def get_customer(
    user: User, account_id: str, purpose: Purpose = Purpose.VIEW, at: dt.datetime | None = None
) -> Customer:
    try:
        return customers_for(user, purpose, at).get(account_id=account_id)
    except Customer.DoesNotExist:
        raise NotFound(f"No customer with account id {account_id!r}.") from None


def partner_users_for(user: User, purpose: Purpose = Purpose.VIEW) -> QuerySet[User]:
    """Partner users in scope (for user management and manager pickers)."""
    if _is_operator(user):
        return User.objects.filter(partner__isnull=False)
    if not _is_partner_user(user):
        return User.objects.none()
    return User.objects.filter(partner_id__in=partner_ids_for(user, purpose) or [])


def require_api_access(user: User, declared: str | None) -> None:
    """The API's gate: what a route declares (``core/decorators.api_menu``) against the caller.

    The same menus gate the API as the console; a route that declares nothing is closed.
    """
    from partnercenter.core import menus

    if declared is None:
        raise Forbidden("This operation declares no menu, so it is closed.", code="menu_undeclared")
    if declared in (menus.API_SIGNED_IN, menus.API_EXPORT_KIND):
        return
    if declared == menus.API_PLATFORM_OPERATOR:
        if not _is_operator(user):
            raise Forbidden("Only a platform operator may do this.")
        return
    require_menu(user, declared)
