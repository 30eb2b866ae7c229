"""API of bill confirmation and customers' credit (C5–C7, E8), mounted at /api/v1/customer-bills.
Thin: the rules are in :mod:`.services`, the reads in :mod:`.selectors`."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter import scoping
from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.errors import Forbidden, ValidationFailed
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import IdempotencyKey, IsoDate, limit_field, offset_field

from . import selectors as sel
from . import services as svc
from .models import Confirmation, CreditEntry, CreditKind

router = Router(tags=["customer_bills"])
router_menu(router, menus.CUSTOMER_BILLS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
WRITE_ERRORS: dict[int, type[ErrorOut]] = {**ERRORS, 409: ErrorOut}
MAX_ID = 2**63 - 1
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"
ACCOUNT_HELP = "The customer's account id."
AMOUNT_HELP = (
    'Decimal text such as "100.00": greater than zero, at most the currency\'s minor unit in decimal places '
    "(JSON numbers are refused so that no amount passes through a float)."
)
KEY_HELP = (
    "The same key answers the first result again, once; the same key with a different request is 409 "
    "`idempotency_key_reused`."
)


class BillsQuery(Schema):
    month: str = Field(..., pattern=MONTH_PATTERN, description="Billing month, YYYY-MM.")
    customer: str | None = Field(None, max_length=64, description=ACCOUNT_HELP + " Absent: all customers.")


class BillOut(Schema):
    id: int
    partner: str
    customer: str
    month: str
    currency: str
    total: str
    confirmed: str
    remaining: str = Field(description="The amount still to be confirmed: max(total, 0) − Σ confirmations.")
    may_confirm: bool = Field(description="Whether the caller may confirm it (C6).")


class ConfirmIn(Schema):
    amount: str | None = Field(None, max_length=40, description=AMOUNT_HELP + " Absent: all that remains.")


class BatchIn(Schema):
    bill_ids: list[int] = Field(..., min_length=1, max_length=svc.MAX_BATCH, description="Each confirmed in full.")


class ConfirmationOut(Schema):
    id: int
    bill_id: int
    amount: str
    is_full: bool
    remaining: str
    available_after: str = Field(description="The customer's available credit after the confirmation returned it.")
    confirmed_at: dt.datetime


class CreditOut(Schema):
    partner: str
    customer: str
    currency: str
    limit: str
    used: str
    available: str


class CreditIn(Schema):
    customer: str = Field(..., max_length=64, description=ACCOUNT_HELP)
    currency: str = Field(..., max_length=3)
    amount: str = Field(..., max_length=40, description=AMOUNT_HELP)
    remark: str = Field("", max_length=500)


class EntryOut(Schema):
    id: int
    partner: str
    customer: str
    currency: str
    kind: CreditKind
    amount: str
    limit_after: str
    used_after: str
    available_before: str
    available_after: str
    created_at: dt.datetime
    created_by: str | None
    remark: str
    bill_month: str | None


class RecordsQuery(Schema):
    customer: str | None = Field(None, max_length=64, description=ACCOUNT_HELP)
    kind: CreditKind | None = None
    start: IsoDate | None = Field(None, description="From this day (billing time zone).")
    end: IsoDate | None = Field(None, description="Through this day (billing time zone).")
    limit: int = limit_field()
    offset: int = offset_field()


class RecordsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[EntryOut]


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(f"{text}-01")


def confirmation_out(c: Confirmation) -> ConfirmationOut:
    bill = c.bill
    return ConfirmationOut(
        id=c.pk,
        bill_id=bill.pk,
        amount=to_str(c.amount),
        is_full=c.is_full,
        remaining=to_str(sel.remaining(bill)),
        available_after=to_str(c.credit_entry.available_after),
        confirmed_at=c.confirmed_at,
    )


def entry_out(e: CreditEntry) -> EntryOut:
    return EntryOut(
        id=e.pk,
        partner=e.partner.code,
        customer=e.customer.account_id,
        currency=e.currency,
        kind=CreditKind(e.kind),
        amount=to_str(e.amount),
        limit_after=to_str(e.limit_after),
        used_after=to_str(e.used_after),
        available_before=to_str(e.available_before),
        available_after=to_str(e.available_after),
        created_at=e.created_at,
        created_by=e.created_by.username if e.created_by else None,
        remark=e.remark,
        bill_month=f"{e.bill.month:%Y-%m}" if e.bill else None,
    )


# --- bills and confirmations (menu: customer_bills) ---------------------------------------------


@router.get(
    "/bills-to-confirm",
    response={200: list[BillOut], **ERRORS},
    summary="Bills to confirm",
    description="C5: the generated customer bills of the month in the caller's scope (customer optional), with "
    "their total, what was confirmed and what remains; `may_confirm` says whether the caller may confirm it "
    "(C6: the bill's partner's own users; a distributor views its second-level resellers' customers' bills but "
    "does not confirm them). A month whose bills are not generated yet (before the 5th of the next month) has "
    "none.",
)
def bills_to_confirm(request: HttpRequest, q: Query[BillsQuery]) -> list[BillOut]:
    rows = sel.bills_to_confirm(current_user(request), _month(q.month), q.customer)
    return [
        BillOut(
            id=r.bill.pk,
            partner=r.bill.partner.code,
            customer=r.bill.customer.account_id,
            month=f"{r.bill.month:%Y-%m}",
            currency=r.bill.currency,
            total=to_str(r.bill.total),
            confirmed=to_str(r.confirmed),
            remaining=to_str(r.remaining),
            may_confirm=r.may_confirm,
        )
        for r in rows
    ]


@router.post(
    "/bills/{bill_id}/confirmations",
    response={200: ConfirmationOut, **WRITE_ERRORS},
    summary="Confirm a bill and return credit",
    description="Confirms `amount` of the bill (absent: all that remains) and returns it to the customer's "
    "available credit in the same transaction. Refused (422, nothing changes): above what remains "
    "(`more_than_remaining`), nothing left (`nothing_to_confirm`), zero, negative, not a number or more decimals "
    "than the currency allows (`invalid_amount`). A bill out of the caller's scope is 404; a bill the caller sees "
    "but may not confirm (another partner's, or a platform operator) is 403 `confirm_forbidden`. Parallel "
    "confirmations of one bill are serialised and never exceed its total.\n\n`Idempotency-Key`: " + KEY_HELP,
)
def confirm_bill(
    request: HttpRequest,
    body: ConfirmIn,
    bill_id: int = Path(..., ge=1, le=MAX_ID),  # noqa: B008
    idempotency_key: IdempotencyKey = None,
) -> ConfirmationOut:
    c = svc.confirm(
        actor=current_user(request), bill_id=bill_id, amount=body.amount, idempotency_key=idempotency_key or ""
    )
    return confirmation_out(c)


@router.post(
    "/confirmations/batch",
    response={200: list[ConfirmationOut], **WRITE_ERRORS},
    summary="Batch-confirm bills",
    description="Confirms each bill in full (what remains of it), all or nothing: one bill with nothing left "
    "(`nothing_to_confirm`), out of scope (404) or not the caller's to confirm (403) refuses the whole batch and "
    "nothing changes.\n\n`Idempotency-Key`: " + KEY_HELP,
)
def batch_confirm(
    request: HttpRequest,
    body: BatchIn,
    idempotency_key: IdempotencyKey = None,
) -> list[ConfirmationOut]:
    confs = svc.batch_confirm(
        actor=current_user(request), bill_ids=body.bill_ids, idempotency_key=idempotency_key or ""
    )
    return [confirmation_out(c) for c in confs]


# --- credit (menu: customer_management) ----------------------------------------------------------


@router.get(
    "/credit",
    response={200: list[CreditOut], **ERRORS},
    summary="A customer's credit",
    description="C7: per partner in scope and currency, the credit limit (Σ grants − Σ reclaims), used credit "
    "(Σ consumption − Σ confirmations) and available credit (limit − used; negative when consumption exceeds "
    "the limit). A customer out of scope is 404.",
)
@api_menu(menus.CUSTOMER_MANAGEMENT)
def credit(
    request: HttpRequest,
    customer: str = Query(..., max_length=64, description=ACCOUNT_HELP),  # noqa: B008
) -> list[CreditOut]:
    user = current_user(request)
    c = sel.customer_for(user, customer)
    return [
        CreditOut(
            partner=a.partner_code,
            customer=c.account_id,
            currency=a.currency,
            limit=to_str(a.figures.limit),
            used=to_str(a.figures.used),
            available=to_str(a.figures.available),
        )
        for a in sel.credit_accounts(user, c)
    ]


def _adjust(request: HttpRequest, body: CreditIn, key: str | None, kind: CreditKind) -> EntryOut:
    user = current_user(request)
    if user.partner is None:
        raise Forbidden("Only the partner's admin grants or reclaims credit.", code="credit_forbidden")
    customer = sel.customer_for(user, body.customer, scoping.Purpose.ACT)
    write = svc.grant_credit if kind == CreditKind.GRANT else svc.reclaim_credit
    entry = write(
        actor=user,
        partner=user.partner,
        customer=customer,
        currency=body.currency,
        amount=body.amount,
        remark=body.remark,
        idempotency_key=key or "",
    )
    return entry_out(CreditEntry.objects.select_related("partner", "customer", "created_by", "bill").get(pk=entry.pk))


@router.post(
    "/credit/grants",
    response={200: EntryOut, **WRITE_ERRORS},
    summary="Grant credit",
    description="The partner's admin raises a reseller customer's credit limit; the entry records the figures "
    "before and after. Not the admin: 403 `credit_forbidden`; a customer out of the caller's partner: 404; a "
    "referral customer: 422 `not_reseller_customer`; a bad amount: 422 `invalid_amount`.\n\n`Idempotency-Key`: "
    + KEY_HELP,
)
@api_menu(menus.CUSTOMER_MANAGEMENT)
def grant(
    request: HttpRequest,
    body: CreditIn,
    idempotency_key: IdempotencyKey = None,
) -> EntryOut:
    return _adjust(request, body, idempotency_key, CreditKind.GRANT)


@router.post(
    "/credit/reclaims",
    response={200: EntryOut, **WRITE_ERRORS},
    summary="Reclaim credit",
    description="The partner's admin lowers a customer's credit limit by at most the available credit (422 "
    "`more_than_available`, nothing changes); otherwise as grants.\n\n`Idempotency-Key`: " + KEY_HELP,
)
@api_menu(menus.CUSTOMER_MANAGEMENT)
def reclaim(
    request: HttpRequest,
    body: CreditIn,
    idempotency_key: IdempotencyKey = None,
) -> EntryOut:
    return _adjust(request, body, idempotency_key, CreditKind.RECLAIM)


@router.get(
    "/adjustment-records",
    response={200: RecordsPage, **ERRORS},
    summary="Adjustment records",
    description="E8: the credit ledger in scope, newest first (grants, reclaims, consumption, bill confirmations) "
    "with the figures before and after each; by customer, kind and days (billing time zone, both included).",
)
@api_menu(menus.CUSTOMER_MANAGEMENT)
def adjustment_records(request: HttpRequest, q: Query[RecordsQuery]) -> RecordsPage:
    if q.start and q.end and q.start > q.end:
        raise ValidationFailed("start: must not be after end.", details=[{"where": "start", "why": "after end"}])
    qs = sel.adjustment_records(current_user(request), customer=q.customer, kind=q.kind, start=q.start, end=q.end)
    items = [entry_out(e) for e in qs[q.offset : q.offset + q.limit]]
    return RecordsPage(total=qs.count(), limit=q.limit, offset=q.offset, items=items)
