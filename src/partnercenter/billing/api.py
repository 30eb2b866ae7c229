"""Partner bills API (B3, B5–B7): the bills in scope, one bill's figures and invoice number, its
breakdowns by product and by customer, and the current month's estimate. Amounts are exact
decimal strings. A bill outside the caller's scope answers 404 like a missing one."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema

from partnercenter import scoping
from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.errors import ValidationFailed
from partnercenter.core.money import ZERO
from partnercenter.core.pagination import PageQuery, limit_field, offset_field

from . import selectors
from .models import Bill

router = Router(tags=["billing"])
router_menu(router, menus.PARTNER_BILLS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")


def _money(d: Decimal) -> str:
    return format(d, "f")


class BillOut(Schema):
    id: int
    partner: str
    month: str = Field(description="YYYY-MM")
    currency: str
    generated_at: dt.datetime
    expenditure: str
    refund: str = Field(description="Positive amount returned.")
    adjustment: str
    tax: str
    amount: str = Field(description="expenditure − refund + adjustment + tax; negative when refunds exceed it.")
    amount_due: str = Field(
        description="What is still to pay: the bill's amount (0 when it is negative) less the payments applied to it."
    )
    invoice_number: str | None
    line_item_count: int


class BillPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[BillOut]


class BillQuery(Schema):
    partner: str | None = Field(default=None, max_length=64, description="Partner code (default: all in scope).")
    month: str | None = Field(default=None, max_length=7, description="Only this month, YYYY-MM.")
    limit: int = limit_field()
    offset: int = offset_field()


def bill_out(bill: Bill, paid: Decimal | None = None) -> BillOut:
    f = selectors.figures(bill, paid)
    return BillOut(
        id=bill.pk,
        partner=bill.partner.code,
        month=f"{bill.month:%Y-%m}",
        currency=bill.currency,
        generated_at=bill.generated_at,
        expenditure=_money(f.expenditure),
        refund=_money(f.refund),
        adjustment=_money(f.adjustment),
        tax=_money(f.tax),
        amount=_money(f.amount),
        amount_due=_money(f.amount_due),
        invoice_number=f.invoice_number or None,
        line_item_count=bill.line_item_count,
    )


def parse_month(text: str, where: str) -> dt.date:
    if not _MONTH.fullmatch(text):
        raise ValidationFailed(
            f"{where.split('.')[-1]} {text!r} is not a month as YYYY-MM.",
            details=[{"where": where, "why": "must be a month as YYYY-MM"}],
        )
    return dt.date(int(text[:4]), int(text[5:7]), 1)


@router.get("/bills", response={200: BillPage, **ERRORS}, summary="Partner bills in scope, newest month first")
def list_bills(request: HttpRequest, filters: Query[BillQuery]) -> BillPage:
    user = current_user(request)
    qs = selectors.bills_for(user)
    if filters.partner:
        qs = qs.filter(partner=scoping.get_partner(user, filters.partner))
    if filters.month:
        qs = qs.filter(month=parse_month(filters.month, "query.month"))
    total = qs.count()
    rows = list(qs[filters.offset : filters.offset + filters.limit])
    paid = selectors.paid_by_bill(b.pk for b in rows)
    items = [bill_out(b, paid.get(b.pk, ZERO)) for b in rows]
    return BillPage(total=total, limit=filters.limit, offset=filters.offset, items=items)


class BillEstimateOut(Schema):
    partner: str
    month: str
    currency: str
    as_of: dt.datetime = Field(description="Usage is complete up to this instant.")
    computed_at: dt.datetime
    expenditure: str
    refund: str
    adjustment: str
    amount: str = Field(description="An estimate: excluding tax, without cash-coupon deduction.")


@router.get(
    "/bills/estimate",
    response={200: list[BillEstimateOut], **ERRORS},
    summary="The current month's estimate (B3), per currency",
    description="For the caller's partner, or `partner` (required for a platform operator).",
)
def estimate(
    request: HttpRequest, partner: str | None = Query(None, max_length=64, description="Partner code")
) -> list[BillEstimateOut]:
    user = current_user(request)
    if partner:
        p = scoping.get_partner(user, partner)
    elif user.partner is not None:
        p = user.partner
    else:
        raise ValidationFailed(
            "partner is required for a platform operator.", details=[{"where": "query.partner", "why": "required"}]
        )
    return [
        BillEstimateOut(
            partner=p.code,
            month=f"{e.month:%Y-%m}",
            currency=e.currency,
            as_of=e.as_of,
            computed_at=e.computed_at,
            expenditure=_money(e.expenditure),
            refund=_money(e.refund),
            adjustment=_money(e.adjustment),
            amount=_money(e.amount),
        )
        for e in selectors.latest_estimates(p)
    ]


@router.get("/bills/{bill_id}", response={200: BillOut, **ERRORS}, summary="One partner bill with its figures")
def get_bill(request: HttpRequest, bill_id: int) -> BillOut:
    return bill_out(selectors.get_bill(current_user(request), bill_id))


class BillProductOut(Schema):
    service_type: str
    service_name: str
    amount: str
    line_item_count: int


class BillOtherOut(Schema):
    kind: str = Field(description="refund, adjustment, tax, or correction (of an earlier month)")
    corrects_month: str | None = Field(description="YYYY-MM, for a correction")
    amount: str
    line_item_count: int


class BillByProductOut(Schema):
    bill_id: int
    region: str
    regions: list[str]
    cloud: list[BillProductOut]
    cloud_total: str
    marketplace: list[BillProductOut]
    marketplace_total: str
    others: list[BillOtherOut]
    others_total: str
    total: str


def _product(r: selectors.ProductRow) -> BillProductOut:
    return BillProductOut(
        service_type=r.service_type,
        service_name=r.service_name,
        amount=_money(r.amount),
        line_item_count=r.line_item_count,
    )


@router.get("/bills/{bill_id}/by-product", response={200: BillByProductOut, **ERRORS}, summary="A bill by product (B7)")
def by_product(
    request: HttpRequest, bill_id: int, region: str = Query("", max_length=64, description="Only this region id")
) -> BillByProductOut:
    bill = selectors.get_bill(current_user(request), bill_id)
    b = selectors.by_product(bill, region)
    return BillByProductOut(
        bill_id=bill.pk,
        region=b.region,
        regions=b.regions,
        cloud=[_product(r) for r in b.cloud],
        cloud_total=_money(b.cloud_total),
        marketplace=[_product(r) for r in b.marketplace],
        marketplace_total=_money(b.marketplace_total),
        others=[
            BillOtherOut(
                kind=o.kind,
                corrects_month=f"{o.corrects_month:%Y-%m}" if o.corrects_month else None,
                amount=_money(o.amount),
                line_item_count=o.line_item_count,
            )
            for o in b.others
        ],
        others_total=_money(b.others_total),
        total=_money(b.total),
    )


class BillCustomerOut(Schema):
    account_id: str
    name: str = Field(description="Masked.")
    expenditure: str
    refund: str
    adjustment: str
    tax: str
    total: str


class BillCustomerPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[BillCustomerOut]


@router.get(
    "/bills/{bill_id}/by-customer",
    response={200: BillCustomerPage, **ERRORS},
    summary="A bill by customer (B7), largest total first",
)
def by_customer(request: HttpRequest, bill_id: int, page: Query[PageQuery]) -> BillCustomerPage:
    bill = selectors.get_bill(current_user(request), bill_id)
    rows = selectors.by_customer(bill)
    items: list[Any] = [
        BillCustomerOut(
            account_id=r.account_id,
            name=r.masked_name,
            expenditure=_money(r.expenditure),
            refund=_money(r.refund),
            adjustment=_money(r.adjustment),
            tax=_money(r.tax),
            total=_money(r.total),
        )
        for r in rows[page.offset : page.offset + page.limit]
    ]
    return BillCustomerPage(total=len(rows), limit=page.limit, offset=page.offset, items=items)
