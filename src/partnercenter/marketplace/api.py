"""HTTP API of the marketplace app (O5), mounted at /api/v1/marketplace: product links (Share
Product Link menu), the storefront's orders (platform operator) and revenue-sharing statements
(Revenue Sharing menu). Exports of statements go through /api/v1/exports (kinds
``revenue_statement`` and ``revenue_details``)."""

from __future__ import annotations

import datetime as dt

from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema, Status

from partnercenter.accounts.api import current_user
from partnercenter.accounts.schemas import ErrorOut
from partnercenter.core import menus
from partnercenter.core.decorators import api_menu, router_menu
from partnercenter.core.money import canonical as to_str
from partnercenter.core.pagination import limit_field, offset_field

from . import selectors as sel
from . import services as svc
from .links import link_url
from .models import MarketplaceOrder, ProductLink

router = Router(tags=["marketplace"])
router_menu(router, menus.MARKETPLACE_LINKS)

ERRORS: dict[int, type[ErrorOut]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 422: ErrorOut}
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"


class ProductOut(Schema):
    code: str
    name: str
    publisher: str | None
    link: str | None = Field(description="The caller's partner's link, once made; it carries the partner code.")


class LinkOut(Schema):
    product: str
    partner: str
    ref: str
    url: str
    created_at: dt.datetime


class OrderIn(Schema):
    order_id: str = Field(..., min_length=1, max_length=100, description="The storefront's order id; kept once.")
    product: str = Field(..., max_length=64, description="The product code.")
    ref: str = Field(..., max_length=64, description="The link's `ref`.")
    partner: str = Field("", max_length=64, description="The link's `partner` code; when given it must match.")
    account_id: str = Field(..., max_length=64)
    customer_name: str = Field(..., max_length=200)
    email: str = Field("", max_length=254)
    mobile: str = Field("", max_length=32)
    amount: str = Field(..., max_length=40, description='Exact decimal text such as "699.00".')
    currency: str = Field(..., max_length=3)


class OrderOut(Schema):
    order_id: str
    product: str
    partner: str
    customer: str
    amount: str
    currency: str
    association: str = Field(description="`created`: the new customer is now the link's partner's; `unchanged`.")
    reason: str
    received_at: dt.datetime


class StatementQuery(Schema):
    partner: str = Field(..., max_length=64, description="The publisher partner's code.")
    month: str = Field(..., pattern=MONTH_PATTERN, description="YYYY-MM (billing time zone).")


class DetailsQuery(StatementQuery):
    limit: int = limit_field()
    offset: int = offset_field()


class StatementLineOut(Schema):
    product: str
    name: str
    currency: str
    share_rate: str
    line_items: int
    sales: str
    platform_share: str
    partner_share: str


class TotalOut(Schema):
    currency: str
    sales: str
    platform_share: str
    partner_share: str


class StatementOut(Schema):
    partner: str
    month: str
    lines: list[StatementLineOut]
    totals: list[TotalOut]


class DetailOut(Schema):
    id: int
    charge_period_start: dt.datetime
    product: str
    customer: str
    classification: str
    billed_cost: str
    currency: str
    order_id: str


class DetailsPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[DetailOut]


def _link_out(request: HttpRequest, link: ProductLink) -> LinkOut:
    return LinkOut(
        product=link.product.code,
        partner=link.partner.code,
        ref=link.token,
        url=link_url(request, link),
        created_at=link.created_at,
    )


def _order_out(o: MarketplaceOrder) -> OrderOut:
    return OrderOut(
        order_id=o.order_id,
        product=o.product.code,
        partner=o.partner.code,
        customer=o.customer.account_id,
        amount=to_str(o.amount),
        currency=o.currency,
        association=o.association,
        reason=o.reason,
        received_at=o.received_at,
    )


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(f"{text}-01")


@router.get(
    "/products",
    response={200: list[ProductOut], **ERRORS},
    summary="Products to share",
    description="The products on sale, each with the caller's partner's link once made.",
)
def products(request: HttpRequest) -> list[ProductOut]:
    page = sel.link_page(current_user(request))
    return [
        ProductOut(
            code=r.product.code,
            name=r.product.name,
            publisher=r.product.publisher.code if r.product.publisher else None,
            link=link_url(request, r.link) if r.link else None,
        )
        for r in page.rows
    ]


@router.post(
    "/products/{code}/link",
    response={200: LinkOut, 201: LinkOut, **ERRORS},
    summary="Get the product's link",
    description="The caller's partner's link of the product: 201 when made now, 200 when it existed. Only partners "
    "enrolled as marketplace customer service providers share links (403 `not_enrolled`); a platform operator has "
    "no partner (403). An unknown or inactive product is 404.",
)
def get_link(request: HttpRequest, code: str = Path(..., max_length=64)) -> Status:
    link, created = svc.share_link(current_user(request), code)
    return Status(201 if created else 200, _link_out(request, link))


@router.post(
    "/orders",
    response={200: OrderOut, 201: OrderOut, 409: ErrorOut, **ERRORS},
    summary="Record a storefront order (platform operator)",
    description="An order placed through a product link. A new customer is created and associated with the link's "
    "partner as a reseller customer (`association`: `created`); an existing customer's association is never "
    "replaced (`unchanged`, `reason` says why). 201 when recorded now; a repeated `order_id` answers the first "
    "result with 200. Invalid input (unknown link, link of another product or partner, bad amount, currency or "
    "customer fields) is 422 and records nothing. 409 `customer_exists` when another order created the same new "
    "customer at the same moment (send the order again: it then answers `unchanged`).",
)
@api_menu(menus.API_PLATFORM_OPERATOR)
def create_order(request: HttpRequest, body: OrderIn) -> Status:
    order, created = svc.record_order(
        svc.OrderIn(
            order_id=body.order_id,
            product_code=body.product,
            account_id=body.account_id,
            customer_name=body.customer_name,
            amount=body.amount,
            currency=body.currency,
            ref=body.ref,
            partner_code=body.partner,
            email=body.email,
            mobile=body.mobile,
        ),
        actor=current_user(request),
    )
    return Status(201 if created else 200, _order_out(order))


@router.get(
    "/statements",
    response={200: StatementOut, **ERRORS},
    summary="Revenue-sharing statement",
    description="A publisher partner's month: per product the sales (exact sum of its marketplace line items, tax "
    "excluded), the platform share `round_minor(sales × share_rate)` half up and the partner share "
    "`sales − platform_share`; totals per currency. A partner out of the caller's scope, or not a publisher, is "
    "404.",
)
@api_menu(menus.REVENUE_SHARING)
def statement(request: HttpRequest, q: Query[StatementQuery]) -> StatementOut:
    st = sel.statement(current_user(request), q.partner, _month(q.month))
    return StatementOut(
        partner=st.partner.code,
        month=f"{st.month:%Y-%m}",
        lines=[
            StatementLineOut(
                product=line.product.code,
                name=line.product.name,
                currency=line.currency,
                share_rate=to_str(line.product.share_rate),
                line_items=line.count,
                sales=to_str(line.sales),
                platform_share=to_str(line.platform_share),
                partner_share=to_str(line.partner_share),
            )
            for line in st.lines
        ],
        totals=[TotalOut(**{k: v if k == "currency" else to_str(v) for k, v in t.items()}) for t in st.totals()],  # type: ignore[arg-type]
    )


@router.get(
    "/statements/details",
    response={200: DetailsPage, **ERRORS},
    summary="Transaction details of a statement",
    description="The line items behind the statement, oldest first, paginated. Customer names are not given; "
    "the account id identifies the customer. 404 as for the statement.",
)
@api_menu(menus.REVENUE_SHARING)
def details(request: HttpRequest, q: Query[DetailsQuery]) -> DetailsPage:
    items = sel.statement_items(current_user(request), q.partner, _month(q.month))
    products = sel.product_by_service_name(sel.get_publisher(current_user(request), q.partner))
    return DetailsPage(
        total=items.count(),
        limit=q.limit,
        offset=q.offset,
        items=[
            DetailOut(
                id=i.pk,
                charge_period_start=i.charge_period_start,
                product=products[i.service_name].code,
                customer=i.customer.account_id,
                classification=i.classification,
                billed_cost=to_str(i.billed_cost),
                currency=i.billing_currency,
                order_id=i.x_order_id,
            )
            for i in items[q.offset : q.offset + q.limit]
        ],
    )
