"""Payout applications (I7, I8), the third tab of Incentive Management: per currency the issued
earnings to select, the negative incentives always selected, a live total, the partner's
applications, and for platform operators the applications to review. Thin: reads from
:mod:`.payout_selectors`, writes through :mod:`.payouts`."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from partnercenter import scoping
from partnercenter.accounts.models import User
from partnercenter.core import menus
from partnercenter.core.decorators import current_user, menu_required
from partnercenter.core.errors import DomainError, NotFound, ValidationFailed
from partnercenter.partners.models import Partner

from . import payout_selectors as sel
from . import payouts
from .models import ApplicationState, PayoutMethod


def _partner(user: User, code: str | None, purpose: scoping.Purpose = scoping.Purpose.VIEW) -> Partner | None:
    """The partner the page is about; ``None`` for an operator who named none (the review list)."""
    try:
        return sel.partner_for(user, code or None, purpose)
    except NotFound:
        raise Http404(_("No such partner.")) from None
    except ValidationFailed:
        return None


def _query(user: User, partner: Partner | None) -> str:
    return f"?partner={partner.code}" if partner is not None and user.partner_id != partner.pk else ""


def _may_apply(user: User, partner: Partner | None) -> bool:
    if partner is None or user.is_platform_operator:
        return False
    return partner.pk in (scoping.partner_ids_for(user, scoping.Purpose.ACT) or [])


def _choosable(user: User) -> list[Partner]:
    """The partners the user may look at, when there is a choice (operators, distributors)."""
    partners = list(scoping.partners_for(user).order_by("code"))
    return partners if len(partners) > 1 else []


def _with_state(apps: list[Any]) -> list[dict[str, Any]]:
    return [{"app": a, "state": sel.state_of(a), "label": ApplicationState(sel.state_of(a)).label} for a in apps]


def _context(request: HttpRequest, partner: Partner | None, error: DomainError | None = None) -> dict[str, Any]:
    user = current_user(request)
    groups = sel.applicable(partner) if partner is not None else []
    selected = set(request.POST.getlist("numbers"))
    return {
        "tab": "payouts",
        "partner": partner,
        "partner_query": _query(user, partner),
        "groups": [{"payout": g, "total": g.total_for(selected)} for g in groups],
        "selected": selected,
        "error_currency": request.POST.get("currency", "") if error else "",
        "may_apply": _may_apply(user, partner),
        "applications": _with_state(sel.applications(user, partner)) if partner is not None else [],
        "review": _with_state(sel.applications(user, state="submitted")) if user.is_platform_operator else [],
        "partners": _choosable(user),
        "payout_methods": PayoutMethod.choices,
        "form_key": request.POST.get("form_key") or uuid.uuid4().hex,
        "error": error,
    }


@menu_required(menus.INCENTIVE_MANAGEMENT)
def payouts_page(request: HttpRequest) -> HttpResponse:
    partner = _partner(current_user(request), request.GET.get("partner"))
    return render(request, "incentives/payouts.html", _context(request, partner))


@require_POST
@menu_required(menus.INCENTIVE_MANAGEMENT)
def apply(request: HttpRequest) -> HttpResponse:
    user = current_user(request)
    partner = _partner(user, request.POST.get("partner"), scoping.Purpose.ACT)
    if partner is None:
        raise Http404(_("No such partner."))
    post = request.POST
    try:
        app = payouts.apply(
            actor=user,
            partner=partner,
            currency=post.get("currency", ""),
            # Disabled checkboxes (the negatives) are not sent; the service adds them anyway.
            numbers=post.getlist("numbers"),
            # One key per rendered form: a double click applies once.
            idempotency_key=f"form:{post['form_key']}" if post.get("form_key") else "",
        )
    except DomainError as e:
        return render(request, "incentives/payouts.html", _context(request, partner, e), status=e.status)
    messages.success(
        request,
        _("Payout application %(number)s submitted for %(amount)s %(currency)s; it is under review.")
        % {
            "number": app.number,
            "amount": payouts.payment_services.shown(app.amount, app.currency),
            "currency": app.currency,
        },
    )
    return redirect(reverse("incentives:payouts") + _query(user, partner))


def _detail_context(request: HttpRequest, number: str, error: DomainError | None = None) -> dict[str, Any]:
    user = current_user(request)
    try:
        app = sel.application(user, number)
    except NotFound:
        raise Http404(_("No such payout application.")) from None
    state = sel.state_of(app)
    return {
        "tab": "payouts",
        "app": app,
        "state": state,
        "state_label": ApplicationState(state).label,
        "decision": getattr(app, "decision", None),
        "items": sel.items(app),
        "may_decide": user.is_platform_operator and state == ApplicationState.SUBMITTED,
        "payout_methods": PayoutMethod.choices,
        "partner_query": _query(user, app.partner),
        "error": error,
    }


@menu_required(menus.INCENTIVE_MANAGEMENT)
def detail(request: HttpRequest, number: str) -> HttpResponse:
    return render(request, "incentives/payout_detail.html", _detail_context(request, number))


@require_POST
@menu_required(menus.INCENTIVE_MANAGEMENT)
def decide(request: HttpRequest, number: str) -> HttpResponse:
    user = current_user(request)
    _detail_context(request, number)  # out of scope is 404 before anything else
    try:
        decision = payouts.decide(
            actor=user,
            number=number,
            state=request.POST.get("state", ""),
            payout_method=request.POST.get("payout_method", ""),
            remark=request.POST.get("remark", ""),
        )
    except DomainError as e:
        context = _detail_context(request, number, e)
        return render(request, "incentives/payout_detail.html", context, status=e.status)
    label = ApplicationState(decision.state).label
    messages.success(request, _("Payout application %(number)s: %(state)s.") % {"number": number, "state": label})
    target = request.POST.get("next") == "list"
    return redirect(reverse("incentives:payouts") if target else reverse("incentives:payout_detail", args=[number]))


urlpatterns = [
    path("payouts/", payouts_page, name="payouts"),
    path("payouts/apply/", apply, name="payout_apply"),
    path("payouts/<str:number>/", detail, name="payout_detail"),
    path("payouts/<str:number>/decide/", decide, name="payout_decide"),
]
