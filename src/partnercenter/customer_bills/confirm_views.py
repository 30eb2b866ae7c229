"""Console page "Confirm Bill and Return Credit" (C5, C6): the bills of a month with what remains
to be confirmed, a per-bill form (total or partial amount) and batch confirmation. Thin: reads
from :mod:`.selectors`, writes through :mod:`.services`."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from partnercenter.billing.payment_services import shown
from partnercenter.billing.services import due_at
from partnercenter.core import clock, menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError

from . import selectors as sel
from . import services as svc

MONTH = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")


def _query(request: HttpRequest) -> tuple[dt.date, str, str | None]:
    """The month and customer asked for (month: the latest due one by default), and a problem."""
    source = request.POST if request.method == "POST" else request.GET
    text = (source.get("month") or "").strip()
    customer = (source.get("customer") or "").strip()[:64]
    if not text:
        return sel.default_month(), customer, None
    if not MONTH.fullmatch(text):
        return sel.default_month(), customer, _("Billing month: must be a month (YYYY-MM).")
    return dt.date.fromisoformat(f"{text}-01"), customer, None


def _context(request: HttpRequest, error: DomainError | str | None = None) -> dict[str, Any]:
    user = current_user(request)
    month, customer, problem = _query(request)
    rows = sel.bills_to_confirm(user, month, customer or None)
    chosen = request.POST.get("bill") or request.GET.get("bill") or ""
    form_row = next((r for r in rows if str(r.bill.pk) == chosen and r.may_confirm and r.remaining > 0), None)
    message = error.message if isinstance(error, DomainError) else (error or problem)
    return {
        "month": month,
        "customer": customer,
        "rows": rows,
        "form_row": form_row,
        "may_batch": any(r.may_confirm and r.remaining > 0 for r in rows),
        "not_due": clock.now() < due_at(month),
        "due_at": due_at(month),
        "form_key": uuid.uuid4().hex,
        "values": request.POST,
        "error": message,
        "query": urlencode({"month": f"{month:%Y-%m}", "customer": customer}),
    }


def _confirm(request: HttpRequest) -> str:
    post = request.POST
    key = f"form:{post.get('form_key', '')}" if post.get("form_key") else ""
    user = current_user(request)
    if post.get("action") == "batch":
        confs = svc.batch_confirm(actor=user, bill_ids=post.getlist("bills"), idempotency_key=key)
        return _("Confirmed %(n)d bill(s) in full; the amounts were returned to the customers' credit.") % {
            "n": len(confs)
        }
    if post.get("mode") == "partial":
        amount: str | None = post.get("amount", "").strip()
        if not amount:
            amount = "0"  # a partial confirmation without an amount is refused as zero
    else:
        amount = None
    conf = svc.confirm(actor=user, bill_id=post.get("bill"), amount=amount, idempotency_key=key)
    return _("Confirmed %(amount)s %(currency)s; it was returned to the customer's available credit.") % {
        "amount": shown(conf.amount, conf.bill.currency),
        "currency": conf.bill.currency,
    }


@menu_required(menus.CUSTOMER_BILLS)
def confirm(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            done = _confirm(request)
        except DomainError as e:
            status = e.status if e.status in (403, 404, 409) else 400
            return render(request, "customer_bills/confirm.html", _context(request, e), status=status)
        messages.success(request, done)
        month, customer, _problem = _query(request)
        return redirect(f"{request.path}?{urlencode({'month': f'{month:%Y-%m}', 'customer': customer})}")
    context = _context(request)
    return render(request, "customer_bills/confirm.html", context, status=400 if context["error"] else 200)
