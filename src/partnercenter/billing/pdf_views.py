"""Console routes of the bill documents: the invoice and bill PDFs, the 12-month chart and the
Export Bills page (B6, B8). Behind the Partner Bills menu; a bill out of scope answers 404."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext

from partnercenter import scoping
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import NotFound

from . import chart, pdf, selectors
from .models import Bill


def _scoped(request: HttpRequest, bill_id: int) -> Bill:
    try:
        return selectors.get_bill(current_user(request), bill_id)
    except NotFound:
        raise Http404(gettext("This bill is not available.")) from None


def _pdf_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "private, no-store"
    return response


@menu_required(menus.PARTNER_BILLS)
def invoice_pdf(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = _scoped(request, bill_id)
    try:
        invoice = pdf.invoice_of(bill)
    except NotFound:
        raise Http404(gettext("This bill has no invoice: its amount is not positive.")) from None
    return _pdf_response(pdf.render_invoice(bill), f"invoice-{invoice.number}.pdf")


@menu_required(menus.PARTNER_BILLS)
def bill_pdf(request: HttpRequest, bill_id: int) -> HttpResponse:
    bill = _scoped(request, bill_id)
    return _pdf_response(pdf.render_bill(bill), f"bill-{bill.partner.code}-{bill.month:%Y-%m}-{bill.currency}.pdf")


@menu_required(menus.PARTNER_BILLS)
def chart_fragment(request: HttpRequest) -> HttpResponse:
    """The last 12 billed months of the user's partner (or of ``?partner=`` in scope), as SVG."""
    user = current_user(request)
    code = request.GET.get("partner", "")
    partner = user.partner
    if code:
        try:
            partner = scoping.get_partner(user, code)
        except NotFound:
            raise Http404(gettext("This partner is not available.")) from None
    months = chart.last_months(clock.now())
    bills = []
    if partner is not None:
        bills = list(selectors.bills_for(user).filter(partner=partner, month__gte=months[0], month__lte=months[-1]))
    context = {"partner": partner, "charts": chart.build(bills, months), "months": months}
    return render(request, "billing/_chart.html", context)


RECENT_BILLS = 24


@menu_required(menus.PARTNER_BILLS)
def export_page(request: HttpRequest) -> HttpResponse:
    """Export Bills: the bills of a range of months, or one bill's details or PDF, as export tasks
    (the form posts to ``exports:create``, which says "Export task created")."""
    from .exports import MAX_MONTHS, default_range

    user = current_user(request)
    start, end = default_range()
    context = {
        "start": start,
        "end": end,
        "max_months": MAX_MONTHS,
        "bills": list(selectors.bills_for(user).order_by("-month", "partner__code", "currency")[:RECENT_BILLS]),
        "chosen": request.GET.get("bill", ""),
        "shows_history": scoping.has_menu(user, menus.EXPORTS),
    }
    return render(request, "billing/export.html", context)
