"""Console pages of the amount due and payments (B4, B9): the Amount Due pane (an htmx fragment
of the Partner Bills page), Unpaid Bills, Payment records, Pay and third-party payment agreements.
Thin: reads from :mod:`.payment_selectors`, writes through :mod:`.payment_services`."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from partnercenter import scoping
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, forbidden, menu_required
from partnercenter.core.errors import DomainError, Forbidden, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from . import payment_selectors as sel
from . import payment_services as svc
from .models import PrincipalType

PAGE_SIZE = 20


def _partner_page(purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Callable[..., Any]:
    """Resolves the partner (``?partner=`` for operators, else the user's own) before the view;
    out of scope is the 404 page, an account manager the 403 page, an operator who named no
    partner gets a chooser."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @menu_required(menus.PARTNER_BILLS)
        def wrapper(request: HttpRequest) -> HttpResponse:
            user = current_user(request)
            code = request.GET.get("partner") or request.POST.get("partner") or None
            try:
                partner = sel.partner_for(user, code, purpose)
            except Forbidden as e:
                return forbidden(request, e.message)
            except NotFound:
                raise Http404(_("No such partner.")) from None
            except ValidationFailed:
                if request.headers.get("HX-Request") == "true":  # a pane of a page: a hint, not a page
                    return render(request, "billing/payments/_choose_partner.html")
                partners = scoping.partners_for(user, purpose).order_by("code")
                return render(request, "billing/payments/choose_partner.html", {"partners": partners})
            return view(request, partner)

        wrapper.__name__ = view.__name__
        return wrapper

    return decorator


def _base(partner: Partner, request: HttpRequest) -> dict[str, Any]:
    query = f"?partner={partner.code}" if current_user(request).partner_id != partner.pk else ""
    return {"partner": partner, "partner_query": query}


@_partner_page()
def amount_due(request: HttpRequest, partner: Partner) -> HttpResponse:
    context = {**_base(partner, request), "amount_due": sel.amount_due(partner), "balances": sel.balances(partner)}
    return render(request, "billing/payments/_amount_due.html", context)


@_partner_page()
def unpaid(request: HttpRequest, partner: Partner) -> HttpResponse:
    context = {**_base(partner, request), "rows": sel.unpaid_bills(partner), "amount_due": sel.amount_due(partner)}
    return render(request, "billing/payments/unpaid.html", context)


@_partner_page()
def payment_records(request: HttpRequest, partner: Partner) -> HttpResponse:
    page = Paginator(sel.statement(partner), PAGE_SIZE).get_page(request.GET.get("page"))
    context = {**_base(partner, request), "page": page, "balances": sel.balances(partner)}
    return render(request, "billing/payments/statement.html", context)


def _pay_context(request: HttpRequest, partner: Partner, error: DomainError | None = None) -> dict[str, Any]:
    dues = sel.unpaid_bills(partner)
    currencies = sorted({d.bill.currency for d in dues})
    return {
        **_base(partner, request),
        "dues": dues,
        "currencies": currencies,
        "balances": sel.balances(partner),
        "amount_due": sel.amount_due(partner),
        "form_key": request.POST.get("form_key") or uuid.uuid4().hex,
        "chosen_bill": request.POST.get("bill") or request.GET.get("bill") or "",
        "values": request.POST,
        "error": error,
        "error_where": {d.get("where") for d in (error.details or []) if isinstance(d, dict)} if error else set(),
    }


@_partner_page(scoping.Purpose.ACT)
def pay(request: HttpRequest, partner: Partner) -> HttpResponse:
    if request.method != "POST":
        return render(request, "billing/payments/pay.html", _pay_context(request, partner))
    post = request.POST
    try:
        payment = svc.pay_from_balance(
            actor=current_user(request),
            partner=partner,
            currency=post.get("currency") or None,
            amount=None if post.get("pay_all") else post.get("amount", ""),
            bill_id=post.get("bill") or None,
            # One key per rendered form: a double click (or a resubmitted form) pays once.
            idempotency_key=f"form:{post.get('form_key', '')}" if post.get("form_key") else "",
        )
    except DomainError as e:
        status = e.status if e.status in (404, 409) else 400
        return render(request, "billing/payments/pay.html", _pay_context(request, partner, e), status=status)
    messages.success(
        request,
        _("Paid %(amount)s %(currency)s from the prepaid balance.")
        % {"amount": svc.shown(payment.amount, payment.currency), "currency": payment.currency},
    )
    return redirect(reverse("billing:payments") + _base(partner, request)["partner_query"])


@_partner_page()
def agreements(request: HttpRequest, partner: Partner) -> HttpResponse:
    user = current_user(request)
    error: DomainError | None = None
    if request.method == "POST":
        try:
            svc.create_agreement(
                actor=user,
                partner=partner,
                principal=request.POST.get("principal", ""),
                principal_type=request.POST.get("principal_type", ""),
            )
        except DomainError as e:
            error = e
        else:
            messages.success(request, _("Agreement created; it is pending approval by the platform."))
            return redirect(request.get_full_path())
    context = {
        **_base(partner, request),
        "agreements": sel.agreements(partner),
        "may_create": user.is_partner_admin and user.partner_id == partner.pk,
        "principal_types": PrincipalType.choices,
        "values": request.POST,
        "error": error,
    }
    status = 200 if error is None else (error.status if error.status in (403, 409) else 400)
    return render(request, "billing/payments/agreements.html", context, status=status)
