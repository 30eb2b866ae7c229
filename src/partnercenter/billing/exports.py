"""Export kinds of partner bills (B8): the bills over a range of months, one bill's details, and
one bill as PDF. Behind the Partner Bills menu; the bills a user may export are those of
``selectors.bills_for``.

Amounts are the stored exact figures (never rounded); the customer is anonymized (X2);
enumerated values are labels in the task's language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from partnercenter.accounts.models import User
from partnercenter.core import clock, menus
from partnercenter.core.errors import NotFound
from partnercenter.exports.registry import Column, ExportContext, ExportKind, Param, invalid_params, register
from partnercenter.usage.models import Classification, ServiceType

from . import pdf, selectors
from .models import Bill, Invoice

MAX_MONTHS = 12


def _month(text: str) -> dt.date:
    return dt.date.fromisoformat(f"{text}-01")


def _months_between(start: dt.date, end: dt.date) -> int:
    """How many months ``start`` … ``end`` covers, both included."""
    return (end.year - start.year) * 12 + end.month - start.month + 1


def default_range() -> tuple[str, str]:
    """The last 12 billed months: the month before the current one and the 11 before it."""
    first = clock.billing_date(clock.now()).replace(day=1)
    end = first - dt.timedelta(days=1)
    index = end.year * 12 + end.month - 1 - (MAX_MONTHS - 1)
    return f"{index // 12:04d}-{index % 12 + 1:02d}", f"{end:%Y-%m}"


def _validate_range(user: User, params: dict[str, Any]) -> dict[str, Any]:
    start, end = params.get("start") or "", params.get("end") or ""
    if not start and not end:
        start, end = default_range()
    start, end = start or end, end or start
    if _months_between(_month(start), _month(end)) > MAX_MONTHS:
        why = gettext("must be at most %(n)d months after the first month") % {"n": MAX_MONTHS - 1}
        raise invalid_params(
            gettext("Bills can be exported for at most %(n)d months at a time.") % {"n": MAX_MONTHS}, "end", why
        )
    return {"start": start, "end": end}


def _bills_in_range(ctx: ExportContext) -> Any:
    return selectors.bills_for(ctx.user).filter(
        month__gte=_month(ctx.params["start"]), month__lte=_month(ctx.params["end"])
    )


def _bill_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    bills = _bills_in_range(ctx).order_by("month", "partner__code", "currency")
    numbers = dict(Invoice.objects.filter(bill__in=bills).values_list("bill_id", "number"))
    for b in bills.iterator(chunk_size=2000):
        yield (
            b.partner.code,
            b.partner.name,
            f"{b.month:%Y-%m}",
            b.currency,
            b.expenditure,
            b.refund,
            b.adjustment,
            b.tax,
            b.amount,
            numbers.get(b.pk, ""),
            b.line_item_count,
        )


BILLS = register(
    ExportKind(
        code="partner_bills",
        label=_("Partner bills"),
        menu=menus.PARTNER_BILLS,
        columns=[
            Column("partner_code", _("Partner code")),
            Column("partner", _("Partner")),
            Column("month", _("Billed month")),
            Column("currency", _("Currency")),
            Column("expenditure", _("Expenditures"), "amount"),
            Column("refund", _("Refunds"), "amount"),
            Column("adjustment", _("Adjustments"), "amount"),
            Column("tax", _("Tax"), "amount"),
            Column("amount", _("Bill amount"), "amount"),
            Column("invoice", _("Invoice number")),
            Column("line_items", _("Line items"), "int"),
        ],
        rows=_bill_rows,
        filename_stem="partner-bills",
        validate=_validate_range,
        params=[
            Param("start", _("Billed months"), "month", not_after="end"),
            Param("end", _("Billed months (to)"), "month"),
        ],
        sheet_title=_("Partner bills"),
        has_rows=lambda ctx: _bills_in_range(ctx).exists(),
    )
)


# ---- one bill ---------------------------------------------------------------------------------


def pdf_bill(user: User, bill_id: Any) -> Bill:
    """The bill of a task's options, in the owner's scope (NotFound when it is not, or no longer)."""
    return selectors.get_bill(user, int(bill_id))


def _validate_bill(user: User, params: dict[str, Any]) -> dict[str, Any]:
    if params.get("bill") is None:
        raise invalid_params(
            gettext("The search options are not valid: bill is required."), "bill", gettext("is required")
        )
    try:
        pdf_bill(user, params["bill"])
    except NotFound:
        raise invalid_params(
            gettext("The search options are not valid: bill is not a bill you may export."),
            "bill",
            gettext("is not a bill you may export"),
        ) from None
    return {"bill": params["bill"]}


def _describe_bill(bill_id: Any) -> str:
    bill = Bill.objects.select_related("partner").filter(pk=bill_id).first()
    return str(bill_id) if bill is None else f"{bill.partner.code} {bill.month:%Y-%m} {bill.currency}"


BILL_PARAMS = [Param("bill", _("Bill"), "int", describe=_describe_bill)]


def _detail_rows(ctx: ExportContext) -> Iterator[Sequence[Any]]:
    bill = pdf_bill(ctx.user, ctx.params["bill"])
    services = {value: str(label) for value, label in ServiceType.choices}
    classes = {value: str(label) for value, label in Classification.choices}
    lines = bill.lines.select_related("customer").order_by("corrects_month", "customer__account_id", "pk")
    for line in lines.iterator(chunk_size=2000):
        yield (
            f"{bill.month:%Y-%m}",
            bill.currency,
            line.customer.account_id,
            line.customer.name,
            line.service_name,
            services.get(line.service_type, line.service_type),
            line.region_id,
            classes.get(line.classification, line.classification),
            line.amount,
            line.line_item_count,
            f"{line.corrects_month:%Y-%m}" if line.corrects_month else "",
        )


DETAILS = register(
    ExportKind(
        code="partner_bill_details",
        label=_("Partner bill details"),
        menu=menus.PARTNER_BILLS,
        columns=[
            Column("month", _("Billed month")),
            Column("currency", _("Currency")),
            Column("account_id", _("Account ID")),
            Column("customer", _("Customer"), "sensitive_name"),
            Column("product", _("Product")),
            Column("service_type", _("Service type")),
            Column("region_id", _("Region")),
            Column("classification", _("Classification")),
            Column("amount", _("Amount"), "amount"),
            Column("line_items", _("Line items"), "int"),
            Column("corrects_month", _("Corrected month")),
        ],
        rows=_detail_rows,
        filename_stem="partner-bill-details",
        validate=_validate_bill,
        params=BILL_PARAMS,
        sheet_title=_("Bill details"),
        has_rows=lambda ctx: pdf_bill(ctx.user, ctx.params["bill"]).lines.exists(),
    )
)


def _bill_document(ctx: ExportContext) -> bytes:
    return pdf.render_bill(pdf_bill(ctx.user, ctx.params["bill"]))


BILL_PDF = register(
    ExportKind(
        code="partner_bill_pdf",
        label=_("Partner bill (PDF)"),
        menu=menus.PARTNER_BILLS,
        columns=[Column("bill", _("Bill"))],
        rows=lambda ctx: iter(()),
        filename_stem="partner-bill",
        validate=_validate_bill,
        params=BILL_PARAMS,
        formats=("pdf",),
        document=_bill_document,
    )
)
