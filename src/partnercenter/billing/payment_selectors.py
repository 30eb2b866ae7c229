"""Reads of the amount due, the prepaid balance, the account statement and third-party payment
agreements (B4, B9). Every entry point resolves the partner through :func:`partner_for`, which
goes through ``scoping``.

A bill's amount due is ``max(amount, 0) − Σ its allocations``: a negative bill owes nothing (B5).
Its state (unpaid / partly paid / paid / nothing due) is derived from the allocations, never
stored. The balance of a currency is the sum of the partner's statement entries in it.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from django.db.models import OuterRef, QuerySet, Subquery
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core.errors import Forbidden, NotFound, ValidationFailed
from partnercenter.core.money import ZERO, ExactSum
from partnercenter.partners.models import Partner

from .models import (
    AgreementStatus,
    Bill,
    Payment,
    PaymentAgreement,
    PaymentAgreementDecision,
    PaymentAllocation,
    PaymentMethod,
    StatementEntry,
)


class BillState(StrEnum):
    UNPAID = "unpaid"
    PARTLY_PAID = "partly_paid"
    PAID = "paid"
    NOTHING_DUE = "nothing_due"


STATE_LABELS = {
    BillState.UNPAID: _("Unpaid"),
    BillState.PARTLY_PAID: _("Partly paid"),
    BillState.PAID: _("Paid"),
    BillState.NOTHING_DUE: _("Nothing due"),
}


def partner_for(user: User, code: str | None = None, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Partner:
    """The partner whose bills the user looks at or pays: ``code`` if given (404 out of scope),
    else the user's own partner. Platform operators must name one; account managers never see
    partner bills, whatever menus they were granted."""
    if user.is_account_manager:
        raise Forbidden("Account managers do not see partner bills.", code="menu_forbidden")
    if code:
        return scoping.get_partner(user, code, purpose)
    if user.partner_id is not None and user.partner is not None:
        return user.partner
    raise ValidationFailed(
        "Name the partner whose bills you mean.",
        code="partner_required",
        details=[{"where": "partner", "why": "required for a platform operator"}],
    )


@dataclass(frozen=True)
class BillDue:
    bill: Bill
    paid: Decimal

    @property
    def payable(self) -> Decimal:
        return max(self.bill.amount, ZERO)

    @property
    def due(self) -> Decimal:
        return self.payable - self.paid

    @property
    def state(self) -> BillState:
        if self.payable == 0:
            return BillState.NOTHING_DUE
        if self.paid == 0:
            return BillState.UNPAID
        return BillState.PAID if self.due == 0 else BillState.PARTLY_PAID

    @property
    def state_label(self) -> str:
        return str(STATE_LABELS[self.state])


def _paid_by_bill(bills: QuerySet[Bill]) -> dict[int, Decimal]:
    rows = (
        PaymentAllocation.objects.filter(bill__in=bills)
        .values("bill_id")
        .annotate(total=ExactSum("amount"))
        .values_list("bill_id", "total")
    )
    return dict(rows)


def bill_dues(partner: Partner, currency: str | None = None) -> list[BillDue]:
    """Every bill of the partner with what was paid on it, oldest first (the settling order)."""
    bills = Bill.objects.filter(partner=partner)
    if currency:
        bills = bills.filter(currency=currency)
    bills = bills.order_by("month", "currency", "id")
    paid = _paid_by_bill(bills)
    return [BillDue(b, paid.get(b.pk, ZERO)) for b in bills]


def bill_state(bill: Bill) -> BillState:
    paid = _paid_by_bill(Bill.objects.filter(pk=bill.pk)).get(bill.pk, ZERO)
    return BillDue(bill, paid).state


def unpaid_bills(partner: Partner, currency: str | None = None) -> list[BillDue]:
    return [d for d in bill_dues(partner, currency) if d.due > 0]


def amount_due(partner: Partner) -> dict[str, Decimal]:
    """Per currency, the unpaid amounts of the current and all previous bills (B4); currencies
    with nothing due are left out."""
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for d in unpaid_bills(partner):
        totals[d.bill.currency] += d.due
    return dict(sorted(totals.items()))


def balance(partner: Partner, currency: str) -> Decimal:
    total: Decimal = StatementEntry.objects.filter(partner=partner, currency=currency).aggregate(t=ExactSum("amount"))[
        "t"
    ]
    return total


def balances(partner: Partner) -> dict[str, Decimal]:
    rows = (
        StatementEntry.objects.filter(partner=partner)
        .values("currency")
        .annotate(total=ExactSum("amount"))
        .values_list("currency", "total")
    )
    return dict(sorted(rows))


def get_bill(partner: Partner, bill_id: int) -> Bill:
    """One bill of ``partner``; another partner's bill answers like a missing one."""
    try:
        return Bill.objects.get(partner=partner, pk=bill_id)
    except Bill.DoesNotExist:
        raise NotFound(f"No bill with id {bill_id} for this partner.", code="bill_not_found") from None


# --- the account statement -------------------------------------------------------------------


@dataclass(frozen=True)
class StatementRecord:
    """One line of the payment records: a movement of the balance, or a bank transfer (which
    does not move the balance; an overpayment of it is its own top-up line)."""

    at: dt.datetime
    kind: str
    kind_label: str
    currency: str
    amount: Decimal
    balance_after: Decimal | None
    description: str
    bills: tuple[str, ...]
    order: tuple[dt.datetime, int, int]


def _months(payment: Payment | None) -> tuple[str, ...]:
    if payment is None:
        return ()
    return tuple(f"{a.bill.month:%Y-%m} {a.bill.currency}" for a in payment.allocations.all())


def _description(entry: StatementEntry, payment: Payment | None) -> str:
    if payment is not None and payment.method == PaymentMethod.BANK_TRANSFER:
        return gettext("Overpayment of bank transfer %(reference)s") % {"reference": payment.reference}
    if entry.bill is not None:
        return gettext("Negative amount of the bill of %(month)s returned") % {"month": f"{entry.bill.month:%Y-%m}"}
    return entry.remark


def _entry_records(partner: Partner) -> list[StatementRecord]:
    entries = StatementEntry.objects.filter(partner=partner).select_related("payment", "bill")
    out = []
    for e in entries.prefetch_related("payment__allocations__bill"):
        payment = getattr(e, "payment", None)
        paying = payment if payment is not None and payment.method == PaymentMethod.BALANCE else None
        out.append(
            StatementRecord(
                at=e.created_at,
                kind=e.kind,
                kind_label=str(e.get_kind_display()),
                currency=e.currency,
                amount=e.amount,
                balance_after=e.balance_after,
                description=_description(e, payment),
                bills=_months(paying),
                order=(e.created_at, 0, e.pk),
            )
        )
    return out


def _transfer_records(partner: Partner) -> list[StatementRecord]:
    transfers = Payment.objects.filter(partner=partner, method=PaymentMethod.BANK_TRANSFER)
    out = []
    for p in transfers.select_related("statement_entry").prefetch_related("allocations__bill"):
        received = p.amount + (p.statement_entry.amount if p.statement_entry else ZERO)
        out.append(
            StatementRecord(
                at=p.created_at,
                kind=PaymentMethod.BANK_TRANSFER,
                kind_label=str(PaymentMethod.BANK_TRANSFER.label),
                currency=p.currency,
                amount=received,
                balance_after=None,
                description=f"{p.payer_name} · {p.reference} · {p.received_on:%Y-%m-%d}" if p.received_on else "",
                bills=_months(p),
                # Listed just before its overpayment's top-up, which was written after it.
                order=(p.created_at, -1, p.pk),
            )
        )
    return out


def statement(partner: Partner) -> list[StatementRecord]:
    """The payment records (account statement), newest first."""
    records = _entry_records(partner) + _transfer_records(partner)
    return sorted(records, key=lambda r: r.order, reverse=True)


# --- third-party payment agreements ------------------------------------------------------------


def with_status(agreements: QuerySet[PaymentAgreement]) -> QuerySet[PaymentAgreement]:
    """Annotates ``status``: the latest decision's, pending before any."""
    latest = PaymentAgreementDecision.objects.filter(agreement=OuterRef("pk")).order_by("-decided_at", "-id")
    return agreements.annotate(latest_status=Subquery(latest.values("status")[:1]))


def status_of(agreement: PaymentAgreement) -> str:
    return getattr(agreement, "latest_status", None) or AgreementStatus.PENDING


def agreements(partner: Partner) -> list[PaymentAgreement]:
    rows = list(with_status(PaymentAgreement.objects.filter(partner=partner)).order_by("-created_at", "-id"))
    for a in rows:
        a.status = status_of(a)  # type: ignore[attr-defined]
        a.status_label = AgreementStatus(a.status).label  # type: ignore[attr-defined]
    return rows


def agreements_in_scope(user: User) -> QuerySet[PaymentAgreement]:
    ids = scoping.partner_ids_for(user)
    qs = PaymentAgreement.objects.all()
    return qs if ids is None else qs.filter(partner_id__in=ids)


def normalized_name(name: str) -> str:
    """Names compared as people compare them: case, surrounding and repeated spaces ignored."""
    return " ".join(name.split()).casefold()


def approved_agreement(partner: Partner, payer_name: str) -> PaymentAgreement | None:
    wanted = normalized_name(payer_name)
    for a in with_status(PaymentAgreement.objects.filter(partner=partner)).order_by("-id"):
        if status_of(a) == AgreementStatus.APPROVED and normalized_name(a.principal) == wanted:
            return a
    return None
