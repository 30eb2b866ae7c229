"""Reads of the alerts app, every one starting from :mod:`partnercenter.scoping`.

A user sees the alerts of partners in scope and of customers within ``scoping.customers_for``:
an account manager the customers assigned to them, a partner admin or operator-role user all of
the partner's, a distributor also its second-level resellers' (view only), a platform operator
everything (view only). Only the alert's own partner's users handle it (``may_handle``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core.errors import NotFound, ValidationFailed

from .models import AlertRule, CustomerAlert

OPEN = "open"
HISTORY = "history"
STATUSES = (OPEN, HISTORY)
MAX_ID = 2**63 - 1


def alerts_for(user: User, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> QuerySet[CustomerAlert]:
    """The alerts the user may see (VIEW) or handle (ACT; none for platform operators)."""
    if purpose is scoping.Purpose.ACT and user.partner_id is None:
        return CustomerAlert.objects.none()
    qs = CustomerAlert.objects.all()
    ids = scoping.partner_ids_for(user, purpose)
    if ids is None:
        return qs
    return qs.filter(partner_id__in=ids, customer_id__in=scoping.customers_for(user, purpose).values("pk"))


def _alert_id(value: Any) -> int:
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        n = 0
    if not 1 <= n <= MAX_ID:
        raise NotFound(_("No customer alert with id %(id)s.") % {"id": f"{value!s:.40}"}, code="alert_not_found")
    return n


def get_alert(user: User, alert_id: Any) -> CustomerAlert:
    """One alert the user may see; out of scope answers like a missing one (404)."""
    n = _alert_id(alert_id)
    alert = alerts_for(user).select_related("partner", "customer", "handled_by").filter(pk=n).first()
    if alert is None:
        raise NotFound(_("No customer alert with id %(id)s.") % {"id": n}, code="alert_not_found")
    return alert


def may_handle(user: User, alert: CustomerAlert) -> bool:
    return alerts_for(user, scoping.Purpose.ACT).filter(pk=alert.pk).exists()


def handleable_ids(user: User, alert_ids: list[int]) -> set[int]:
    return set(alerts_for(user, scoping.Purpose.ACT).filter(pk__in=alert_ids).values_list("pk", flat=True))


@dataclass(frozen=True)
class Filters:
    status: str = OPEN
    rule: str = ""
    customer: str = ""  # an account id


def filters(status: Any = None, rule: Any = None, customer: Any = None) -> Filters:
    """Validated list filters: a status other than open/history, or an unknown rule, is refused."""
    status = (status or OPEN).strip() if isinstance(status, str) else OPEN
    rule = (rule or "").strip() if isinstance(rule, str) else ""
    customer = (customer or "").strip() if isinstance(customer, str) else ""
    if status not in STATUSES:
        raise ValidationFailed(_("Status: must be open or history."), code="invalid_status")
    if rule and rule not in AlertRule.values:
        raise ValidationFailed(
            _("Rule: must be one of %(rules)s.") % {"rules": ", ".join(AlertRule.values)}, code="invalid_rule"
        )
    if len(customer) > 64:
        raise ValidationFailed(_("Customer: an account id of at most 64 characters."), code="invalid_customer")
    return Filters(status, rule, customer)


def search(user: User, f: Filters) -> QuerySet[CustomerAlert]:
    """Open alerts newest raised first; history (handled alerts) newest handled first."""
    qs = alerts_for(user).select_related("partner", "customer", "handled_by")
    if f.status == OPEN:
        qs = qs.filter(handled_at__isnull=True).order_by("-raised_at", "-pk")
    else:
        qs = qs.filter(handled_at__isnull=False).order_by("-handled_at", "-pk")
    if f.rule:
        qs = qs.filter(rule=f.rule)
    if f.customer:
        qs = qs.filter(customer__account_id=f.customer)
    return qs


def open_count(user: User) -> int:
    return alerts_for(user).filter(handled_at__isnull=True).count()


def latest_open(user: User, n: int = 3) -> list[CustomerAlert]:
    qs = alerts_for(user).filter(handled_at__isnull=True).select_related("customer", "partner")
    return list(qs.order_by("-raised_at", "-pk")[:n])
