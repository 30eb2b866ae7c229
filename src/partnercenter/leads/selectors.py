"""Reads of the leads app: which leads a user sees, searches over them, the staff to dispatch to.

Who sees what (O2): a platform operator every lead; a dispatcher (the partner's admin, or a user of
role "operator" holding the Lead Dispatch menu) every lead of their own partner; any other user
with the menu (account managers, …) only the leads currently dispatched to them. Not visible and
not existing answer the same 404.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q, QuerySet
from django.db.models.lookups import IContains

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.accounts.roles import Role
from partnercenter.core import masking, menus
from partnercenter.core.errors import NotFound

from .models import Lead, LeadEvent

MAX_TEXT = 100


def is_operator(user: User) -> bool:
    return bool(user.is_authenticated and user.is_active and user.is_platform_operator)


def may_dispatch(user: User) -> bool:
    """Dispatch and recall: platform operators, partner admins, operators holding the menu."""
    if not scoping.has_menu(user, menus.LEAD_DISPATCH):
        return False
    return is_operator(user) or user.is_partner_admin or (user.partner_id is not None and user.role == Role.OPERATOR)


def leads_for(user: User) -> QuerySet[Lead]:
    if not scoping.has_menu(user, menus.LEAD_DISPATCH):
        return Lead.objects.none()
    ids = scoping.partner_ids_for(user, scoping.Purpose.ACT)
    qs = Lead.objects.select_related("partner", "assignee")
    if ids is not None:
        qs = qs.filter(partner_id__in=ids)
    if not may_dispatch(user):
        qs = qs.filter(assignee=user)
    return qs


def lead_for(user: User, lead_id: object) -> Lead:
    try:
        return leads_for(user).get(pk=int(str(lead_id)))
    except (Lead.DoesNotExist, ValueError):
        raise NotFound(f"No lead with id {lead_id!r}.", code="not_found") from None


@dataclass(frozen=True)
class LeadFilter:
    text: str = ""
    status: str = ""
    assignee: str = ""  # a username; "none" for leads not dispatched
    product: str = ""


def text_q(user: User, text: str) -> Q:
    """Company, number and the contact; hidden contact data is never matched for a user who sees it masked."""
    text = text.strip()[:MAX_TEXT]
    if not text:
        return Q()
    q = Q(company__icontains=text) | Q(number__icontains=text)
    if masking.may_reveal(user):
        return q | Q(contact_name__icontains=text) | Q(phone__icontains=text) | Q(email__icontains=text)
    return q | Q(IContains(masking.masked_name_sql("contact_name"), text))


def search(user: User, f: LeadFilter) -> QuerySet[Lead]:
    qs = leads_for(user).filter(text_q(user, f.text))
    if f.status:
        qs = qs.filter(status=f.status)
    if f.assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee:
        qs = qs.filter(assignee__username=f.assignee[:150])
    if f.product:
        qs = qs.filter(product_interest__icontains=f.product.strip()[:MAX_TEXT])
    return qs


def staff_for(user: User, partner_id: int | None = None) -> list[User]:
    """Active users a dispatcher may dispatch to: the same partner's users holding the menu."""
    if not may_dispatch(user):
        return []
    qs = scoping.partner_users_for(user, scoping.Purpose.ACT).filter(is_active=True).select_related("partner")
    if partner_id is not None:
        qs = qs.filter(partner_id=partner_id)
    people = qs.order_by("partner__code", "username")
    return [u for u in people if menus.LEAD_DISPATCH in u.menu_codes()]


def history(lead: Lead) -> list[LeadEvent]:
    """A lead's events, oldest first (the caller already holds the lead through :func:`lead_for`)."""
    return list(lead.events.select_related("actor", "assignee").order_by("at", "pk"))
