"""Reads of customer bills, their confirmations and customers' credit (C5–C7, E8).

Every entry point starts from :mod:`partnercenter.scoping`: the bills and credit entries a user
sees are those of partners in the user's scope (a distributor also views its second-level
resellers') and of customers within ``scoping.customers_for`` (an account manager: the assigned
customers only). Who may *confirm* (C6) is the same question for ``Purpose.ACT``, and platform
operators, who see everything, confirm nothing: they are not the partner.

Figures are derived, never stored as state:

* a bill's amount still to be confirmed = ``max(total, 0) − Σ its confirmations``;
* a credit account (partner, customer, currency): limit = Σgrant − Σreclaim, used =
  Σconsumption − Σconfirmation, available = limit − used (negative when consumption exceeds the
  limit). Every entry also stores the figures after it; the tests check both agree.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import QuerySet

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock
from partnercenter.core.errors import Forbidden, NotFound
from partnercenter.core.money import ZERO, ExactSum
from partnercenter.partners.models import Customer

from .models import Confirmation, CreditAlert, CreditEntry, CreditKind, CustomerBill

# --- scope -------------------------------------------------------------------------------------


def _scoped(qs: QuerySet[Any], user: User, purpose: scoping.Purpose) -> QuerySet[Any]:
    ids = scoping.partner_ids_for(user, purpose)
    if ids is None:
        return qs
    return qs.filter(partner_id__in=ids, customer_id__in=scoping.customers_for(user, purpose).values("pk"))


def bills_for(user: User, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> QuerySet[CustomerBill]:
    """The customer bills the user may see (VIEW) or act on (ACT; none for platform operators)."""
    if purpose is scoping.Purpose.ACT and not may_act(user):
        return CustomerBill.objects.none()
    return _scoped(CustomerBill.objects.all(), user, purpose)


def may_act(user: User) -> bool:
    """Only the partner's own users confirm bills and grant credit; operators view only."""
    return bool(user.is_authenticated and user.is_active and user.partner_id is not None)


def get_bill(user: User, bill_id: int) -> CustomerBill:
    """One bill the user may see; out of scope answers like a missing one (404)."""
    bill = bills_for(user).select_related("partner", "customer").filter(pk=bill_id).first()
    if bill is None:
        raise NotFound(f"No customer bill with id {bill_id}.", code="bill_not_found")
    return bill


def bill_to_confirm(user: User, bill_id: int) -> CustomerBill:
    """A bill the user may confirm (C6): 404 when the user cannot even see it, 403 when the user
    sees it but it is not the user's partner's (a distributor's second-level resellers')."""
    bill = get_bill(user, bill_id)
    if not bills_for(user, scoping.Purpose.ACT).filter(pk=bill.pk).exists():
        raise Forbidden(
            "Only the bill's partner confirms it: you may view this bill but not confirm it.",
            code="confirm_forbidden",
        )
    return bill


# --- bills to confirm ----------------------------------------------------------------------------


def confirmed_by_bill(bill_ids: list[int]) -> dict[int, Decimal]:
    rows = (
        Confirmation.objects.filter(bill_id__in=bill_ids)
        .values("bill_id")
        .annotate(total=ExactSum("amount"))
        .values_list("bill_id", "total")
    )
    return dict(rows)


def confirmed(bill: CustomerBill) -> Decimal:
    return confirmed_by_bill([bill.pk]).get(bill.pk, ZERO)


def remaining(bill: CustomerBill) -> Decimal:
    """The amount still to be confirmed: ``max(total, 0) − Σ confirmations``."""
    return max(bill.total, ZERO) - confirmed(bill)


@dataclass(frozen=True)
class BillRow:
    bill: CustomerBill
    confirmed: Decimal
    may_confirm: bool

    @property
    def confirmable(self) -> Decimal:
        return max(self.bill.total, ZERO)

    @property
    def remaining(self) -> Decimal:
        return self.confirmable - self.confirmed


def bills_to_confirm(user: User, month: dt.date, customer: str | None = None) -> list[BillRow]:
    """The generated bills of ``month`` (customer optional: an account id) with their total, what
    was confirmed and what remains, ordered by customer and currency; ``may_confirm`` per C6."""
    qs = bills_for(user).filter(month=month.replace(day=1)).select_related("customer", "partner")
    if customer:
        qs = qs.filter(customer__account_id=customer)
    bills = list(qs.order_by("customer__account_id", "currency", "partner__code", "pk"))
    sums = confirmed_by_bill([b.pk for b in bills])
    actable = set(
        bills_for(user, scoping.Purpose.ACT).filter(pk__in=[b.pk for b in bills]).values_list("pk", flat=True)
    )
    return [BillRow(b, sums.get(b.pk, ZERO), b.pk in actable) for b in bills]


def default_month(at: dt.datetime | None = None) -> dt.date:
    """The latest month whose customer bills are due (the month before last before the 5th)."""
    from partnercenter.billing.services import last_due_month

    return last_due_month(at or clock.now())


# --- credit --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreditFigures:
    limit: Decimal
    used: Decimal

    @property
    def available(self) -> Decimal:
        return self.limit - self.used


SIGNS = {
    CreditKind.GRANT: ("limit", 1),
    CreditKind.RECLAIM: ("limit", -1),
    CreditKind.CONSUMPTION: ("used", 1),
    CreditKind.CONFIRMATION: ("used", -1),
}


def _figures(rows: Any) -> dict[tuple[int, int, str], CreditFigures]:
    acc: dict[tuple[int, int, str], dict[str, Decimal]] = defaultdict(lambda: {"limit": ZERO, "used": ZERO})
    for partner_id, customer_id, currency, kind, total in rows:
        which, sign = SIGNS[CreditKind(kind)]
        acc[(partner_id, customer_id, currency)][which] += sign * total
    return {k: CreditFigures(v["limit"], v["used"]) for k, v in acc.items()}


def account_figures(keys: list[tuple[int, int, str]]) -> dict[tuple[int, int, str], CreditFigures]:
    """Figures of several accounts ``(partner_id, customer_id, currency)`` from the ledger (one
    grouped query); an account without entries has zeros."""
    if not keys:
        return {}
    qs = CreditEntry.objects.filter(
        partner_id__in={k[0] for k in keys}, customer_id__in={k[1] for k in keys}, currency__in={k[2] for k in keys}
    )
    rows = qs.values_list("partner_id", "customer_id", "currency", "kind").annotate(total=ExactSum("amount"))
    found = _figures(rows)
    return {k: found.get(k, CreditFigures(ZERO, ZERO)) for k in keys}


def credit_account(partner_id: int, customer_id: int, currency: str) -> CreditFigures:
    """One customer's credit with one partner in one currency (C7), summed from its entries."""
    key = (partner_id, customer_id, currency)
    return account_figures([key])[key]


@dataclass(frozen=True)
class Account:
    partner_code: str
    customer: Customer
    currency: str
    figures: CreditFigures


def credit_accounts(user: User, customer: Customer) -> list[Account]:
    """The customer's credit accounts with the partners in the user's scope, per currency."""
    qs = _scoped(CreditEntry.objects.filter(customer=customer), user, scoping.Purpose.VIEW)
    rows = qs.values_list("partner_id", "customer_id", "currency", "kind").annotate(total=ExactSum("amount"))
    found = _figures(rows)
    from partnercenter.partners.models import Partner

    codes = dict(Partner.objects.filter(pk__in={k[0] for k in found}).values_list("pk", "code"))
    return [Account(codes[k[0]], customer, k[2], found[k]) for k in sorted(found, key=lambda k: (codes[k[0]], k[2]))]


def customer_for(user: User, account_id: str, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Customer:
    return scoping.get_customer(user, account_id, purpose)


def acting_customers(user: User) -> QuerySet[Customer]:
    """The customers whose credit the user may grant or reclaim (their own partner's)."""
    if not may_act(user):
        return Customer.objects.none()
    return scoping.customers_for(user, scoping.Purpose.ACT).order_by("account_id")


# --- adjustment records (E8) ---------------------------------------------------------------------


def adjustment_records(
    user: User,
    *,
    customer: str | None = None,
    kind: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> QuerySet[CreditEntry]:
    """The credit entries in scope, newest first: by customer (account id), kind and the days
    ``start`` … ``end`` (billing time zone, both included)."""
    qs = _scoped(CreditEntry.objects.all(), user, scoping.Purpose.VIEW)
    if customer:
        qs = qs.filter(customer__account_id=customer)
    if kind:
        qs = qs.filter(kind=kind)
    if start:
        qs = qs.filter(created_at__gte=clock.start_of_day(start))
    if end:
        qs = qs.filter(created_at__lt=clock.start_of_day(end + dt.timedelta(days=1)))
    return qs.select_related("partner", "customer", "created_by", "bill").order_by("-created_at", "-pk")


# --- for customer alerts (O3) --------------------------------------------------------------------


def credit_alerts_raised(through: dt.datetime, excluding: Any) -> list[CreditAlert]:
    """The credit alerts raised at or before ``through`` whose ids are not in ``excluding`` (ids or
    a query of ids), oldest first."""
    qs = CreditAlert.objects.filter(raised_at__lte=through).exclude(pk__in=excluding)
    return list(qs.order_by("raised_at", "pk"))


def unpaid_bills(generated_from: dt.datetime, generated_before: dt.datetime, excluding: Any) -> list[BillRow]:
    """The bills generated in ``[generated_from, generated_before)`` with an amount still to be
    confirmed above zero, except the ids in ``excluding``; ``may_confirm`` is not asked (False)."""
    qs = CustomerBill.objects.filter(generated_at__gte=generated_from, generated_at__lt=generated_before)
    qs = qs.exclude(pk__in=excluding)
    bills = list(qs.order_by("generated_at", "pk"))
    sums = confirmed_by_bill([b.pk for b in bills])
    rows = [BillRow(b, sums.get(b.pk, ZERO), False) for b in bills]
    return [r for r in rows if r.remaining > 0]
