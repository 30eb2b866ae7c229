"""PDF documents of a partner bill (B6, B8, X3): the invoice and the bill itself.

Drawn with WeasyPrint from the Django templates in ``billing/templates/billing/pdf/``, in the
active language (the request's, or the export task's). Text is set in Debian's Noto Sans CJK
(``fonts-noto-cjk``), found through fontconfig and embedded as a subset, so Chinese and English
names both render and can be extracted as text. Nothing is fetched while rendering: the documents
have no external resources, and the URL fetcher refuses any URL all the same.

**Rounding.** Stored figures keep their full precision. Each amount printed is rounded once, from
its exact value, to the currency's minor unit with ``core/money.round_minor`` (half-up): the bill's
figures from the bill, a product's or a customer's amount from the exact sum of its lines. So the
printed rows of a breakdown may differ from the printed total by the rounding of each row; the
total is the bill's own amount, never a sum of rounded rows.

**Customers** are anonymized exactly like the spreadsheet exports (X2, ``core/masking.anonymize``):
the same pseudonym as the bill details export, next to the customer's account id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NoReturn

from django.db.models import Sum
from django.template.loader import render_to_string
from django.utils.translation import gettext as _

from partnercenter.core import clock, masking, money
from partnercenter.core.errors import NotFound
from partnercenter.core.money import ExactSum

from . import selectors
from .models import Bill, Invoice


class ExternalResourceRefused(Exception):
    pass


def _refuse_fetch(url: str, *args: Any, **kwargs: Any) -> NoReturn:
    raise ExternalResourceRefused(f"a bill document loads nothing from outside ({url})")


def shown(value: Decimal, currency: str) -> str:
    """An amount as printed: rounded once to the currency's minor unit (half-up), grouped."""
    return f"{money.round_minor(value, currency):,}"


@dataclass(frozen=True)
class Row:
    """One printed row of a breakdown: its exact amount, and that amount as printed."""

    label: str
    detail: str
    amount: Decimal
    line_item_count: int
    amount_text: str


def product_rows(bill: Bill) -> list[Row]:
    """The bill by product as the console shows it (B7, :func:`.selectors.by_product`): each cloud
    and marketplace product's expenditure, then refunds, adjustments, tax and carried corrections
    under "Others". The rows add up to the bill's amount."""
    split = selectors.by_product(bill)
    areas = ((split.cloud, _("Cloud service")), (split.marketplace, _("Marketplace")))
    rows = [_row(p.label, str(area), p.amount, p.line_item_count, bill) for group, area in areas for p in group]
    rows += [_row(o.label, str(_("Others")), o.amount, o.line_item_count, bill) for o in split.others]
    return rows


def _row(label: str, detail: str, amount: Decimal, items: int, bill: Bill) -> Row:
    return Row(
        label=label, detail=detail, amount=amount, line_item_count=items, amount_text=shown(amount, bill.currency)
    )


def customer_rows(bill: Bill) -> list[Row]:
    """The bill's lines by customer: account id and the customer's anonymized name (X2)."""
    grouped = (
        bill.lines.values("customer__account_id", "customer__name")
        .annotate(total=ExactSum("amount"), items=Sum("line_item_count"))
        .order_by("customer__account_id")
    )
    return [
        Row(
            label=g["customer__account_id"],
            detail=masking.anonymize(g["customer__name"], kind="customer"),
            amount=g["total"],
            line_item_count=g["items"] or 0,
            amount_text=shown(g["total"], bill.currency),
        )
        for g in grouped
    ]


def figures(bill: Bill) -> list[tuple[str, str]]:
    """The bill's figures (B5) as printed, in order: (label key, amount text)."""
    return [
        ("expenditure", shown(bill.expenditure, bill.currency)),
        ("refund", shown(bill.refund, bill.currency)),
        ("adjustment", shown(bill.adjustment, bill.currency)),
        ("tax", shown(bill.tax, bill.currency)),
        ("amount", shown(bill.amount, bill.currency)),
    ]


def _context(bill: Bill) -> dict[str, Any]:
    return {
        "bill": bill,
        "partner": bill.partner,
        "figures": dict(figures(bill)),
        "products": product_rows(bill),
        "generated_on": clock.billing_date(bill.generated_at),
        "billing_tz": clock.billing_tz(),
    }


def _pdf(template: str, context: dict[str, Any]) -> bytes:
    # Imported here: WeasyPrint loads pango when imported, which only the documents need.
    from weasyprint import HTML

    html = render_to_string(template, context)
    return bytes(HTML(string=html, base_url=None, url_fetcher=_refuse_fetch).write_pdf())


def invoice_of(bill: Bill) -> Invoice:
    """The bill's invoice; NotFound when it has none (its amount is not positive, B6)."""
    invoice = Invoice.objects.filter(bill=bill).first()
    if invoice is None:
        raise NotFound("This bill has no invoice: its amount is not positive.", code="no_invoice")
    return invoice


def render_invoice(bill: Bill) -> bytes:
    """The invoice of ``bill`` as a PDF: issuer, number, issue date, the partner, the billed month,
    the bill's figures and its lines by product."""
    invoice = invoice_of(bill)
    context = _context(bill)
    context.update(invoice=invoice, issued_on=clock.billing_date(invoice.issued_at))
    return _pdf("billing/pdf/invoice.html", context)


def render_bill(bill: Bill) -> bytes:
    """The bill as a PDF: its figures, by product and by customer (customers anonymized)."""
    context = _context(bill)
    context.update(
        invoice=Invoice.objects.filter(bill=bill).first(),
        customers=customer_rows(bill),
    )
    return _pdf("billing/pdf/bill.html", context)
