"""Export kinds of customer expenditure (E7): the summary and the customer bills (details)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext_lazy as _

from partnercenter.core import menus
from partnercenter.core.errors import ValidationFailed
from partnercenter.exports.registry import Column, ExportContext, ExportKind, register

from . import selectors


def _check_dates(params: dict[str, Any]) -> None:
    try:
        start = dt.date.fromisoformat(params["start"]) if params.get("start") else None
        end = dt.date.fromisoformat(params["end"]) if params.get("end") else None
    except (TypeError, ValueError):
        raise ValidationFailed("start and end must be dates (YYYY-MM-DD).") from None
    if start and end and start > end:
        raise ValidationFailed("start must not be after end.")


def _validate_summary(user: Any, params: dict[str, Any]) -> dict[str, Any]:
    _check_dates(params)
    return selectors.SummaryFilter.from_params(params).as_params()


def _validate_details(user: Any, params: dict[str, Any]) -> dict[str, Any]:
    _check_dates(params)
    return selectors.DetailFilter.from_params(params).as_params()


def _summary_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    f = selectors.SummaryFilter.from_params(dict(ctx.params))
    for r in selectors.iter_summary(ctx.user, f, at=ctx.at):
        yield (
            r.account_id, r.name, r.email, r.mobile, r.association_type, r.manager_username, r.currency,
            r.expenditure, r.refund, r.adjustment, r.tax, r.net,
        )


SUMMARY = register(
    ExportKind(
        code="expenditure_summary",
        label=_("Expenditure summary"),
        menu=menus.CUSTOMER_EXPENDITURE,
        columns=[
            Column("account_id", _("Account ID")),
            Column("customer", _("Customer"), "sensitive_name"),
            Column("email", _("Email"), "sensitive_email"),
            Column("mobile", _("Mobile"), "sensitive_mobile"),
            Column("association_type", _("Association type")),
            Column("account_manager", _("Account manager")),
            Column("currency", _("Currency")),
            Column("expenditure", _("Expenditure"), "amount"),
            Column("refund", _("Refund"), "amount"),
            Column("adjustment", _("Adjustment"), "amount"),
            Column("tax", _("Tax"), "amount"),
            Column("net", _("Net"), "amount"),
        ],
        rows=_summary_rows,
        filename_stem="expenditure-summary",
        validate=_validate_summary,
    )
)

# Columns of the customer bills export, in selectors.DETAIL_FIELDS order minus the internal id.
_DETAIL_COLUMNS = [
    Column("charge_day", _("Spent on"), "date"),
    Column("charge_period_start", _("Charge period start"), "datetime"),
    Column("charge_period_end", _("Charge period end"), "datetime"),
    Column("account_id", _("Account ID")),
    Column("customer", _("Customer"), "sensitive_name"),
    Column("association_type", _("Association type")),
    Column("partner", _("Partner")),
    Column("product", _("Product")),
    Column("service_category", _("Product category")),
    Column("service_type", _("Service type")),
    Column("region_id", _("Region")),
    Column("region_name", _("Region name")),
    Column("project", _("Project")),
    Column("billing_mode", _("Billing mode")),
    Column("order_id", _("Order ID")),
    Column("resource_id", _("Resource ID")),
    Column("resource_name", _("Resource name")),
    Column("charge_category", _("Charge category")),
    Column("classification", _("Classification")),
    Column("description", _("Description")),
    Column("currency", _("Currency")),
    Column("billed_cost", _("Billed cost"), "amount"),
    Column("list_cost", _("List cost"), "amount"),
    Column("effective_cost", _("Effective cost"), "amount"),
    Column("quantity", _("Quantity"), "amount"),
    Column("unit", _("Unit")),
    Column("is_correction", _("Correction")),
]


def _detail_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    f = selectors.DetailFilter.from_params(dict(ctx.params))
    for row in selectors.iter_details(ctx.user, f, at=ctx.at):
        yield (*row[1:27], "yes" if row[27] else "")


DETAILS = register(
    ExportKind(
        code="expenditure_details",
        label=_("Customer bills (expenditure details)"),
        menu=menus.CUSTOMER_EXPENDITURE,
        columns=_DETAIL_COLUMNS,
        rows=_detail_rows,
        filename_stem="customer-bills",
        validate=_validate_details,
    )
)
