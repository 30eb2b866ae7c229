"""Customer bill downloads (C4): one customer's bill of a month, all customers' bills of a month
in one file, and one customer's month as FOCUS 1.2 for the partner's own FinOps tools.

A download always holds every field and every line item of the month, whatever the filters and
display fields on screen: the kinds take only the customer and the month and drop any other
option they are given. They run as export tasks (the exports app) and are anonymized like every
export (X2): the customer's name is written as a pseudonym, never as itself.

Scope: the reseller line items (the association in force at charge time, as stored on the row)
of the partners the owner may view (``scoping.partner_ids_for``: a distributor also views its
second-level resellers); an account manager only the customers assigned to them
(``scoping.customers_for``). Referral line items never: those customers pay the cloud directly.
The current month holds the charges up to the day before the export was asked (C1).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.errors import NotFound, ValidationFailed
from partnercenter.exports import writers
from partnercenter.exports.registry import Column, CsvText, ExportContext, ExportKind, register
from partnercenter.partners.models import Customer, CustomerAssociation, Partner
from partnercenter.usage import selectors as usage
from partnercenter.usage.models import BillingMode, Classification, ServiceType

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
MAX_ACCOUNT_ID = 64
CHARGE_CATEGORIES = {
    "Usage": _("Usage"),
    "Purchase": _("Purchase"),
    "Tax": _("Tax"),
    "Credit": _("Credit"),
    "Adjustment": _("Adjustment"),
}


# ---- options and scope ------------------------------------------------------------------------


def _refuse(where: str, why: str) -> ValidationFailed:
    return ValidationFailed(
        gettext("The search options are not valid: %(problems)s.") % {"problems": f"{where} {why}"},
        code="invalid_params",
        details=[{"where": f"params.{where}", "why": why}],
    )


def _clean_month(value: Any) -> str:
    if value in (None, ""):
        raise _refuse("month", gettext("is required"))
    if not isinstance(value, str) or not _MONTH.fullmatch(value):
        raise _refuse("month", gettext("must be a month (YYYY-MM)"))
    return value


def _clean_customer(value: Any) -> str:
    if value in (None, ""):
        raise _refuse("customer", gettext("is required"))
    if not isinstance(value, str) or len(value) > MAX_ACCOUNT_ID:
        raise _refuse("customer", gettext("must be an account id"))
    return value.strip()


def _first_day(month: str) -> dt.date:
    return dt.date.fromisoformat(f"{month}-01")


def _scope(user: User, at: dt.datetime) -> tuple[list[int] | None, list[int] | None]:
    """The partners whose line items the user may download (None: all) and, for an account
    manager, the customers assigned to them (None: no restriction beyond the partners)."""
    partner_ids = scoping.partner_ids_for(user, scoping.Purpose.VIEW)
    if scoping.assignment_windows(user, at) is None:
        return partner_ids, None
    return partner_ids, list(scoping.customers_for(user, scoping.Purpose.VIEW, at).values_list("pk", flat=True))


def customer_in_scope(user: User, account_id: str, at: dt.datetime) -> Customer:
    """The customer whose bill the user may download, or NotFound (not theirs answers the same as
    not existing). A partner user: a customer that is or was associated with a partner in their
    view scope (a bill of a past month stays downloadable after the customer moved on); an
    account manager: a customer assigned to them."""
    partner_ids, customer_ids = _scope(user, at)
    customer = Customer.objects.filter(account_id=account_id).first()
    allowed = customer is not None and (
        (customer_ids is None or customer.pk in customer_ids)
        and (
            partner_ids is None
            or CustomerAssociation.objects.filter(customer=customer, partner_id__in=partner_ids).exists()
        )
    )
    if not allowed:
        raise NotFound(gettext("No customer with account id %(id)s.") % {"id": repr(account_id)})
    assert customer is not None
    return customer


def _validate_one(user: User, params: dict[str, Any]) -> dict[str, Any]:
    """Only the customer and the month count; screen filters and display fields are dropped."""
    month = _clean_month(params.get("month"))
    account_id = _clean_customer(params.get("customer"))
    try:
        customer_in_scope(user, account_id, clock.now())
    except NotFound:
        raise _refuse("customer", gettext("is not a customer whose bill you may download")) from None
    return {"customer": account_id, "month": month}


def _validate_all(user: User, params: dict[str, Any]) -> dict[str, Any]:
    return {"month": _clean_month(params.get("month"))}


def _selection(ctx: ExportContext) -> tuple[list[int] | None, dt.date, list[int] | None, dt.date]:
    """What a task writes: the partners and customers in scope, its month, and the day before it
    was asked (the last day it holds)."""
    partner_ids, customer_ids = _scope(ctx.user, ctx.at)
    if "customer" in ctx.params:
        customer = customer_in_scope(ctx.user, ctx.params["customer"], ctx.at)
        customer_ids = [customer.pk]
    through = clock.billing_date(ctx.at) - dt.timedelta(days=1)
    return partner_ids, _first_day(ctx.params["month"]), customer_ids, through


def line_items(ctx: ExportContext) -> Iterator[dict[str, Any]]:
    """The line items a task writes: its month up to the day before it was asked, in scope."""
    return iter(usage.customer_bill_line_items(*_selection(ctx)))


def _has_rows(ctx: ExportContext) -> bool:
    rows = line_items(ctx)
    try:
        return next(rows, None) is not None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


# ---- the bill file (CSV or XLSX) ----------------------------------------------------------------

COLUMNS = [
    Column("id", _("Line item ID"), "int"),
    Column("line_id", _("Line ID")),
    Column("charge_period_start", _("Charge period start"), "datetime"),
    Column("charge_period_end", _("Charge period end"), "datetime"),
    Column("partner", _("Partner")),
    Column("account_id", _("Account ID")),
    Column("customer", _("Customer"), "sensitive_name"),
    Column("service_type", _("Service type")),
    Column("product", _("Product")),
    Column("service_category", _("Product category")),
    Column("project", _("Project")),
    Column("region_id", _("Region")),
    Column("region_name", _("Region name")),
    Column("resource_id", _("Resource ID")),
    Column("resource_name", _("Resource name")),
    Column("billing_mode", _("Billing mode")),
    Column("order_id", _("Order ID")),
    Column("classification", _("Classification")),
    Column("charge_category", _("Charge category")),
    Column("description", _("Description")),
    Column("quantity", _("Quantity"), "amount"),
    Column("unit", _("Unit")),
    Column("list_cost", _("List cost"), "amount"),
    Column("effective_cost", _("Effective cost"), "amount"),
    Column("billed_cost", _("Billed cost"), "amount"),
    Column("currency", _("Currency")),
    Column("is_correction", _("Correction")),
]


def _labels(choices: Any) -> dict[str, str]:
    return {value: str(label) for value, label in choices}


def _bill_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    services = _labels(ServiceType.choices)
    modes = _labels(BillingMode.choices)
    classes = _labels(Classification.choices)
    categories = _labels(CHARGE_CATEGORIES.items())
    yes = gettext("Yes")
    for r in line_items(ctx):
        service_type, mode, cls, category = (
            r["service_type"],
            r["x_billing_mode"],
            r["classification"],
            r["charge_category"],
        )
        yield (
            r["id"],
            r["x_line_id"],
            r["charge_period_start"],
            r["charge_period_end"],
            r["partner__code"],
            r["customer__account_id"],
            r["customer__name"],
            services.get(service_type, service_type),
            r["service_name"],
            r["service_category"],
            r["x_project"],
            r["region_id"],
            r["region_name"],
            r["resource_id"],
            r["resource_name"],
            modes.get(mode, mode),
            r["x_order_id"],
            classes.get(cls, cls),
            categories.get(category, category),
            r["charge_description"],
            r["pricing_quantity"],
            r["pricing_unit"],
            r["list_cost"],
            r["effective_cost"],
            r["billed_cost"],
            r["billing_currency"],
            yes if r["is_correction"] else "",
        )


# ---- the bill file as CSV, from rows already as text ---------------------------------------------

# The columns that hold free text from the data, neutralised by the writer; every other cell of
# :func:`_bill_csv_rows` is made final here (labels, the partner and customer cells once each).
FREE_TEXT = frozenset(
    {
        "line_id", "product", "service_category", "project", "region_id", "region_name", "resource_id",
        "resource_name", "order_id", "description", "unit", "currency",
    }
)  # fmt: skip
_MEMO_LIMIT = 20_000


class _Memo(dict[Any, Any]):
    """Cells computed once per value (bounded: cleared when full)."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> Any:
        if len(self) >= _MEMO_LIMIT:
            self.clear()
        value = self[key] = self.make(key)
        return value


def _cells(partner_ids: list[int] | None, customer_ids: list[int] | None) -> tuple[_Memo, _Memo, Callable[[str], str]]:
    """The partner cell per partner id, the (account id, anonymized name) cells per customer id —
    the customers in scope read at once — and the timestamp cell of a stored instant's text: as
    the shared CSV converters write them."""
    cell = {c.key: convert for c, convert in zip(COLUMNS, writers.csv_converters(COLUMNS), strict=True)}
    account, name, when = cell["account_id"], cell["customer"], cell["charge_period_start"]

    def partner(pk: int) -> str:
        return cell["partner"](Partner.objects.values_list("code", flat=True).get(pk=pk))

    def customer(pk: int) -> tuple[str, str]:
        row = Customer.objects.values_list("account_id", "name").get(pk=pk)
        return account(row[0]), name(row[1])

    customers = _Memo(customer)
    known = Customer.objects.all()
    if customer_ids is not None:
        known = known.filter(pk__in=customer_ids)
    elif partner_ids is not None:
        known = known.filter(associations__partner_id__in=partner_ids).distinct()
    for pk, account_id, customer_name in known.values_list("pk", "account_id", "name"):
        customers[pk] = (account(account_id), name(customer_name))
    times = _Memo(lambda text: when(usage.instant_from_text(text)))
    return _Memo(partner), customers, times.__getitem__


def _label_cells(choices: Any, convert: Callable[[Any], str]) -> _Memo:
    memo = _Memo(convert)  # a value without a label is written as it is
    memo.update({value: convert(label) for value, label in _labels(choices).items()})
    return memo


def _bill_csv_rows(ctx: ExportContext) -> Iterator[list[Any]]:
    """The rows of :func:`_bill_rows` as the CSV file's text: the same file, about twice as fast."""
    partner_ids, month, customer_ids, through = _selection(ctx)
    partners, customers, time = _cells(partner_ids, customer_ids)
    text = writers.csv_converters([Column("text", "")])[0]
    services = _label_cells(ServiceType.choices, text)
    modes = _label_cells(BillingMode.choices, text)
    classes = _label_cells(Classification.choices, text)
    categories = _label_cells(CHARGE_CATEGORIES.items(), text)
    yes = text(gettext("Yes"))
    for (
        pk, line_id, start, end, partner_id, customer_id, service_type, product, category, project, region,
        region_name, resource_id, resource_name, mode, order_id, cls, charge_category, description,
        quantity, unit, list_cost, effective_cost, billed_cost, currency, correction,
    ) in usage.customer_bill_rows(partner_ids, month, customer_ids, through):  # fmt: skip
        account_id, name = customers[customer_id]
        yield [
            str(pk), line_id, time(start), time(end), partners[partner_id], account_id, name,
            services[service_type], product, category, project, region, region_name, resource_id,
            resource_name, modes[mode], order_id, classes[cls], categories[charge_category], description,
            quantity, unit, list_cost, effective_cost, billed_cost, currency, yes if correction else "",
        ]  # fmt: skip


CSV_TEXT = CsvText(rows=_bill_csv_rows, free_text=FREE_TEXT)

CUSTOMER_BILL = register(
    ExportKind(
        code="customer_bill",
        label=_("Customer bill"),
        menu=menus.CUSTOMER_BILLS,
        columns=COLUMNS,
        rows=_bill_rows,
        filename_stem="customer-bill",
        validate=_validate_one,
        sheet_title=_("Customer bill"),
        has_rows=_has_rows,
        csv_text=CSV_TEXT,
    )
)

ALL_CUSTOMER_BILLS = register(
    ExportKind(
        code="customer_bills_all",
        label=_("All customer bills"),
        menu=menus.CUSTOMER_BILLS,
        columns=COLUMNS,
        rows=_bill_rows,
        filename_stem="customer-bills",
        validate=_validate_all,
        sheet_title=_("Customer bills"),
        has_rows=_has_rows,
        csv_text=CSV_TEXT,
    )
)


# ---- FOCUS 1.2 ----------------------------------------------------------------------------------

# The FOCUS 1.2 columns, in the order of a provider's cost-and-usage export (the shared FOCUS
# sample), then our x_ columns. Headers are FOCUS names, never translated.
FOCUS_COLUMNS = (
    "ProviderName", "PublisherName", "InvoiceIssuerName", "InvoiceId", "BillingAccountId",
    "BillingAccountName", "BillingAccountType", "SubAccountId", "SubAccountName", "SubAccountType",
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "BilledCost", "EffectiveCost", "ListCost",
    "ContractedCost", "ListUnitPrice", "ContractedUnitPrice", "PricingCategory", "PricingQuantity",
    "PricingUnit", "PricingCurrency", "PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice", "BillingCurrency", "ConsumedQuantity", "ConsumedUnit", "ServiceName",
    "ServiceCategory", "ServiceSubcategory", "SkuId", "SkuMeter", "SkuPriceId", "SkuPriceDetails",
    "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName", "AvailabilityZone",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountCategory", "CommitmentDiscountType",
    "CommitmentDiscountStatus", "CommitmentDiscountQuantity", "CommitmentDiscountUnit", "CapacityReservationId",
    "CapacityReservationStatus", "Tags",
    "x_Project", "x_BillingMode", "x_ServiceType", "x_OrderId", "x_LineId",
)  # fmt: skip
_FOCUS_KINDS = {
    "SubAccountName": "sensitive_name",
    "BilledCost": "amount",
    "EffectiveCost": "amount",
    "ListCost": "amount",
    "PricingQuantity": "amount",
}
FOCUS = [Column(name, name, _FOCUS_KINDS.get(name, "text")) for name in FOCUS_COLUMNS]  # type: ignore[arg-type]


def utc_text(instant: dt.datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, as FOCUS writes date-times: ``2026-03-01T16:00:00Z``."""
    return instant.astimezone(dt.UTC).replace(tzinfo=None).isoformat() + "Z"


def _focus_values(r: dict[str, Any], period: tuple[str, str]) -> dict[str, Any]:
    billed: Decimal = r["billed_cost"]
    return {
        "ProviderName": r["provider_name"],
        "PublisherName": r["publisher_name"],
        "InvoiceIssuerName": r["partner__name"],
        "BillingAccountId": r["partner__code"],
        "BillingAccountName": r["partner__name"],
        "SubAccountId": r["customer__account_id"],
        "SubAccountName": r["customer__name"],
        "SubAccountType": "Customer",
        "BillingPeriodStart": period[0],
        "BillingPeriodEnd": period[1],
        "ChargePeriodStart": utc_text(r["charge_period_start"]),
        "ChargePeriodEnd": utc_text(r["charge_period_end"]),
        "ChargeCategory": r["charge_category"],
        "ChargeClass": r["charge_class"],
        "ChargeDescription": r["charge_description"],
        "ChargeFrequency": r["charge_frequency"],
        "BilledCost": billed,
        "EffectiveCost": billed if r["effective_cost"] is None else r["effective_cost"],
        "ListCost": r["list_cost"],
        "PricingCategory": r["pricing_category"],
        "PricingQuantity": r["pricing_quantity"],
        "PricingUnit": r["pricing_unit"],
        "BillingCurrency": r["billing_currency"],
        "ServiceName": r["service_name"],
        "ServiceCategory": r["service_category"],
        "SkuId": r["sku_id"],
        "ResourceId": r["resource_id"],
        "ResourceName": r["resource_name"],
        "ResourceType": r["resource_type"],
        "RegionId": r["region_id"],
        "RegionName": r["region_name"],
        "x_Project": r["x_project"],
        "x_BillingMode": r["x_billing_mode"],
        "x_ServiceType": r["service_type"],
        "x_OrderId": r["x_order_id"],
        "x_LineId": r["x_line_id"],
    }


def _focus_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    first = _first_day(ctx.params["month"])
    after = (first + dt.timedelta(days=32)).replace(day=1)
    period = (utc_text(clock.start_of_day(first)), utc_text(clock.start_of_day(after)))
    for r in line_items(ctx):
        values = _focus_values(r, period)
        yield [values.get(name, "") for name in FOCUS_COLUMNS]


CUSTOMER_BILL_FOCUS = register(
    ExportKind(
        code="customer_bill_focus",
        label=_("Customer bill (FOCUS 1.2)"),
        menu=menus.CUSTOMER_BILLS,
        columns=FOCUS,
        rows=_focus_rows,
        filename_stem="customer-bill-focus",
        validate=_validate_one,
        has_rows=_has_rows,
        formats=("csv",),
    )
)
