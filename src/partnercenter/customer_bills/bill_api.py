"""API of the Customer Bills page (C1–C3), mounted at /api/v1/customer-bills beside the app's other
router: the months with data, Bill by Instance, Bill Details and the tables' display fields.
Thin: reads in :mod:`.bill_selectors`, display fields in :mod:`.table_settings`. Amounts are
exact decimal strings."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.billing.services import due_at
from partnercenter.core import clock, menus
from partnercenter.core.decorators import router_menu
from partnercenter.core.errors import NotFound
from partnercenter.core.money import to_str
from partnercenter.partners.models import Customer
from partnercenter.usage.resource_months import Filters, Totals

from . import bill_selectors, table_settings

router = Router(tags=["customer_bills"])
router_menu(router, menus.CUSTOMER_BILLS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"  # the ledger holds 2000-2099
MAX_ID = 2**63 - 1


class BillQuery(Schema):
    month: str | None = Field(
        None, pattern=MONTH_PATTERN, description="Billing month YYYY-MM; the newest month with data by default."
    )
    customer: str | None = Field(None, max_length=64, description="A customer's account ID; all customers if empty.")
    product: str = Field("", max_length=200, description="Product (service name); any if empty.")
    project: str = Field("", max_length=100, description="Project; any if empty.")
    region: str = Field("", max_length=64, description="Region ID; any if empty.")


class InstanceQuery(BillQuery):
    limit: int = Field(50, ge=1, le=500, description="Rows per page, 1 to 500.")
    offset: int = Field(0, ge=0, le=10**9, description="Rows to skip, 0 to 10^9.")


class DetailsQuery(BillQuery):
    limit: int = Field(50, ge=1, le=500, description="Line items per page, 1 to 500.")
    after: int = Field(0, ge=0, le=MAX_ID, description="Keyset: line items with ids above this (next_after).")


class MonthOut(Schema):
    month: str
    complete: bool = Field(description="The bill is issued (from 00:00 of the 5th of the next month).")
    issued_on: str = Field(description="The day the complete bill is issued (billing time zone).")


class TotalsOut(Schema):
    currency: str
    expenditure: str
    refund: str = Field(description="Refunds, as a positive amount returned.")
    adjustment: str
    tax: str
    amount: str = Field(description="expenditure − refund + adjustment + tax")
    line_item_count: int


class InstanceOut(Schema):
    account_id: str
    partner: str
    product: str
    service_type: str
    project: str
    region: str
    resource_id: str
    resource_name: str
    billing_mode: str
    currency: str
    expenditure: str
    refund: str
    adjustment: str
    tax: str
    amount: str
    line_item_count: int
    first_day: dt.date
    last_day: dt.date


class Coverage(Schema):
    month: str
    through_day: dt.date = Field(description="Data up to this day: the month's last, or yesterday while it runs.")
    complete: bool


class InstancePageOut(Coverage):
    count: int
    totals: list[TotalsOut] = Field(description="Per currency, over every row of the scope and filters.")
    items: list[InstanceOut]


class LineItemOut(Schema):
    id: int
    account_id: str
    charge_period_start: dt.datetime
    charge_period_end: dt.datetime
    charge_category: str
    classification: str
    charge_description: str
    product: str
    service_type: str
    project: str
    region: str
    resource_id: str
    resource_name: str
    billing_mode: str
    sku_id: str
    pricing_quantity: str | None
    pricing_unit: str
    currency: str
    billed_cost: str
    list_cost: str | None
    effective_cost: str | None
    order_id: str
    line_id: str


class DetailsPageOut(Coverage):
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last page.")
    items: list[LineItemOut]


class FieldOut(Schema):
    key: str
    label: str
    amount: bool


class TableSettingOut(Schema):
    table: str
    fields: list[str] = Field(description="The displayed fields, in order.")
    source: str = Field(description="`saved` (kept for the user), `session` or `default`.")
    available: list[FieldOut]


class TableSettingIn(Schema):
    fields: list[str] = Field(min_length=1, max_length=64, description="Field keys in display order.")


def _month(q: BillQuery, request: HttpRequest) -> dt.date:
    if q.month:
        year, month = q.month.split("-")
        return dt.date(int(year), int(month), 1)
    months = bill_selectors.months(current_user(request))
    if not months:
        raise NotFound("No customer bill data yet.")
    return months[0]


def _customer(q: BillQuery, request: HttpRequest) -> Customer | None:
    if not q.customer:
        return None
    found = bill_selectors.find_customer(current_user(request), q.customer)
    if found is None:
        raise NotFound(f"No customer with account id {q.customer!r}.")
    return found


def _coverage(month: dt.date, through_day: dt.date) -> dict[str, Any]:
    return {"month": f"{month:%Y-%m}", "through_day": through_day, "complete": clock.now() >= due_at(month)}


def _totals(t: Totals) -> TotalsOut:
    return TotalsOut(
        currency=t.currency,
        expenditure=to_str(t.expenditure),
        refund=to_str(t.refund),
        adjustment=to_str(t.adjustment),
        tax=to_str(t.tax),
        amount=to_str(t.amount),
        line_item_count=t.line_item_count,
    )


@router.get(
    "/months",
    response={200: list[MonthOut], **ERRORS},
    summary="Months with customer bills",
    description="C1: the months with reseller charges of your customers, newest first; the current month "
    "from its second day (data up to the previous day). Needs the customer_bills menu.",
)
def get_months(request: HttpRequest) -> list[MonthOut]:
    now = clock.now()
    return [
        MonthOut(month=f"{m:%Y-%m}", complete=now >= due_at(m), issued_on=f"{clock.billing_date(due_at(m)):%Y-%m-%d}")
        for m in bill_selectors.months(current_user(request))
    ]


@router.get(
    "/instances",
    response={200: InstancePageOut, **ERRORS},
    summary="Bill by Instance",
    description="C2: one row per resource of the month (customer, product, project, region, instance, billing "
    "mode) with exact amounts, ordered by customer; the totals cover every row of the filter. 404: the "
    "customer is not yours, or there is no data at all and no month was given.",
)
def get_instances(request: HttpRequest, q: Query[InstanceQuery]) -> InstancePageOut:
    user, month = current_user(request), _month(q, request)
    filters = Filters(q.product, q.project, q.region)
    scope = bill_selectors.scope_for(user, _customer(q, request))
    page = bill_selectors.instance_page(
        user, bill_selectors.build(month), scope, filters, limit=q.limit, offset=q.offset
    )
    items = [
        InstanceOut(
            account_id=r.customer.account_id,
            partner=r.partner.code,
            product=r.service_name,
            service_type=r.service_type,
            project=r.x_project,
            region=r.region_id,
            resource_id=r.resource_id,
            resource_name=r.resource_name,
            billing_mode=r.x_billing_mode,
            currency=r.currency,
            **{a: to_str(getattr(r, a)) for a in ("expenditure", "refund", "adjustment", "tax", "amount")},
            line_item_count=r.line_item_count,
            first_day=r.first_day,
            last_day=r.last_day,
        )
        for r in page.rows
    ]
    return InstancePageOut(
        **_coverage(month, page.through_day), count=page.count, totals=[_totals(t) for t in page.totals], items=items
    )


def _line(r: object) -> LineItemOut:
    def text(v: object) -> str | None:
        return None if v is None else to_str(v)  # type: ignore[arg-type]

    g = r.__getattribute__
    return LineItemOut(
        id=g("pk"),
        account_id=g("customer").account_id,
        **{k: g(k) for k in ("charge_period_start", "charge_period_end", "charge_category", "classification")},
        charge_description=g("charge_description"),
        product=g("service_name"),
        service_type=g("service_type"),
        project=g("x_project"),
        region=g("region_id"),
        resource_id=g("resource_id"),
        resource_name=g("resource_name"),
        billing_mode=g("x_billing_mode"),
        sku_id=g("sku_id"),
        pricing_quantity=text(g("pricing_quantity")),
        pricing_unit=g("pricing_unit"),
        currency=g("billing_currency"),
        billed_cost=to_str(g("billed_cost")),
        list_cost=text(g("list_cost")),
        effective_cost=text(g("effective_cost")),
        order_id=g("x_order_id"),
        line_id=g("x_line_id"),
    )


@router.get(
    "/details",
    response={200: DetailsPageOut, **ERRORS},
    summary="Bill Details",
    description="C2: the month's line items (same scope and filters as Bill by Instance), oldest recorded "
    "first, paged by keyset: pass `next_after` as `after`. Up to the previous day for the current month.",
)
def get_details(request: HttpRequest, q: Query[DetailsQuery]) -> DetailsPageOut:
    user, month = current_user(request), _month(q, request)
    filters = Filters(q.product, q.project, q.region)
    scope = bill_selectors.scope_for(user, _customer(q, request))
    page = bill_selectors.details_page(user, bill_selectors.build(month), scope, filters, after=q.after, limit=q.limit)
    return DetailsPageOut(
        **_coverage(month, page.through_day), next_after=page.next_after, items=[_line(r) for r in page.rows]
    )


def _setting_out(setting: table_settings.Setting) -> TableSettingOut:
    return TableSettingOut(
        table=setting.table,
        fields=setting.fields,
        source=setting.source,
        available=[
            FieldOut(key=f.key, label=str(f.label), amount=f.amount) for f in table_settings.catalogue(setting.table)
        ],
    )


TABLE_HELP = f"One of: {', '.join(table_settings.TABLES)}; another is 404."


@router.get(
    "/table-settings/{table}",
    response={200: TableSettingOut, **ERRORS},
    summary="Display fields of a table",
    description=f"C3: the fields the table shows for you, in order, and every field it has. {TABLE_HELP}",
)
def get_table_setting(request: HttpRequest, table: Path[str]) -> TableSettingOut:
    table_settings.catalogue(table)
    return _setting_out(table_settings.read(current_user(request), None, table))


@router.put(
    "/table-settings/{table}",
    response={200: TableSettingOut, **ERRORS},
    summary="Save the display fields of a table",
    description=f'C3: keep these fields, in this order, for you ("Save selected"). An unknown or repeated field '
    f"is 422 `invalid_fields` naming each; nothing is saved. Repeating the same request changes nothing, so no "
    f"Idempotency-Key is needed. {TABLE_HELP}",
)
def put_table_setting(request: HttpRequest, table: Path[str], body: TableSettingIn) -> TableSettingOut:
    table_settings.catalogue(table)
    return _setting_out(table_settings.save(current_user(request), None, table, body.fields, persist=True))
