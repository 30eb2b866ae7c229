"""Console page "Adjustment Records" (E8, C7): the credit ledger of the customers in scope,
searched by customer, kind and days, exported as an export task, and the partner admin's form to
grant or reclaim credit. Thin: reads from :mod:`.selectors`, writes through :mod:`.services`."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.billing.payment_services import shown
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError, NotFound, ValidationFailed

from . import selectors as sel
from . import services as svc
from .models import CreditKind

PAGE_SIZE = 20


def _day(value: str, label: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed(_("%(field)s: must be a date (YYYY-MM-DD).") % {"field": label}) from None


def _filters(request: HttpRequest) -> dict[str, Any]:
    """The search options of the query string (ValidationFailed naming a bad one)."""
    get = request.GET
    kind = get.get("kind") or None
    if kind and kind not in CreditKind.values:
        raise ValidationFailed(_("Kind: must be one of the listed kinds."))
    start, end = _day(get.get("start", ""), _("From")), _day(get.get("end", ""), _("To"))
    if start and end and start > end:
        raise ValidationFailed(_("From: must not be after To."))
    return {"customer": (get.get("customer") or "").strip()[:64] or None, "kind": kind, "start": start, "end": end}


def _context(request: HttpRequest, error: str | None = None, form_error: DomainError | None = None) -> dict[str, Any]:
    user = current_user(request)
    try:
        filters = _filters(request)
    except ValidationFailed as e:
        filters, error = {}, e.message
    page = Paginator(sel.adjustment_records(user, **filters), PAGE_SIZE).get_page(request.GET.get("page"))
    return {
        "page": page,
        "kinds": CreditKind.choices,
        "values": request.GET,
        "error": error,
        "may_adjust": user.is_partner_admin,
        "form_values": request.POST,
        "form_error": form_error,
        "form_key": uuid.uuid4().hex,
        "pager_query": urlencode({k: str(v) for k, v in request.GET.items() if k != "page" and v}),
    }


def _adjust(request: HttpRequest) -> str:
    user = current_user(request)
    post = request.POST
    customer = sel.customer_for(user, (post.get("customer") or "").strip()[:64], scoping.Purpose.ACT)
    write = svc.reclaim_credit if post.get("operation") == "reclaim" else svc.grant_credit
    assert user.partner is not None
    entry = write(
        actor=user,
        partner=user.partner,
        customer=customer,
        currency=post.get("currency", ""),
        amount=post.get("amount", ""),
        remark=post.get("remark", ""),
        idempotency_key=f"form:{post.get('form_key', '')}" if post.get("form_key") else "",
    )
    label = _("Credit granted") if entry.kind == CreditKind.GRANT else _("Credit reclaimed")
    return _("%(what)s: %(amount)s %(currency)s; available credit %(available)s %(currency)s.") % {
        "what": label,
        "amount": shown(entry.amount, entry.currency),
        "currency": entry.currency,
        "available": shown(entry.available_after, entry.currency),
    }


@menu_required(menus.CUSTOMER_MANAGEMENT)
def adjustments(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        if not current_user(request).is_partner_admin:
            return render(
                request, "403.html", {"message": _("Only the partner's admin grants or reclaims credit.")}, status=403
            )
        try:
            done = _adjust(request)
        except NotFound:
            error = ValidationFailed(_("Customer: no such customer of your partner; nothing was changed."))
            return render(request, "customer_bills/adjustments.html", _context(request, form_error=error), status=400)
        except DomainError as e:
            status = e.status if e.status in (403, 409) else 400
            return render(request, "customer_bills/adjustments.html", _context(request, form_error=e), status=status)
        messages.success(request, done)
        return redirect(request.get_full_path())
    context = _context(request)
    return render(request, "customer_bills/adjustments.html", context, status=400 if context["error"] else 200)
