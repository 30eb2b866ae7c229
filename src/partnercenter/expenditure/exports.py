"""Export kinds of customer expenditure (E7): the summary and the customer bills (details).

Enumerated values (association type, service type, billing mode, charge category,
classification) are written as their labels in the language of the task, like the headers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pyarrow as pa
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.exports import fast
from partnercenter.exports.registry import Column, ExportContext, ExportKind, Param, fixed, register
from partnercenter.partners.models import AssociationType
from partnercenter.partners.selectors import account_managers
from partnercenter.usage.models import BillingMode, Classification, ServiceType

from . import selectors

# FOCUS ChargeCategory values as they are stored, with their labels.
CHARGE_CATEGORIES = [
    ("Usage", _("Usage")),
    ("Purchase", _("Purchase")),
    ("Tax", _("Tax")),
    ("Credit", _("Credit")),
    ("Adjustment", _("Adjustment")),
]


def _labels(choices: Sequence[tuple[str, Any]]) -> dict[str, str]:
    """Value → label in the active language (the task's, when the worker writes the file)."""
    return {value: str(label) for value, label in choices}


def _manager_choices(user: User) -> dict[int, str]:
    return {u.pk: u.username for u in account_managers(user)}


def _manager_text(pk: Any) -> str:
    u = User.objects.filter(pk=pk).only("username", "first_name", "last_name").first()
    if u is None:
        return str(pk)
    return f"{u.get_full_name()} ({u.username})" if u.get_full_name() else u.username


PERIOD = [
    Param("start", _("Spent on"), "date", not_after="end"),
    Param("end", _("Spent on (to)"), "date"),
]
_SORTS = [(s, s) for s in selectors.SUMMARY_SORTS] + [(f"-{s}", f"-{s}") for s in selectors.SUMMARY_SORTS]
SUMMARY_PARAMS = [
    *PERIOD,
    Param("name", _("Customer name"), max_length=200),
    Param("manager_id", _("Account manager"), "int", choices=_manager_choices, describe=_manager_text),
    Param("association_type", _("Association type"), "choice", choices=fixed(AssociationType.choices)),
    Param("sort", _("Sort"), "choice", choices=fixed(_SORTS), shown=False),
]
DETAIL_PARAMS = [
    Param("account_id", _("Account ID"), max_length=64),
    *PERIOD,
    Param("product", _("Product"), max_length=200),
    Param("service_type", _("Service type"), "choice", choices=fixed(ServiceType.choices)),
    Param("region_id", _("Region"), max_length=64),
    Param("billing_mode", _("Billing mode"), "choice", choices=fixed(BillingMode.choices)),
    Param("classification", _("Classification"), "choice", choices=fixed(Classification.choices)),
    Param("order_id", _("Order ID"), max_length=128),
    Param("resource_id", _("Resource ID"), max_length=512),
    Param("project", _("Project"), max_length=100),
]


def _with_period(f: Any) -> Any:
    """The filter with its period made explicit (this month by default), so that the task
    records, and the history shows, exactly which days it exports."""
    first, today = selectors.default_period(clock.now())
    return dataclasses.replace(f, start=f.start or first, end=f.end or today)


def _validate_summary(user: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _with_period(selectors.SummaryFilter.from_params(params)).as_params()  # type: ignore[no-any-return]


def _validate_details(user: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _with_period(selectors.DetailFilter.from_params(params)).as_params()  # type: ignore[no-any-return]


def _summary_has_rows(ctx: ExportContext) -> bool:
    f = selectors.SummaryFilter.from_params(dict(ctx.params))
    return selectors.summary(ctx.user, f, limit=0, at=ctx.at).total > 0


def _details_have_rows(ctx: ExportContext) -> bool:
    qs, _period = selectors.details_queryset(ctx.user, selectors.DetailFilter.from_params(dict(ctx.params)), ctx.at)
    return qs.exists()


def _summary_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    f = selectors.SummaryFilter.from_params(dict(ctx.params))
    association = _labels(AssociationType.choices)
    for r in selectors.iter_summary(ctx.user, f, at=ctx.at):
        yield (
            r.account_id,
            r.name,
            r.email,
            r.mobile,
            association.get(r.association_type, r.association_type),
            r.manager_username,
            r.currency,
            r.expenditure,
            r.refund,
            r.adjustment,
            r.tax,
            r.net,
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
        params=SUMMARY_PARAMS,
        sheet_title=_("Expenditure summary"),
        has_rows=_summary_has_rows,
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


# Positions in selectors.DETAIL_FIELDS of the enumerated values and their labels.
_DETAIL_ENUMS = (
    (6, AssociationType.choices),
    (10, ServiceType.choices),
    (14, BillingMode.choices),
    (18, CHARGE_CATEGORIES),
    (19, Classification.choices),
)


def _detail_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    f = selectors.DetailFilter.from_params(dict(ctx.params))
    enums = [(i, _labels(choices)) for i, choices in _DETAIL_ENUMS]
    yes = gettext("Yes")
    for row in selectors.iter_details(ctx.user, f, at=ctx.at):
        values = list(row[1:27])
        for i, labels in enums:
            values[i - 1] = labels.get(values[i - 1], values[i - 1])
        values.append(yes if row[27] else "")
        yield values


def _source_kind(column: Column) -> str:
    return column.kind if column.kind in ("date", "datetime", "amount") else "text"


# The line item fields of the columns (selectors.DETAIL_FIELDS without the internal id), each read
# as text of the column's kind; the correction flag as 1/0.
_DETAIL_SOURCE = [
    *((name, _source_kind(col)) for name, col in zip(selectors.DETAIL_FIELDS[1:27], _DETAIL_COLUMNS, strict=False)),
    (selectors.DETAIL_FIELDS[27], "bool"),
]


def _label_of(labels: dict[str, str]) -> Callable[[Any], Any]:
    return lambda value: labels.get(value, value)


def _detail_batches(ctx: ExportContext) -> Iterator[pa.RecordBatch]:
    """The rows of :func:`_detail_rows` as record batches (``exports.fast``): the same scoped,
    filtered and ordered line items, read with one query."""
    f = selectors.DetailFilter.from_params(dict(ctx.params))
    qs, _period = selectors.details_queryset(ctx.user, f, ctx.at)
    query = fast.text_query(qs, _DETAIL_SOURCE)
    enums = [(i - 1, _labels(choices)) for i, choices in _DETAIL_ENUMS]
    yes = gettext("Yes")
    names = [c.key for c in _DETAIL_COLUMNS]
    for batch in fast.query_batches(query, names):
        columns = batch.columns
        for i, labels in enums:
            columns[i] = fast.map_column(columns[i], _label_of(labels))
        columns[-1] = fast.map_column(columns[-1], lambda v: yes if v in ("1", "true") else "")
        yield pa.RecordBatch.from_arrays(columns, names=names)


DETAILS = register(
    ExportKind(
        code="expenditure_details",
        label=_("Customer bills (expenditure details)"),
        menu=menus.CUSTOMER_EXPENDITURE,
        columns=_DETAIL_COLUMNS,
        rows=_detail_rows,
        filename_stem="customer-bills",
        validate=_validate_details,
        params=DETAIL_PARAMS,
        sheet_title=_("Customer bills"),
        has_rows=_details_have_rows,
        arrow=_detail_batches,
    )
)
