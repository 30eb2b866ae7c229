"""API of the amount due, the prepaid balance, payments and third-party payment agreements
(B4, B9), mounted at /api/v1/billing beside the bills' router. Thin: the rules are in
:mod:`.payment_services`, the reads in :mod:`.payment_selectors`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status

from partnercenter import scoping
from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey, IsoDate, limit_field, offset_field

from . import payment_selectors as sel
from . import payment_services as svc
from .models import AgreementStatus, Payment, PaymentAgreement, PrincipalType, StatementEntry

router = Router(tags=["payments"])
router_menu(router, menus.PARTNER_BILLS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
MAX_ID = 2**63 - 1
CODE_PATTERN = r"^[a-z0-9][a-z0-9-]*$"
AMOUNT_HELP = (
    'Decimal text such as "100.00": greater than zero, at most the currency\'s minor unit in decimal places '
    "(JSON numbers are refused so that no amount passes through a float)."
)
T = TypeVar("T")
PARTNER_HELP = "Partner code; partner users default to their own partner, a platform operator must name one."


def _partner_field() -> str | None:
    return Field(None, max_length=64, pattern=CODE_PATTERN, description=PARTNER_HELP)  # type: ignore[no-any-return]


class PartnerQuery(Schema):
    partner: str | None = _partner_field()


class StatementQuery(PartnerQuery):
    limit: int = limit_field()
    offset: int = offset_field()


class Money(Schema):
    currency: str
    amount: str


class AmountDueOut(Schema):
    partner: str
    amount_due: list[Money] = Field(description="Per currency: unpaid amounts of the current and all previous bills.")
    balance: list[Money] = Field(description="The prepaid balance per currency.")


class BillDueOut(Schema):
    id: int
    month: str
    currency: str
    amount: str
    paid: str
    due: str
    state: str


class RecordOut(Schema):
    at: dt.datetime
    kind: str
    kind_label: str
    currency: str
    amount: str
    balance_after: str | None
    description: str
    bills: list[str]


class StatementPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[RecordOut]


class AllocationOut(Schema):
    bill_id: int
    month: str
    amount: str


class PaymentOut(Schema):
    id: int
    partner: str
    currency: str
    method: str
    amount: str = Field(description="Applied to bills (the sum of the allocations).")
    to_balance: str | None = Field(description="A transfer's overpayment credited to the prepaid balance.")
    balance_after: str | None
    payer_name: str
    reference: str
    received_on: dt.date | None
    allocations: list[AllocationOut]
    created_at: dt.datetime


class TopUpOut(Schema):
    id: int
    partner: str
    currency: str
    amount: str
    balance_after: str
    remark: str
    created_at: dt.datetime


class AgreementOut(Schema):
    id: int
    partner: str
    principal: str
    principal_type: str
    status: str
    created_at: dt.datetime


class PayIn(Schema):
    partner: str | None = _partner_field()
    currency: str | None = Field(None, max_length=3, description="Needed unless a bill is chosen.")
    amount: str | None = Field(None, max_length=40, description=AMOUNT_HELP + " Absent: everything due.")
    bill_id: int | None = Field(None, ge=1, le=MAX_ID, description="Pay this bill only.")


class TransferIn(Schema):
    partner: str = Field(..., max_length=64, pattern=CODE_PATTERN)
    currency: str = Field(..., max_length=3)
    amount: str = Field(..., max_length=40, description=AMOUNT_HELP)
    payer_name: str = Field(..., max_length=200, description="The name on the paying account.")
    received_on: IsoDate
    reference: str = Field(..., max_length=100, description="The bank's reference; recorded once per partner.")
    bill_id: int | None = Field(None, ge=1, le=MAX_ID)


class TopUpIn(Schema):
    partner: str = Field(..., max_length=64, pattern=CODE_PATTERN)
    currency: str = Field(..., max_length=3)
    amount: str = Field(..., max_length=40, description=AMOUNT_HELP)
    remark: str = Field("", max_length=500)


class AgreementIn(Schema):
    principal: str = Field(..., max_length=200, description="被委托方: who pays on the partner's behalf.")
    principal_type: PrincipalType


class DecisionIn(Schema):
    status: AgreementStatus = Field(description="`approved` or `rejected`.")
    remark: str = Field("", max_length=500)


def _m(d: Decimal | None) -> str | None:
    return None if d is None else to_str(d)


def payment_out(p: Payment) -> PaymentOut:
    entry = p.statement_entry
    to_balance = entry.amount if entry is not None and entry.amount > 0 else None
    return PaymentOut(
        id=p.pk,
        partner=p.partner.code,
        currency=p.currency,
        method=p.method,
        amount=to_str(p.amount),
        to_balance=_m(to_balance),
        balance_after=_m(entry.balance_after if entry is not None else None),
        payer_name=p.payer_name,
        reference=p.reference,
        received_on=p.received_on,
        allocations=[
            AllocationOut(bill_id=a.bill_id, month=f"{a.bill.month:%Y-%m}", amount=to_str(a.amount))
            for a in p.allocations.select_related("bill").order_by("pk")
        ],
        created_at=p.created_at,
    )


def agreement_out(a: PaymentAgreement) -> AgreementOut:
    return AgreementOut(
        id=a.pk,
        partner=a.partner.code,
        principal=a.principal,
        principal_type=a.principal_type,
        status=sel.status_of(a),
        created_at=a.created_at,
    )


def top_up_out(e: StatementEntry) -> TopUpOut:
    return TopUpOut(
        id=e.pk,
        partner=e.partner.code,
        currency=e.currency,
        amount=to_str(e.amount),
        balance_after=to_str(e.balance_after),
        remark=e.remark,
        created_at=e.created_at,
    )


# --- reads ---------------------------------------------------------------------------------------


@router.get(
    "/amount-due",
    response={200: AmountDueOut, **ERRORS},
    summary="Amount due and prepaid balance",
    description="B4: per currency, the unpaid amounts of the current and all previous bills (a bill with a "
    "negative amount owes nothing), and the prepaid balance. Needs the partner_bills menu; a partner out of "
    "scope is 404.",
)
def get_amount_due(request: HttpRequest, q: Query[PartnerQuery]) -> AmountDueOut:
    partner = sel.partner_for(current_user(request), q.partner)
    return AmountDueOut(
        partner=partner.code,
        amount_due=[Money(currency=c, amount=to_str(a)) for c, a in sel.amount_due(partner).items()],
        balance=[Money(currency=c, amount=to_str(a)) for c, a in sel.balances(partner).items()],
    )


@router.get(
    "/unpaid-bills",
    response={200: list[BillDueOut], **ERRORS},
    summary="Unpaid bills",
    description="Bills with an amount due, oldest first (the order payments settle them in); `state` is "
    "`unpaid` or `partly_paid`, derived from the payments.",
)
def get_unpaid_bills(request: HttpRequest, q: Query[PartnerQuery]) -> list[BillDueOut]:
    partner = sel.partner_for(current_user(request), q.partner)
    return [
        BillDueOut(
            id=d.bill.pk,
            month=f"{d.bill.month:%Y-%m}",
            currency=d.bill.currency,
            amount=to_str(d.bill.amount),
            paid=to_str(d.paid),
            due=to_str(d.due),
            state=d.state,
        )
        for d in sel.unpaid_bills(partner)
    ]


@router.get(
    "/statement",
    response={200: StatementPage, **ERRORS},
    summary="Payment records (account statement)",
    description="Newest first: top-ups, payments from the balance and refunds with the balance after each, and "
    "bank transfers (which do not move the balance; an overpayment is its own top-up line).",
)
def get_statement(request: HttpRequest, q: Query[StatementQuery]) -> StatementPage:
    partner = sel.partner_for(current_user(request), q.partner)
    records = sel.statement(partner)
    items = [
        RecordOut(
            at=r.at,
            kind=r.kind,
            kind_label=r.kind_label,
            currency=r.currency,
            amount=to_str(r.amount),
            balance_after=_m(r.balance_after),
            description=r.description,
            bills=list(r.bills),
        )
        for r in records[q.offset : q.offset + q.limit]
    ]
    return StatementPage(total=len(records), limit=q.limit, offset=q.offset, items=items)


# --- writes --------------------------------------------------------------------------------------


class _MoneyIn(Protocol):
    @property
    def partner(self) -> str | None: ...

    @property
    def currency(self) -> str | None: ...

    @property
    def amount(self) -> str | None: ...


def _act(
    request: HttpRequest, body: _MoneyIn, idempotency_key: str | None, write: Callable[..., T], **fields: Any
) -> T:
    """``write`` (a service of :mod:`.payment_services`) by the caller for the partner the body names
    (the caller must act for it), with the body's currency and amount, ``fields`` and the key."""
    user = current_user(request)
    partner = sel.partner_for(user, body.partner, scoping.Purpose.ACT)
    return write(
        actor=user,
        partner=partner,
        currency=body.currency,
        amount=body.amount,
        idempotency_key=idempotency_key or "",
        **fields,
    )


@router.post(
    "/payments",
    response={200: PaymentOut, **WRITE_ERRORS},
    summary="Pay from the prepaid balance",
    description="Pays `amount` (absent: everything due) of the bills in `currency`, the oldest unpaid bill first, "
    "or of the chosen `bill_id` only. Refused (422, nothing changes) beyond the amount due (`more_than_due`), "
    "beyond the balance (`insufficient_balance`), when nothing is due (`nothing_due`) or for a bad amount "
    "(`invalid_amount`); another partner's bill is 404. Needs the partner_bills menu and a partner the caller "
    "acts for.\n\nWith an `Idempotency-Key` header the same key answers the payment it made, once; the same key "
    "with a different request is 409 `idempotency_key_reused`. Simultaneous payments are serialised per partner.",
)
def pay(request: HttpRequest, body: PayIn, idempotency_key: IdempotencyKey = None) -> PaymentOut:
    return payment_out(_act(request, body, idempotency_key, svc.pay_from_balance, bill_id=body.bill_id))


@router.post(
    "/transfers",
    response={200: PaymentOut, **WRITE_ERRORS},
    summary="Record a bank transfer (platform operator)",
    description="Settles the oldest unpaid bills of the currency first, or the chosen bill; what exceeds the "
    "amounts due is credited to the prepaid balance (`to_balance`). A payer other than the partner needs an "
    "approved third-party payment agreement of the partner for that principal (422 `no_payment_agreement`). "
    "A reference already recorded for the partner is 409 `transfer_already_recorded`; `Idempotency-Key` as "
    "for payments.",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def record_transfer(request: HttpRequest, body: TransferIn, idempotency_key: IdempotencyKey = None) -> PaymentOut:
    payment = _act(
        request,
        body,
        idempotency_key,
        svc.record_transfer,
        payer_name=body.payer_name,
        received_on=body.received_on,
        reference=body.reference,
        bill_id=body.bill_id,
    )
    return payment_out(payment)


@router.post(
    "/top-ups",
    response={200: TopUpOut, **WRITE_ERRORS},
    summary="Top up the prepaid balance (platform operator)",
    description="Appends a top-up to the partner's account statement. `Idempotency-Key` as for payments.",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def create_top_up(request: HttpRequest, body: TopUpIn, idempotency_key: IdempotencyKey = None) -> TopUpOut:
    return top_up_out(_act(request, body, idempotency_key, svc.top_up, remark=body.remark))


# --- third-party payment agreements --------------------------------------------------------------


@router.get(
    "/agreements",
    response={200: list[AgreementOut], **ERRORS},
    summary="Third-party payment agreements",
    description="The partner's agreements, newest first, with their status (the latest decision; `pending` "
    "before any).",
)
def list_agreements(request: HttpRequest, q: Query[PartnerQuery]) -> list[AgreementOut]:
    partner = sel.partner_for(current_user(request), q.partner)
    return [agreement_out(a) for a in sel.agreements(partner)]


@router.post(
    "/agreements",
    response={201: AgreementOut, **WRITE_ERRORS},
    summary="Create a third-party payment agreement",
    description="The partner's admin names a principal who may pay the partner's bills by bank transfer; it is "
    "pending until a platform operator approves it. Another admin's or a non-admin's request is 403; a principal "
    "with an agreement pending or approved is 409 `agreement_exists`.",
)
def create_agreement(request: HttpRequest, body: AgreementIn) -> Status[AgreementOut]:
    user = current_user(request)
    partner = sel.partner_for(user, None, scoping.Purpose.ACT)
    agreement = svc.create_agreement(
        actor=user, partner=partner, principal=body.principal, principal_type=body.principal_type
    )
    agreement = sel.with_status(PaymentAgreement.objects.filter(pk=agreement.pk)).select_related("partner").get()
    return Status(201, agreement_out(agreement))


@router.post(
    "/agreements/{agreement_id}/decisions",
    response={201: AgreementOut, **WRITE_ERRORS},
    summary="Approve or reject an agreement (platform operator)",
    description="Appends a decision: a pending agreement is approved or rejected, an approved one may be "
    "withdrawn (rejected); anything else is 409 `decision_not_allowed`.",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def decide_agreement(
    request: HttpRequest,
    body: DecisionIn,
    agreement_id: int = Path(..., ge=1, le=MAX_ID),  # noqa: B008
) -> Status[AgreementOut]:
    svc.decide_agreement(actor=current_user(request), agreement_id=agreement_id, status=body.status, remark=body.remark)
    agreement = sel.with_status(PaymentAgreement.objects.filter(pk=agreement_id)).select_related("partner").get()
    return Status(201, agreement_out(agreement))
