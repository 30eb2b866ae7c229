"""Export kinds of Revenue Sharing (O5, X1): ``revenue_statement`` (one row per product and
currency, the exact sales and the two shares) and ``revenue_details`` (the statement's line items,
the customer's name anonymized, X2). Both take the publisher partner and the month; the rows are
those of :mod:`.selectors` for the task's owner, so an export never shows more than the page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from partnercenter.core import clock, menus
from partnercenter.core.errors import NotFound
from partnercenter.exports.registry import Column, ExportContext, ExportKind, Param, invalid_params, register

from . import selectors

if TYPE_CHECKING:
    from partnercenter.accounts.models import User


def _publishers(user: User) -> Mapping[Any, str | Promise]:
    return {p.code: f"{p.name} ({p.code})" for p in selectors.publishers_for(user)}


def _validate(user: User, params: dict[str, Any]) -> dict[str, Any] | None:
    if not params.get("partner"):
        raise invalid_params("Choose the publisher partner.", "partner", "required")
    if not params.get("month"):
        raise invalid_params("Choose the month.", "month", "required")
    return None


def _month(ctx: ExportContext) -> dt.date:
    return dt.date.fromisoformat(f"{ctx.params['month']}-01")


def _statement_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    st = selectors.statement(ctx.user, ctx.params["partner"], _month(ctx))
    for line in st.lines:
        yield (
            st.partner.code,
            f"{st.month:%Y-%m}",
            line.product.code,
            line.product.name,
            line.currency,
            line.product.share_rate,
            line.count,
            line.sales,
            line.platform_share,
            line.partner_share,
        )


def _details_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    partner = selectors.get_publisher(ctx.user, ctx.params["partner"])
    products = selectors.product_by_service_name(partner)
    items = selectors.statement_items(ctx.user, partner.code, _month(ctx))
    for i in items.iterator(chunk_size=2000):
        yield (
            i.charge_period_start.astimezone(clock.billing_tz()),
            products[i.service_name].code,
            i.customer.account_id,
            i.customer.name,
            i.x_order_id,
            i.classification,
            i.billing_currency,
            i.billed_cost,
        )


def _has(ctx: ExportContext, details: bool) -> bool:
    try:
        if details:
            return selectors.statement_items(ctx.user, ctx.params["partner"], _month(ctx)).exists()
        return bool(selectors.statement(ctx.user, ctx.params["partner"], _month(ctx)).lines)
    except NotFound:
        return False


PARAMS = [
    Param("partner", _("Partner"), "choice", choices=_publishers),
    Param("month", _("Month"), "month"),
]

REVENUE_STATEMENT = register(
    ExportKind(
        code="revenue_statement",
        label=_("Revenue-sharing statement"),
        menu=menus.REVENUE_SHARING,
        columns=[
            Column("partner_code", _("Partner code")),
            Column("month", _("Month")),
            Column("product_code", _("Product code")),
            Column("product", _("Product")),
            Column("currency", _("Currency")),
            Column("share_rate", _("Platform share rate"), "amount"),
            Column("line_items", _("Line items"), "int"),
            Column("sales", _("Sales"), "amount"),
            Column("platform_share", _("Platform share"), "amount"),
            Column("partner_share", _("Partner share"), "amount"),
        ],
        rows=_statement_rows,
        filename_stem="revenue-statement",
        validate=_validate,
        params=PARAMS,
        sheet_title=_("Revenue sharing"),
        has_rows=lambda ctx: _has(ctx, False),
    )
)

REVENUE_DETAILS = register(
    ExportKind(
        code="revenue_details",
        label=_("Revenue-sharing transaction details"),
        menu=menus.REVENUE_SHARING,
        columns=[
            Column("time", _("Time"), "datetime"),
            Column("product_code", _("Product code")),
            Column("account_id", _("Account ID")),
            Column("customer", _("Customer name"), "sensitive_name"),
            Column("order_id", _("Order ID")),
            Column("classification", _("Kind")),
            Column("currency", _("Currency")),
            Column("amount", _("Amount"), "amount"),
        ],
        rows=_details_rows,
        filename_stem="revenue-details",
        validate=_validate,
        params=PARAMS,
        sheet_title=_("Transaction details"),
        has_rows=lambda ctx: _has(ctx, True),
    )
)
